package ui

import (
	"mime"
	"net/url"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// This file is the model of the exchanges view: one row per HTTP exchange
// (its request and its final response together, as a browser's network
// panel shows them), one per WebSocket message and one per error, built by
// apply from the events, and merged at refresh with what the Store learns
// live (a response whose head arrived and whose body is still coming).

// exchange is one HTTP exchange of a connection.
type exchange struct {
	seq       int
	req, resp int // absolute indices of the request and final response events; -1 until recorded

	// What the row shows, from the events (immutable once set).
	method, target string
	start, end     time.Time // the request's first byte (or its event), the final response's event
	status         int
	statusText     string
	ctype          string // the response's Content-Type, without parameters
	codings        string // its Content-Encoding, "" when none
	bodyLen        int64  // the response body on the wire
	decodedLen     int64  // once decoded, when decoded
	decoded        bool
	decodeErr      string
	own            bool   // frametap's own answer (by_frametap)
	upgraded       bool   // a 101 switched the connection
	stream         uint32 // its HTTP/2 stream, 0 for HTTP/1.x
	lanes          string // HTTP/2: the streams open when it began (h2.go)

	matched bool // the filter matches its request or its response

	live    *liveView // set at refresh while the exchange is in flight; nil otherwise
	liveSet bool      // live was set by the last merge
}

// xrow is one row of the exchanges view: an exchange, or an event
// (message or error) by its absolute index.
type xrow struct {
	ex *exchange
	ev int
}

// last returns the largest event index a row holds, or -1 for an
// exchange known only live.
func (r xrow) last() int {
	if r.ex == nil {
		return r.ev
	}
	return max(r.ex.req, r.ex.resp)
}

// applyExchange adds event i to c's exchanges view.
func (c *conn) applyExchange(i int, ev *capture.Event) {
	switch ev.Kind {
	case capture.KindRequest:
		x := c.exchangeOf(ev.Seq, true)
		x.req = i
		x.method, x.target = ev.Method, ev.Target
		x.start = ev.Time
		if ev.Timed || ev.Send > 0 {
			x.start = ev.Time.Add(-ev.Send)
		}
	case capture.KindResponse:
		if ev.Status < 200 && ev.Status != 101 {
			return // interim: the events view shows it
		}
		x := c.exchangeOf(ev.Seq, ev.Seq != 0)
		if x == nil {
			x = c.newExchange(0)
		}
		x.resp, x.end = i, ev.Time
		x.status, x.statusText, x.own = ev.Status, ev.StatusText, ev.ByFrametap
		x.ctype = contentType(ev.Headers)
		x.codings = headerValue(ev.Headers, "Content-Encoding")
		x.bodyLen, x.decodedLen, x.decoded, x.decodeErr = ev.BodyLen, ev.DecodedLen, ev.Decoded, ev.DecodeErr
		if x.req < 0 {
			x.start = ev.Time
		}
		x.upgraded = ev.Status == 101
		x.live = nil
	case capture.KindMessage, capture.KindError:
		c.xrows = append(c.xrows, xrow{ev: i})
	}
}

// exchangeOf returns the exchange seq of c, making it when add is set and
// there is none. Exchanges come in seq order: it looks from the newest.
func (c *conn) exchangeOf(seq int, add bool) *exchange {
	for k := len(c.xs) - 1; k >= 0 && k >= len(c.xs)-maxLiveExchanges; k-- {
		if c.xs[k].seq == seq {
			return c.xs[k]
		}
	}
	if !add {
		return nil
	}
	return c.newExchange(seq)
}

func (c *conn) newExchange(seq int) *exchange {
	x := &exchange{seq: seq, req: -1, resp: -1}
	c.xs = append(c.xs, x)
	c.xrows = append(c.xrows, xrow{ex: x})
	return x
}

// mergeLive puts what the Store knows live of c on its exchanges: an
// exchange in flight gets its snapshot (its row then shows the response
// head and bytes so far); one the events do not have yet gets a row. It
// reports whether rows were added. The filter judges an exchange by its
// events only: one known only live is not shown under a filter.
func (c *conn) mergeLive(views []liveView) bool {
	for _, x := range c.xs[max(0, len(c.xs)-2*maxLiveExchanges):] {
		if x.liveSet {
			x.live, x.liveSet = nil, false
		}
	}
	added := false
	for k := range views {
		v := &views[k]
		x := c.exchangeOf(v.seq, false)
		if x == nil {
			x, added = c.newExchange(v.seq), true
		}
		if x.resp >= 0 {
			continue // recorded: the events say it all
		}
		x.live, x.liveSet = v, true
		if v.stream != 0 && c.h2 != nil {
			c.h2.mark(x, v.stream)
		}
		if x.req < 0 && v.req != nil {
			x.method, x.target, x.start = v.req.Method, v.req.Target, v.req.Time
		}
	}
	return added
}

// trimRows drops the rows whose events the store no longer holds.
func (c *conn) trimRows(base int) {
	n := 0
	for n < len(c.xrows) {
		if l := c.xrows[n].last(); l < 0 || l >= base {
			break
		}
		n++
	}
	if n > 0 {
		clear(c.xrows[:n])
		c.xrows = c.xrows[n:]
	}
	k := 0
	for k < len(c.xs) && c.xs[k].req >= 0 && max(c.xs[k].req, c.xs[k].resp) < base {
		k++
	}
	if k > 0 {
		clear(c.xs[:k])
		c.xs = c.xs[k:]
	}
}

// contentType returns a Content-Type without its parameters, lower-cased.
func contentType(hs []capture.Header) string {
	v := headerValue(hs, "Content-Type")
	if mt, _, err := mime.ParseMediaType(v); err == nil {
		return mt
	}
	t, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// headerValue returns the values of the fields named name, joined by ", ".
func headerValue(hs []capture.Header, name string) string {
	var v string
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			if v != "" {
				v += ", "
			}
			v += h[1]
		}
	}
	return v
}

// shortType names a media type in a word, as a network panel's Type
// column does: json, html, javascript, png, event-stream, octet-stream.
func shortType(mt string) string {
	if mt == "" {
		return ""
	}
	_, sub, ok := strings.Cut(mt, "/")
	if !ok {
		return mt
	}
	if _, suffix, ok := strings.Cut(sub, "+"); ok && suffix == "json" {
		sub = suffix // application/ld+json, problem+json: json
	}
	sub = strings.TrimPrefix(sub, "x-")
	return sub
}

// originForm shows a request target in origin-form when it is an
// absolute-form one for host (the connection's, shown in the title):
// http://127.0.0.1:8080/api?x=1 becomes /api?x=1; a target for another
// host keeps its authority, without the scheme.
func originForm(target, host string) string {
	if !strings.Contains(target, "://") {
		return target
	}
	u, err := url.Parse(target)
	if err != nil || u.Host == "" {
		return target
	}
	rest := u.RequestURI()
	if !strings.HasPrefix(rest, "/") && rest != "*" {
		rest = "/" + rest
	}
	if sameHost(u, host) {
		return rest
	}
	return u.Host + rest
}

// sameHost reports whether u names host, a host or host:port, with the
// scheme's default port left out on either side.
func sameHost(u *url.URL, host string) bool {
	if strings.EqualFold(u.Host, host) {
		return true
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443", "ws": "80", "wss": "443"}[u.Scheme]
	}
	return strings.EqualFold(u.Hostname()+":"+port, host) || port != "" && strings.EqualFold(u.Hostname(), host) && (port == "80" || port == "443")
}

// ownAnswer reports whether a response is frametap's own: by_frametap, or,
// in a capture written before that field, the answer to a CONNECT in
// regular mode (frametap answers every CONNECT itself).
func ownAnswer(ev *capture.Event, c *conn) bool {
	return ev.ByFrametap || c.connectSeq > 0 && ev.Seq == c.connectSeq && c.mode == "regular"
}
