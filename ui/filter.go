package ui

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/coding"
)

// filter decides which connections and rows the dashboard shows (the /
// key): a connection is shown when its own fields or one of its events
// match, and in it the rows that match (an exchange as a whole, when its
// request or response matches). textFilter is today's; the filter language
// (issue 14) plugs in by implementing this interface.
type filter interface {
	// matchConn reports whether a connection's own fields match: then
	// every row of it is shown.
	matchConn(c *conn) bool
	// matchEvent reports whether an event matches. decoded is its body
	// with the content codings undone, when it has any (nil otherwise):
	// search sees what the user reads.
	matchEvent(ev *capture.Event, decoded []byte) bool
	// source is what the user typed, for the prompt to edit.
	source() string
	// String describes the filter for the status line.
	String() string
}

// newFilter returns the filter for what the user typed; nil for "".
func newFilter(src string) filter {
	if m := newMatcher(src); m != nil {
		return textFilter{m}
	}
	return nil
}

// textFilter matches a regular expression or plain text against the text
// of a connection (conn.text) and of an event (eventText, and the decoded
// body).
type textFilter struct{ m *matcher }

func (f textFilter) matchConn(c *conn) bool { return f.m.match(c.text()) }
func (f textFilter) source() string         { return f.m.src }
func (f textFilter) String() string         { return f.m.String() }

func (f textFilter) matchEvent(ev *capture.Event, decoded []byte) bool {
	if f.m.match(eventText(ev)) {
		return true
	}
	return len(decoded) > 0 && f.m.match(string(decoded))
}

// decodedCache keeps, for search, the first MaxKeep decoded bytes of the
// bodies held in the store that have content codings, by the event's
// absolute index: decoded once, when the event is applied, not on every
// filter. It holds at most decodedBudget bytes; past it the oldest go (a
// body no longer cached is decoded again when the filter asks).
type decodedCache struct {
	bodies map[int][]byte
	order  []int // indices, oldest first
	bytes  int
}

// decodedBudget bounds the memory of the decoded bodies kept for search.
const decodedBudget = 32 << 20

// decodedOf returns ev's body with its content codings undone (at most
// MaxKeep bytes of it), or nil when it has none or it does not decode.
func (d *decodedCache) decodedOf(i int, ev *capture.Event) []byte {
	if ev.Kind != capture.KindRequest && ev.Kind != capture.KindResponse || len(ev.Body) == 0 && len(ev.DecodedBody) == 0 {
		return nil
	}
	if b, ok := d.bodies[i]; ok {
		return b
	}
	b := searchBody(ev)
	if b == nil {
		return nil
	}
	if d.bodies == nil {
		d.bodies = make(map[int][]byte)
	}
	for d.bytes+len(b) > decodedBudget && len(d.order) > 0 {
		d.drop()
	}
	d.bodies[i] = b
	d.order = append(d.order, i)
	d.bytes += len(b)
	return b
}

func (d *decodedCache) drop() {
	k := d.order[0]
	d.order = d.order[1:]
	d.bytes -= len(d.bodies[k])
	delete(d.bodies, k)
}

// trim forgets the bodies of events the store no longer holds.
func (d *decodedCache) trim(base int) {
	for len(d.order) > 0 && d.order[0] < base {
		d.drop()
	}
}

// searchBody decodes ev's body for search: the decoded body the capture
// holds (--decode-bodies), else the kept body decoded, at most MaxKeep
// bytes. nil when the body has no content coding.
func searchBody(ev *capture.Event) []byte {
	if len(ev.DecodedBody) > 0 {
		return ev.DecodedBody
	}
	cs := coding.Parse(headerValues(ev.Headers, "Content-Encoding"))
	if len(cs) == 0 {
		return nil
	}
	res := coding.Decode(cs, ev.Body, MaxKeep)
	return res.Kept
}

// headerValues returns the values of the fields named name.
func headerValues(hs []capture.Header, name string) []string {
	var vs []string
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			vs = append(vs, h[1])
		}
	}
	return vs
}

// matcher is a filter: a case-insensitive regular expression, or plain
// text when what the user typed does not compile as one.
type matcher struct {
	src   string
	re    *regexp.Regexp
	plain string // lower-cased, when re is nil
}

// newMatcher returns the matcher for what the user typed; nil for "".
func newMatcher(s string) *matcher {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	if re, err := regexp.Compile("(?i)" + s); err == nil {
		return &matcher{src: s, re: re}
	}
	return &matcher{src: s, plain: strings.ToLower(s)}
}

func (m *matcher) match(s string) bool {
	if m.re != nil {
		return m.re.MatchString(s)
	}
	return strings.Contains(strings.ToLower(s), m.plain)
}

// String describes the filter for the status line.
func (m *matcher) String() string {
	if m.re != nil && regexp.QuoteMeta(m.src) != m.src {
		return "/" + m.src + "/ (regex)"
	}
	return strconv.Quote(m.src)
}

// eventText is what the filter matches of an event: direction, kind, op,
// method, target, host, status and the content kept in memory.
func eventText(ev *capture.Event) string {
	var b strings.Builder
	b.WriteString(ev.From)
	if ev.From == "client" {
		b.WriteString(" → up ")
	} else if ev.From == "server" {
		b.WriteString(" ← down ")
	}
	b.WriteString(string(ev.Kind))
	b.WriteByte(' ')
	b.WriteString(what(ev))
	b.WriteByte(' ')
	switch ev.Kind {
	case capture.KindRequest:
		b.WriteString(ev.Host + " " + ev.Server + " ")
		b.Write(ev.Body)
	case capture.KindResponse:
		b.Write(ev.Body)
	case capture.KindMessage:
		b.WriteString(ev.Op + " " + ev.Reason + " ")
		b.Write(ev.Payload)
	case capture.KindError:
		b.WriteString(ev.Msg)
	case capture.KindOpen:
		b.WriteString(ev.Client + " " + ev.Server)
	case capture.KindTLS:
		b.WriteString(ev.Side + " " + ev.SNI + " " + ev.ALPN + " " + ev.Version + " " + ev.Cipher + " " + ev.Subject + " " + ev.Issuer)
	}
	return b.String()
}
