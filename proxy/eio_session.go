package proxy

import (
	"container/list"
	"sync"

	"github.com/frametap/frametap/decode"
)

// maxEIOSessions bounds the Engine.IO sessions the proxy follows at once.
// A session is a few hundred bytes (its sid and the pairing state of its
// binary attachments), so the table stays under a megabyte.
const maxEIOSessions = 4096

// eioSessions ties the transports of one Engine.IO session together across
// connections, by sid: its polling requests and responses (sid in the
// query, or the open packet that names it) and its WebSocket (sid in the
// upgrade's query). What the table keeps is what must follow a session from
// one transport to the next: the pairing of each side's binary packets
// with their attachments (decode.SIOStream), which can begin in a polling
// body and end on the WebSocket.
//
// It is bounded: at most maxEIOSessions sessions; adding one more evicts
// the session used least recently. A session leaves the table when a close
// packet is seen either way, or when its WebSocket ends. An evicted
// session that comes back is followed anew: its events carry the same sid,
// and a binary packet whose attachments were in flight is reported as
// such.
//
// Its lock is taken once per Engine.IO body or WebSocket message, never
// on the relay's plain path. It is safe for concurrent use.
type eioSessions struct {
	mu  sync.Mutex
	m   map[string]*list.Element // of *eioSession
	lru list.List                // most recently used first
	max int
}

// eioSession is one Engine.IO session.
type eioSession struct {
	sid string
	// mu guards sio: the connections of a session (a long-poll, a POST,
	// the WebSocket) may decode its packets at the same time.
	mu  sync.Mutex
	sio [2]decode.SIOStream // indexed by the side that sends
}

func newEIOSessions(max int) *eioSessions {
	return &eioSessions{m: make(map[string]*list.Element), max: max}
}

// get returns the session sid, adding it when it is new.
func (t *eioSessions) get(sid string) *eioSession {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.m[sid]; ok {
		t.lru.MoveToFront(el)
		return el.Value.(*eioSession)
	}
	if t.lru.Len() >= t.max {
		old := t.lru.Back()
		t.lru.Remove(old)
		delete(t.m, old.Value.(*eioSession).sid)
	}
	s := &eioSession{sid: sid}
	t.m[sid] = t.lru.PushFront(s)
	return s
}

// end forgets the session sid.
func (t *eioSessions) end(sid string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if el, ok := t.m[sid]; ok {
		t.lru.Remove(el)
		delete(t.m, sid)
	}
}

// len returns how many sessions the table holds.
func (t *eioSessions) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.lru.Len()
}
