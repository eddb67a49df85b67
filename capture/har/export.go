package har

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// Options configures Build. The zero value gives the defaults.
type Options struct {
	// Creator names the writer in the HAR's log. If its Name is empty,
	// "frametap" is used.
	Creator Creator
	// Selected, if not nil, says which events (by index in the events
	// given to Build) to export, as filter.Filter.Select returns it: an
	// exchange becomes an entry when any of its events (request,
	// response, upgrade, messages) is selected, and a WebSocket entry
	// lists the messages that are selected.
	Selected []bool
}

// Stats says what Build made of a capture.
type Stats struct {
	Entries    int // entries written
	WebSockets int // of them, WebSocket entries
	Messages   int // WebSocket messages in them
	Tunnels    int // CONNECT exchanges, which are not entries
	Unanswered int // requests without a response: entries with status 0
	Orphans    int // responses, upgrades and messages with no request to attach to
	Lost       int64
}

// exchange is one request, what answered it and what it carried.
type exchange struct {
	c        *conn
	order    int // the request's index in the capture
	req      *capture.Event
	resp     *capture.Event // the final response (not a 1xx but 101)
	up       *capture.Event
	msgs     []*capture.Event
	selected bool // an event of the exchange is selected
}

// conn is what Build keeps of one connection.
type conn struct {
	id       uint64
	open     *capture.Event
	close    *capture.Event
	lastErr  string
	bySeq    map[int]*exchange
	tunnels  map[int]bool         // seqs of CONNECT requests, whose answers are left out too
	ws       *exchange            // HTTP/1.x: the exchange whose upgrade the connection's messages follow
	byStream map[uint32]*exchange // HTTP/2: by the stream that carries the exchange
}

// Build makes a HAR of a capture's events, given in capture order: one
// entry per HTTP exchange (see the package doc for what each field comes
// from). It keeps the events (their slices go into the HAR's strings
// only as copies) and does not change them. It is safe for concurrent use.
func Build(evs []*capture.Event, opt Options) (*HAR, Stats) {
	var st Stats
	conns := map[uint64]*conn{}
	connOf := func(id uint64) *conn {
		c := conns[id]
		if c == nil {
			c = &conn{id: id, bySeq: map[int]*exchange{}, byStream: map[uint32]*exchange{}, tunnels: map[int]bool{}}
			conns[id] = c
		}
		return c
	}
	selected := func(i int) bool { return opt.Selected == nil || i < len(opt.Selected) && opt.Selected[i] }
	var xs []*exchange
	var msgSel map[*capture.Event]bool
	if opt.Selected != nil {
		msgSel = map[*capture.Event]bool{}
	}
	for i, ev := range evs {
		if ev == nil {
			continue
		}
		c := connOf(ev.Conn)
		switch ev.Kind {
		case capture.KindOpen:
			c.open = ev
		case capture.KindClose:
			c.close = ev
		case capture.KindError:
			c.lastErr = ev.Msg
		case capture.KindGap:
			st.Lost += ev.Lost
		case capture.KindRequest:
			if ev.Method == "CONNECT" && ev.Protocol == "" {
				st.Tunnels++ // a tunnel to the proxy, not an exchange with the server
				c.tunnels[ev.Seq] = true
				continue
			}
			x := &exchange{c: c, order: i, req: ev, selected: selected(i)}
			c.bySeq[ev.Seq] = x
			if ev.Stream != 0 {
				c.byStream[ev.Stream] = x
			}
			xs = append(xs, x)
		case capture.KindResponse:
			x := c.bySeq[ev.Seq]
			if x == nil {
				if !c.tunnels[ev.Seq] {
					st.Orphans++
				}
				continue
			}
			if x.resp == nil && (ev.Status >= 200 || ev.Status == 101) {
				x.resp = ev
			}
			x.selected = x.selected || selected(i)
		case capture.KindUpgrade:
			x := c.bySeq[ev.Seq]
			if x == nil {
				st.Orphans++
				continue
			}
			x.up = ev
			x.selected = x.selected || selected(i)
			if ev.Stream != 0 {
				c.byStream[ev.Stream] = x
			} else {
				c.ws = x
			}
		case capture.KindMessage:
			x := c.ws
			if ev.Stream != 0 {
				x = c.byStream[ev.Stream]
			}
			if x == nil || x.up == nil {
				st.Orphans++
				continue
			}
			if selected(i) {
				x.selected = true
				if msgSel != nil {
					msgSel[ev] = true
				}
			}
			x.msgs = append(x.msgs, ev)
		}
	}

	entries := make([]Entry, 0, len(xs))
	type sortKey struct {
		t     time.Time
		order int
	}
	keys := make([]sortKey, 0, len(xs))
	for _, x := range xs {
		if !x.selected {
			continue
		}
		if msgSel != nil {
			x.msgs = slices.DeleteFunc(x.msgs, func(m *capture.Event) bool { return !msgSel[m] })
		}
		e, start := x.entry()
		if x.resp == nil {
			st.Unanswered++
		}
		if e.WebSocketMessages != nil {
			st.WebSockets++
			st.Messages += len(*e.WebSocketMessages)
		}
		entries = append(entries, e)
		keys = append(keys, sortKey{start, x.order})
	}
	// Entries in the order they started, as browsers write them.
	idx := make([]int, len(entries))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := keys[a].t.Compare(keys[b].t); c != 0 {
			return c
		}
		return cmp.Compare(keys[a].order, keys[b].order)
	})
	sorted := make([]Entry, len(entries))
	for i, j := range idx {
		sorted[i] = entries[j]
	}
	st.Entries = len(sorted)

	cr := opt.Creator
	if cr.Name == "" {
		cr.Name = "frametap"
	}
	return &HAR{Log: Log{Version: "1.2", Creator: cr, Pages: []Page{}, Entries: sorted, Comment: st.comment()}}, st
}

// comment says in the log what the capture held that the HAR does not.
func (st Stats) comment() string {
	var parts []string
	if n := st.Tunnels; n > 0 {
		parts = append(parts, fmt.Sprintf("%s (browsers' HARs list none); the exchanges inside %s count _seq from 2",
			plural(n, "CONNECT tunnel is not an entry", "CONNECT tunnels are not entries"), agree(n, "it", "one")))
	}
	if n := st.Unanswered; n > 0 {
		parts = append(parts, fmt.Sprintf("%s no response (status 0, _error says why when the capture does)", plural(n, "request got", "requests got")))
	}
	if n := st.Orphans; n > 0 {
		parts = append(parts, fmt.Sprintf("%s no request in the capture and %s left out",
			plural(n, "response, upgrade or message had", "responses, upgrades or messages had"), agree(n, "is", "are")))
	}
	if n := st.Lost; n > 0 {
		parts = append(parts, fmt.Sprintf("the capture lost %s to write errors (gap events)", plural(n, "event", "events")))
	}
	if len(parts) == 0 {
		return ""
	}
	return "frametap: " + strings.Join(parts, "; ") + "."
}

// entry builds x's HAR entry and returns it with the time it started.
func (x *exchange) entry() (Entry, time.Time) {
	req, resp := x.req, x.resp
	ws := x.up != nil && strings.EqualFold(x.up.Protocol, "websocket")
	e := Entry{
		ResourceType: resourceType(req, resp, x.up),
		Request:      request(req, x.url(ws)),
		Response:     response(resp),
		ConnectionID: strconv.FormatUint(x.c.id, 10),
		Seq:          req.Seq,
		Stream:       req.Stream,
	}
	server := req.Server
	if server == "" && x.c.open != nil {
		server = x.c.open.Server
	}
	if host, port, ok := splitHostPort(server); ok {
		e.Connection = port
		if isIP(host) {
			e.ServerIPAddress = host
		}
	}
	if resp == nil {
		e.Response.Error = "no response"
		switch {
		case x.c.lastErr != "":
			e.Response.Error = x.c.lastErr
		case x.c.close != nil && x.c.close.Err != "":
			e.Response.Error = x.c.close.Err
		}
	}
	start := x.timings(&e)
	e.StartedDateTime = start.UTC().Format(time.RFC3339Nano)
	if ws {
		msgs := make([]WebSocketMessage, 0, len(x.msgs))
		for _, m := range x.msgs {
			msgs = append(msgs, wsMessage(m))
		}
		e.WebSocketMessages = &msgs
		e.WebSocketClose = x.wsClose()
	}
	return e, start
}

// timings fills e's timings and time, and returns when the exchange
// started: when the request was complete, less the send and connect times
// when the response measured them.
func (x *exchange) timings(e *Entry) time.Time {
	req, resp := x.req, x.resp
	t := Timings{Blocked: -1, DNS: -1, SSL: -1, Connect: -1, Send: -1, Wait: -1, Receive: -1}
	start := req.Time
	switch {
	case resp != nil && resp.Timed:
		t.Send, t.Wait, t.Receive = durationMS(resp.Send), durationMS(resp.Wait), durationMS(resp.Receive)
		if resp.TLSTime > 0 {
			t.SSL = durationMS(resp.TLSTime)
		}
		if resp.Connect > 0 {
			t.Connect = durationMS(resp.Connect) + max(t.SSL, 0) // HAR: ssl is part of connect
		}
		// HAR readers lay the phases out from startedDateTime in the
		// order blocked, dns, connect, send, wait, receive: starting the
		// entry connect and send before the request was complete puts
		// its end, and the response's, where the capture has them.
		start = req.Time.Add(-time.Duration((t.Send + max(t.Connect, 0)) * float64(time.Millisecond)))
	case resp != nil:
		// The events say when the request and the response were
		// complete: the time between is the wait and the transfer of the
		// response, which only the exchange timings tell apart.
		t.Wait = ms(float64(resp.Time.Sub(req.Time)) / float64(time.Millisecond))
	}
	e.Timings = t
	for _, v := range []float64{t.Blocked, t.DNS, t.Connect, t.Send, t.Wait, t.Receive} {
		e.Time += max(v, 0)
	}
	e.Time = ms(e.Time)
	return start
}

// ms keeps a duration in milliseconds to the microsecond, and never
// negative (clocks: a response can be stamped before its request
// completes when frametap answers itself).
// durationMS is d in HAR's milliseconds (ms), negative (unknown) as 0.
func durationMS(d time.Duration) float64 {
	return ms(float64(d) / float64(time.Millisecond))
}

func ms(v float64) float64 {
	if math.IsNaN(v) || v < 0 {
		return 0
	}
	return math.Round(v*1000) / 1000
}

// url is the request's URL: the target when it is absolute (regular
// mode's plaintext requests), else scheme://host/target, with ws or wss
// for a WebSocket as browsers write it, and without a fragment.
func (x *exchange) url(ws bool) string {
	req := x.req
	target := req.Target
	var u string
	switch {
	case hasSchemePrefix(target, "http://") || hasSchemePrefix(target, "https://"):
		u = target
	default:
		scheme := strings.ToLower(req.Scheme)
		if scheme == "" || scheme == "wss" || scheme == "ws" {
			scheme = map[bool]string{true: "https", false: "http"}[scheme == "wss"]
		}
		host := req.Host
		if host == "" {
			host = req.Server
		}
		if host == "" && x.c.open != nil {
			host = x.c.open.Server
		}
		if host == "" {
			host = "unknown.invalid" // RFC 6761: a name that names nothing
		}
		switch {
		case target == "*":
			target = ""
		case !strings.HasPrefix(target, "/"):
			target = "/" + target
		}
		u = scheme + "://" + host + target
	}
	if i := strings.IndexByte(u, '#'); i >= 0 {
		u = u[:i]
	}
	if ws {
		switch {
		case hasSchemePrefix(u, "https://"):
			u = "wss://" + u[len("https://"):]
		case hasSchemePrefix(u, "http://"):
			u = "ws://" + u[len("http://"):]
		}
	}
	return u
}

func hasSchemePrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
