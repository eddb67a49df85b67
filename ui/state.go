package ui

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// Connection states, as the connections table shows them.
const (
	stateHTTP      = "http"      // HTTP/1.x requests and responses
	stateTunnel    = "tunnel"    // after a CONNECT's 2xx: bytes relayed as a tunnel
	stateWebSocket = "websocket" // after a 101 to websocket
	stateClosed    = "closed"
)

// conn is what the dashboard knows of one client connection: the counters
// of its row in the connections table and the absolute indices of its
// events in the Store.
type conn struct {
	id     uint64
	client string
	host   string
	mode   string
	scheme string // "http" or "https", then "ws" or "wss" once upgraded
	state  string
	ws     bool // carried WebSocket (state may be closed since)
	tls    bool // frametap terminated TLS on it: the exchanges inside are https/wss

	unverified bool // a tls event said the upstream certificate was not verified (-k)

	opened, last time.Time

	requests   int
	connectSeq int  // seq of a CONNECT request, 0 when none
	connClose  bool // a request or response said Connection: close

	msgsUp, msgsDown int // data messages (text, binary) client→server, server→client
	ctrlUp, ctrlDown int // control messages (ping, pong, close)
	bytesUp          int64
	bytesDown        int64
	exact            bool  // the byte counts are the close event's, not estimates
	httpHdr          int64 // bytes of HTTP start lines and header fields (approximate)
	wsHdr            int64 // bytes of WebSocket frame headers
	payload          int64 // bytes of HTTP bodies and WebSocket payloads
	errs             int
	closeErr         string

	all  []int // every event of the connection, in order
	rows []int // the events view: every event but frames

	xs    []*exchange // its HTTP exchanges, in order (exchange.go)
	xrows []xrow      // the exchanges view: exchanges, messages and errors

	pending   int // requests without their final response
	lastReq   int // seq of the last request recorded
	connectTo int // the status frametap answered the CONNECT with; 0 before
	liveBytes [2]int64
	hasLive   bool       // liveBytes are the relayed counts (the proxy reports them)
	flight    string     // what an exchange in flight is doing, from the live side: "sending", "waiting", "receiving"
	liveViews []liveView // the selected connection's exchanges in flight, at the last refresh

	matched bool        // the filter matches one of its events
	fm      filterMarks // what the filter keeps of it (filter.go)

	h2     *h2Track // HTTP/2 (h2.go); nil when the connection never spoke it
	listen string   // the listener it came in on (open's "listen")

	subprotocol string // the WebSocket's Sec-WebSocket-Protocol (upgrade's "subprotocol"), for the messages' views
}

// state is the dashboard's model: connections and counters built from
// events by apply. Only the UI goroutine touches it; tests drive it
// without a screen.
type state struct {
	byID    map[uint64]*conn
	conns   []*conn // in order of their first event
	applied int     // absolute index of the next event to apply
	open    int
	msgs    int64       // data messages, for the rate
	wire    int64       // approximate bytes on the wire, for the rate
	filter  *viewFilter // nil: none
	stale   []*conn     // connections the filter judges anew at the end of the batch (filter.go)
	last    time.Time   // the latest event time seen
	global  globalNotes // events of no connection: gap, meta, a HAR's note (global.go)
}

func newState() *state {
	return &state{byID: make(map[uint64]*conn)}
}

// apply records event i (its absolute index in the Store).
func (s *state) apply(i int, ev *capture.Event) {
	s.applied = i + 1
	if ev.Conn == 0 && s.applyGlobal(i, ev) {
		return
	}
	c := s.byID[ev.Conn]
	if c == nil {
		c = &conn{id: ev.Conn, scheme: "http", state: stateHTTP, opened: ev.Time}
		s.byID[ev.Conn] = c
		s.conns = append(s.conns, c)
		s.open++
		s.startRows(c) // global.go
	}
	c.last = ev.Time
	if ev.Time.After(s.last) {
		s.last = ev.Time
	}
	c.all = append(c.all, i)
	if ev.Kind != capture.KindFrame && ev.Kind != capture.KindH2Frame { // h2frames: the frames view (F)
		c.rows = append(c.rows, i)
	}
	switch ev.Kind {
	case capture.KindOpen:
		c.client, c.mode, c.opened, c.listen = ev.Client, ev.Mode, ev.Time, ev.Listen
		if ev.Server != "" {
			c.host = ev.Server
		}
	case capture.KindRequest:
		if ev.Scheme == "https" {
			c.intercepted()
		}
		if ev.Method != "CONNECT" {
			c.requests++ // the CONNECT is the tunnel's, not an exchange with the server
		}
		c.pending++
		c.lastReq = ev.Seq
		switch {
		case ev.Method == "CONNECT":
			c.connectSeq = ev.Seq
			c.host = ev.Target
		case ev.Host != "":
			c.host = ev.Host
		case ev.Server != "" && c.host == "":
			c.host = ev.Server
		}
		h := requestHeadLen(ev)
		c.httpHdr += h
		c.payload += ev.BodyLen
		c.count(true, h+ev.BodyLen)
		s.wire += h + ev.BodyLen
		c.connClose = c.connClose || hasToken(ev.Headers, "Connection", "close")
	case capture.KindResponse:
		if !ownAnswer(ev, c) {
			// frametap's own answers are not bytes from the server: the
			// close event's bytes_from_server leaves them out, and so does
			// the overhead line.
			h := responseHeadLen(ev)
			c.httpHdr += h
			c.payload += ev.BodyLen
			c.count(false, h+ev.BodyLen)
			s.wire += h + ev.BodyLen
		}
		if ev.Status >= 200 || ev.Status == 101 {
			c.pending = max(0, c.pending-1)
		}
		if ev.Seq == c.connectSeq && c.connectSeq > 0 && c.connectTo == 0 {
			c.connectTo = ev.Status
		}
		if ev.Seq == c.connectSeq && ev.Status/100 == 2 && c.state == stateHTTP {
			c.state = stateTunnel
		}
		c.connClose = c.connClose || hasToken(ev.Headers, "Connection", "close")
	case capture.KindUpgrade:
		c.subprotocol = ev.Subprotocol
		if ev.Scheme == "wss" {
			c.tls = true
		}
		if strings.EqualFold(ev.Protocol, "websocket") && c.state != stateClosed {
			c.state, c.scheme, c.ws = stateWebSocket, "ws", true
			if c.tls {
				c.scheme = "wss"
			}
		}
	case capture.KindTLS:
		c.intercepted()
		if ev.Side == "server" && !ev.Verified {
			c.unverified = true
		}
	case capture.KindFrame:
		h := frameHeaderLen(ev.Len, ev.Masked)
		c.wsHdr += h
		c.payload += ev.Len
		c.count(ev.From == "client", h+ev.Len)
		s.wire += h + ev.Len
	case capture.KindMessage:
		data := ev.Op == "text" || ev.Op == "binary"
		switch {
		case data && ev.From == "client":
			c.msgsUp++
		case data:
			c.msgsDown++
		case ev.From == "client":
			c.ctrlUp++
		default:
			c.ctrlDown++
		}
		if data {
			s.msgs++
		}
	case capture.KindError:
		c.errs++
	case capture.KindClose:
		if c.state != stateClosed {
			s.open--
		}
		c.state = stateClosed
		c.bytesUp, c.bytesDown, c.exact = ev.BytesFromClient, ev.BytesFromServer, true
		c.closeErr = ev.Err
		c.ws = c.ws || ev.WebSocket
	}
	c.applyExchange(i, ev)
	c.applyH2(i, ev)
	if s.filter != nil {
		s.judge(c, i, ev)
	}
}

// intercepted records that frametap terminated TLS on c: its scheme
// becomes https (wss once upgraded), and a CONNECT tunnel is no longer
// opaque bytes: its state follows the exchanges decoded inside.
func (c *conn) intercepted() {
	c.tls = true
	switch {
	case c.ws:
		c.scheme = "wss"
	default:
		c.scheme = "https"
	}
	if c.state == stateTunnel {
		c.state = stateHTTP
	}
}

// count adds an estimate of bytes on the wire until the close event gives
// the exact figures.
func (c *conn) count(up bool, n int64) {
	if c.exact {
		return
	}
	if up {
		c.bytesUp += n
	} else {
		c.bytesDown += n
	}
}

// trim forgets the indices of events the store no longer holds, and the
// closed connections none of whose events it holds: the model then keeps
// the open connections and at most one closed connection per event held,
// so it is bounded as the store is (--ui-events), and so is the work of a
// refresh, which walks the connections.
func (s *state) trim(base int) {
	kept := s.conns[:0]
	for _, c := range s.conns {
		c.all = trimBelow(c.all, base)
		c.rows = trimBelow(c.rows, base)
		c.trimRows(base)
		if c.h2 != nil {
			c.h2.frames = trimBelow(c.h2.frames, base) // h2.go
		}
		if c.state == stateClosed && len(c.all) == 0 {
			delete(s.byID, c.id)
			continue
		}
		kept = append(kept, c)
	}
	clear(s.conns[len(kept):])
	s.conns = kept
}

// trimBelow drops the indices below base from the sorted xs. It reslices
// rather than copies: appends reallocate as xs grows, which frees the
// dropped prefix, so the work is amortised O(1) per index.
func trimBelow(xs []int, base int) []int {
	if len(xs) == 0 || xs[0] >= base {
		return xs
	}
	n := sort.SearchInts(xs, base)
	if n == len(xs) {
		return nil
	}
	return xs[n:]
}

// clear forgets the closed connections and every event; connections still
// open keep their counters and start a new timeline.
func (s *state) clear() {
	kept := s.conns[:0]
	for _, c := range s.conns {
		if c.state == stateClosed {
			delete(s.byID, c.id)
			continue
		}
		c.all, c.rows = nil, nil
		c.xs, c.xrows = nil, nil
		if c.h2 != nil {
			c.h2.frames = nil // h2.go
		}
		kept = append(kept, c)
	}
	clear(s.conns[len(kept):])
	s.conns = kept
	if s.filter != nil {
		s.filter.restart(s.applied) // the events are gone: so is what they said
		s.staleAll()
	}
}

// visible returns the connections the filter and the hidden hosts let
// through.
func (s *state) visible(dst []*conn, hidden []string) []*conn {
	dst = dst[:0]
	for _, c := range s.conns {
		if (s.filter == nil || c.matched) && (len(hidden) == 0 || !hiddenHost(c.host, hidden)) {
			dst = append(dst, c)
		}
	}
	return dst
}

// hiddenCount counts the connections hidden by host.
func (s *state) hiddenCount(hidden []string) int {
	n := 0
	for _, c := range s.conns {
		if len(hidden) > 0 && hiddenHost(c.host, hidden) {
			n++
		}
	}
	return n
}

// summary explains the connection in words: how many exchanges reused it,
// who spoke on its WebSocket, and what the bytes were spent on.
func (c *conn) summary() []string {
	var lines []string
	var l string
	switch {
	case c.connectSeq > 0 && c.connectTo != 0 && c.connectTo/100 != 2:
		l = fmt.Sprintf("CONNECT to %s refused: %d", c.host, c.connectTo)
	case c.connectSeq > 0 && c.requests == 0:
		l = "CONNECT tunnel to " + c.host
		if c.connectTo/100 == 2 && c.state == stateTunnel {
			l += ", relayed as it is (not decoded)"
		}
	case c.connectSeq > 0:
		l = "CONNECT tunnel to " + c.host + ": "
	}
	if c.requests > 0 {
		l += fmt.Sprintf("%d %s on 1 TCP connection", c.requests, plural(c.requests, "request", "requests"))
		switch {
		case c.h2 != nil:
			l += c.h2Summary()
		case c.requests > 1 && !c.ws:
			l += ", one at a time (keep-alive)"
		case c.connClose:
			l += " (Connection: close)"
		}
		if c.ws && c.h2 == nil {
			l += ", then upgraded to WebSocket"
		}
	}
	if l != "" {
		lines = append(lines, l)
	}
	if c.ws {
		l := fmt.Sprintf("WebSocket: %d %s pushed by the server, %d sent by the client",
			c.msgsDown, plural(c.msgsDown, "message", "messages"), c.msgsUp)
		if n := c.ctrlUp + c.ctrlDown; n > 0 {
			l += fmt.Sprintf(" (+%d control: ping/pong/close)", n)
		}
		lines = append(lines, l)
	}
	total := c.httpHdr + c.wsHdr + c.payload
	l = fmt.Sprintf("overhead: HTTP headers %s · WS frame headers %s · payload %s",
		size(c.httpHdr), size(c.wsHdr), size(c.payload))
	if total > 0 {
		l += fmt.Sprintf(" (headers are %.0f%% of the bytes)", 100*float64(c.httpHdr+c.wsHdr)/float64(total))
	}
	if c.errs > 0 {
		l += fmt.Sprintf(" · %d %s", c.errs, plural(c.errs, "error", "errors"))
	}
	return append(lines, l)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// requestHeadLen estimates the bytes of a request's head: the request line,
// each field as "name: value\r\n", and the empty line.
func requestHeadLen(ev *capture.Event) int64 {
	return int64(len(ev.Method)+1+len(ev.Target)+1+len(ev.Proto)+2) + fieldsLen(ev.Headers) + fieldsLen(ev.Trailers) + 2
}

// responseHeadLen estimates the bytes of a response's head.
func responseHeadLen(ev *capture.Event) int64 {
	return int64(len(ev.Proto)+1+3+1+len(ev.StatusText)+2) + fieldsLen(ev.Headers) + fieldsLen(ev.Trailers) + 2
}

func fieldsLen(hs []capture.Header) int64 {
	var n int64
	for _, h := range hs {
		n += int64(len(h[0]) + 2 + len(h[1]) + 2)
	}
	return n
}

// frameHeaderLen is the size of a WebSocket frame header (RFC 6455 section
// 5.2): 2 bytes, then 2 or 8 of extended length past 125 and 65535, then 4
// of masking key when masked.
func frameHeaderLen(n int64, masked bool) int64 {
	h := int64(2)
	switch {
	case n > 65535:
		h += 8
	case n > 125:
		h += 2
	}
	if masked {
		h += 4
	}
	return h
}

// hasToken reports whether a field named name lists token (comma-separated,
// case-insensitive).
func hasToken(hs []capture.Header, name, token string) bool {
	for _, h := range hs {
		if !strings.EqualFold(h[0], name) {
			continue
		}
		for t := range strings.SplitSeq(h[1], ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
