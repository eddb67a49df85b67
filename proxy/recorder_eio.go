package proxy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/coding"
	"github.com/frametap/frametap/decode"
)

// This file is the recorder's side of Socket.IO (issue 10): it recognises
// Engine.IO requests by their path (/socket.io/, and Config.SocketIOPath)
// and query, decodes the polling bodies of their exchanges and the messages
// of their WebSocket with decode's Engine.IO and Socket.IO parsers, and
// writes one eio event per Engine.IO packet, after the request, response
// or message event that carried it. Bodies are decoded as kept: the first
// --max-body bytes (content codings undone, up to as many); packets past
// the bound are not decoded, and an error says so.
//
// Problems are reported once per exchange: the first problem of a polling
// body (the POST's, or the response to a GET), with how many more it had,
// and the first of a WebSocket; the packets themselves are written all the
// same ("invalid", or Socket.IO fields without "args" and the raw "text").

// Bounds of what a connection keeps of its Engine.IO exchanges.
const (
	maxEIOPending = 16 // Engine.IO requests awaiting their response (pipelining, HTTP/2 streams)
	maxEIOSockets = 8  // Engine.IO WebSockets of one connection (HTTP/2 streams)
)

// DefaultSocketIOPath is the path Socket.IO's server and client use unless
// told otherwise; frametap decodes it whatever Config.SocketIOPath says.
const DefaultSocketIOPath = "/socket.io/"

// eioConn is what a recorder keeps of its connection's Engine.IO exchanges.
type eioConn struct {
	sessions *eioSessions // the proxy's table; nil: Socket.IO is not decoded
	path     string       // Config.SocketIOPath; "" when none
	maxBody  int          // decoded body bytes looked at, per body
	reqs     []eioReq     // requests awaiting their response, oldest first
	socks    []eioSock    // the connection's Engine.IO WebSockets
	dropped  bool         // a request was not followed (maxEIOPending): reported once
	scratch  *capture.EIO // the eio event being built: cleared once it is out; nil until the first
}

// eioReq is an Engine.IO request awaiting its response.
type eioReq struct {
	seq    int
	stream uint32
	get    bool
	t      decode.EIOTarget
}

// eioSock is a WebSocket that carries an Engine.IO session.
type eioSock struct {
	seq      int
	stream   uint32
	version  int
	sid      string
	sess     *eioSession         // nil until the sid is known
	own      [2]decode.SIOStream // used until then
	reported bool                // a problem was reported: no more are
}

// setupEIO turns Socket.IO decoding on, with the proxy's session table.
func (r *recorder) setupEIO(t *eioSessions, path string, maxBody int) {
	r.eio = eioConn{sessions: t, path: path, maxBody: maxBody}
}

// target reads a request-target as an Engine.IO request of one of the
// paths Socket.IO is decoded on.
func (e *eioConn) target(target string) (decode.EIOTarget, bool) {
	if t, ok := decode.ParseEIOTarget(target, DefaultSocketIOPath); ok {
		return t, true
	}
	if e.path != "" {
		return decode.ParseEIOTarget(target, e.path)
	}
	return decode.EIOTarget{}, false
}

// eioRequest follows a request that may be an Engine.IO one: a POST's body
// is decoded now; a GET waits for its response.
func (r *recorder) eioRequest(q *decode.Request) {
	e := &r.eio
	if e.sessions == nil {
		return
	}
	t, ok := e.target(q.Target)
	if !ok {
		return
	}
	switch {
	case q.Method == "POST" && t.Transport == "polling":
		body, cut, err := e.plain(q.Headers, q.Body, q.Truncated)
		r.eioBody(decode.Client, q.Seq, q.Stream, t, t.SID, body, cut, err)
	case q.Method == "GET" || q.Protocol == "websocket":
		if len(e.reqs) == maxEIOPending {
			if !e.dropped {
				e.dropped = true
				r.failure("client", fmt.Errorf("engine.io: more than %d Engine.IO requests of this connection await their response: request %d and later ones are not decoded", maxEIOPending, q.Seq))
			}
			return
		}
		e.reqs = append(e.reqs, eioReq{seq: q.Seq, stream: q.Stream, get: true, t: t})
	}
}

// take removes and returns the request of an exchange.
func (e *eioConn) take(seq int, stream uint32) (eioReq, bool) {
	i := slices.IndexFunc(e.reqs, func(q eioReq) bool { return q.seq == seq && q.stream == stream })
	if i < 0 {
		return eioReq{}, false
	}
	q := e.reqs[i]
	e.reqs = slices.Delete(e.reqs, i, i+1)
	return q, true
}

// eioResponse decodes the response to an Engine.IO polling GET. A 101 is
// left to eioUpgrade; other statuses end the request unread (Engine.IO's
// errors are JSON, not packets).
func (r *recorder) eioResponse(s *decode.Response) {
	e := &r.eio
	if e.sessions == nil || len(e.reqs) == 0 || s.Status < 200 && s.Status != 0 {
		return
	}
	q, ok := e.take(s.Seq, s.Stream)
	if !ok || s.Status != 200 || q.t.Transport != "polling" {
		return
	}
	body, cut, err := e.plain(s.Headers, s.Body, s.Truncated)
	sid := q.t.SID
	if sid == "" && err == nil {
		sid = eioOpenSID(body, q.t.EIO)
	}
	r.eioBody(decode.Server, s.Seq, s.Stream, q.t, sid, body, cut, err)
}

// eioOpenSID finds the sid of the open packet that starts a handshake's
// response, so that the body's packets are decoded as the session's.
func eioOpenSID(body []byte, version int) string {
	pks, _ := decode.ParseEIOPayload(body, version)
	for _, pk := range pks {
		if pk.Type == decode.EIOOpen {
			if h, err := decode.ParseEIOOpen(pk.Data); err == nil {
				return h.SID
			}
		}
	}
	return ""
}

// plain returns a polling body with its content codings undone (engine.io
// compresses polling responses of 1 KiB and more for clients that accept
// it), up to maxBody decoded bytes, and whether that is less than the
// body. err is set when it did not decode.
func (e *eioConn) plain(hs []decode.Header, body []byte, truncated bool) ([]byte, bool, error) {
	var values []string
	for _, h := range hs {
		if strings.EqualFold(h.Name, "Content-Encoding") {
			values = append(values, h.Value)
		}
	}
	cs := coding.Parse(values)
	if len(cs) == 0 {
		return body, truncated, nil
	}
	st := coding.NewStream(cs, int64(e.maxBody)+1, e.maxBody)
	st.Write(body)
	res := st.Close()
	if res.Err != nil && !truncated && res.Len <= int64(e.maxBody) {
		return nil, false, fmt.Errorf("engine.io: a polling body encoded %s that does not decode: %w", coding.Describe(cs), res.Err)
	}
	return res.Kept, truncated || res.Len > int64(len(res.Kept)), nil
}

// eioBody decodes one polling body that side sent, of the exchange seq,
// as packets of the session sid ("" while unknown).
func (r *recorder) eioBody(side decode.Side, seq int, stream uint32, t decode.EIOTarget, sid string, body []byte, cut bool, err error) {
	if err == nil {
		o := decode.EIOOptions{Version: t.EIO, Truncated: cut}
		var sess *eioSession
		if sid != "" {
			sess = r.eio.sessions.get(sid)
			sess.mu.Lock()
			o.SIO = &sess.sio[side]
		} else {
			o.SIO = new(decode.SIOStream)
		}
		closed := false
		err = decode.DecodeEIOBody(body, o, func(it *decode.EIOItem) {
			closed = closed || it.Type == decode.EIOClose
			r.eioEvent(side, seq, stream, "polling", sid, it)
		})
		if sess != nil {
			sess.mu.Unlock()
			if closed {
				r.eio.sessions.end(sid)
			}
		}
	}
	if err != nil {
		r.failure(side.String(), fmt.Errorf("exchange %d: %w", seq, err))
	}
}

// eioUpgrade follows an Engine.IO request's switch to WebSocket.
func (r *recorder) eioUpgrade(u *decode.Upgrade) {
	e := &r.eio
	if e.sessions == nil || len(e.reqs) == 0 {
		return
	}
	q, ok := e.take(u.Seq, u.Stream)
	if !ok || q.t.Transport != "websocket" || !strings.EqualFold(u.Protocol, "websocket") {
		return
	}
	if len(e.socks) == maxEIOSockets {
		r.failure("", fmt.Errorf("engine.io: more than %d Engine.IO WebSockets on this connection: the one of exchange %d is not decoded", maxEIOSockets, u.Seq))
		return
	}
	s := eioSock{seq: u.Seq, stream: u.Stream, version: q.t.EIO, sid: q.t.SID}
	if s.sid != "" {
		s.sess = e.sessions.get(s.sid)
	}
	e.socks = append(e.socks, s)
}

// eioMessage decodes a WebSocket message of an Engine.IO WebSocket.
func (r *recorder) eioMessage(side decode.Side, m *decode.Message) {
	e := &r.eio
	if len(e.socks) == 0 || m.Opcode != 1 && m.Opcode != 2 {
		return
	}
	i := slices.IndexFunc(e.socks, func(s eioSock) bool { return s.stream == m.Stream })
	if i < 0 {
		return
	}
	s := &e.socks[i]
	o := decode.EIOOptions{Version: s.version, Truncated: m.Truncated, SIO: &s.own[side]}
	sess := s.sess
	if sess != nil {
		sess.mu.Lock()
		o.SIO = &sess.sio[side]
	}
	closed := false
	err := decode.DecodeEIOMessage(m.Payload, m.Opcode == 2, o, func(it *decode.EIOItem) {
		if it.SID != "" && s.sid == "" { // a WebSocket-only session: its open names it
			s.sid = it.SID
		}
		closed = closed || it.Type == decode.EIOClose
		r.eioEvent(side, s.seq, s.stream, "websocket", s.sid, it)
	})
	if sess != nil {
		sess.mu.Unlock()
	} else if s.sid != "" {
		s.sess = e.sessions.get(s.sid)
	}
	if closed && s.sid != "" {
		e.sessions.end(s.sid)
	}
	if err != nil && !s.reported {
		s.reported = true
		r.failure(side.String(), fmt.Errorf("exchange %d (Engine.IO WebSocket; later problems on it are not reported): %w", s.seq, err))
	}
}

// eioEnd forgets the sessions whose WebSocket the connection carried: it
// ended with the connection.
func (r *recorder) eioEnd() {
	e := &r.eio
	for _, s := range e.socks {
		if s.sid != "" {
			e.sessions.end(s.sid)
		}
	}
	e.socks, e.reqs = nil, nil
}

// eioEvent records one Engine.IO packet.
func (r *recorder) eioEvent(side decode.Side, seq int, stream uint32, transport, sid string, it *decode.EIOItem) {
	ev := r.event(capture.KindEIO)
	ev.Seq, ev.Stream, ev.From = seq, stream, side.String()
	ev.Len = int64(it.Len)
	if r.eio.scratch == nil {
		r.eio.scratch = new(capture.EIO) // only a Socket.IO connection holds one
	}
	x := r.eio.scratch
	ev.EIO = x
	defer func() { *x = capture.EIO{} }() // drop the references into the body
	x.Type, x.Transport, x.SID = it.Type.String(), transport, sid
	if it.SID != "" {
		x.SID = it.SID
	}
	x.Binary, x.Attachment = it.Binary, it.Attachment
	if !it.HasSIO {
		ev.Payload = it.Data
		r.add()
		return
	}
	p := &it.SIO
	x.SIOType, x.Nsp = p.Type.String(), p.Nsp
	x.HasAck, x.AckID = p.HasAck, p.AckID
	x.Event, x.Attachments = p.Event, p.Attachments
	switch {
	case p.Type == decode.SIOInvalid:
		ev.Payload = it.Data
	case p.Args != nil:
		x.Args = p.Args
	case p.Data != nil && json.Valid(p.Data):
		x.SIOData = p.Data
	case p.Data != nil: // broken JSON: the packet as sent
		ev.Payload = it.Data
	}
	r.add()
}
