package filter

import (
	"math"
	"strings"

	"github.com/frametap/frametap/capture"
)

// Connection flags: what a connection has been seen to carry.
const (
	flagWS uint8 = 1 << iota
	flagHTTP
	flagH2
	flagSSE
	flagTLS
)

// facts is what is known of an event's context when it is judged.
type facts struct {
	flags uint8  // the connection's flags
	src   uint64 // the connection's ~src bits
	// xbits are the bits of the exchange atoms: those true of the event's
	// exchange, or, for an event outside any exchange, those true of some
	// exchange of its connection (or of its open's server, for ~dst).
	xbits  uint64
	msg    *capture.Event // a frame's message, nil until known
	op     uint8          // frame: its opBit, a continuation resolved to its message's op; message: opBitOfName(Op)
	masked bool           // message: the frames that carried it were masked
}

// evaluator judges events against a Filter. It owns a scratch buffer, so
// it is not safe for concurrent use.
type evaluator struct {
	f       *Filter
	scratch []byte
}

// match evaluates n on ev.
func (e *evaluator) match(n *node, ev *capture.Event, fc *facts) bool {
	switch n.kind {
	case nNot:
		return !e.match(n.kids[0], ev, fc)
	case nAnd:
		for _, k := range n.kids {
			if !e.match(k, ev, fc) {
				return false
			}
		}
		return true
	case nOr:
		for _, k := range n.kids {
			if e.match(k, ev, fc) {
				return true
			}
		}
		return false
	}
	return e.atom(n.atom, ev, fc)
}

func (e *evaluator) atom(a *atom, ev *capture.Event, fc *facts) bool {
	switch a.spec.code {
	case aAll:
		return true
	case aQ:
		return ev.Kind == capture.KindRequest
	case aS:
		return ev.Kind == capture.KindResponse
	case aE:
		return ev.Kind == capture.KindError || ev.Kind == capture.KindClose && ev.Err != "" ||
			ev.Kind == capture.KindResponse && resetOf(ev) != ""
	case aWebSocket:
		return fc.flags&flagWS != 0
	case aHTTP:
		return fc.flags&flagHTTP != 0
	case aH2:
		return fc.flags&flagH2 != 0
	case aSSE:
		return fc.flags&flagSSE != 0
	case aTLS:
		return fc.flags&flagTLS != 0
	case aConn:
		return ev.Conn <= math.MaxInt64 && a.num.has(int64(ev.Conn))
	case aSrc:
		return fc.src&a.bit != 0
	case aD, aU, aM, aC, aH, aHQ, aHS, aDst:
		return fc.xbits&a.bit != 0
	case aB, aBQ, aBS:
		return e.body(a, ev, fc)
	case aWQ:
		return isMessageKind(ev.Kind) && ev.From == "client"
	case aWS:
		return isMessageKind(ev.Kind) && ev.From == "server" || ev.Kind == kindSSE
	case aOp:
		return (ev.Kind == capture.KindFrame || ev.Kind == capture.KindMessage) && fc.op&a.ops != 0
	case aFin:
		return ev.Kind == capture.KindFrame && ev.Fin || ev.Kind == capture.KindMessage && ev.Frames <= 1
	case aRSV1:
		return ev.Kind == capture.KindFrame && ev.RSV&4 != 0 || ev.Kind == capture.KindMessage && ev.Compressed
	case aMasked:
		return ev.Kind == capture.KindFrame && ev.Masked || ev.Kind == capture.KindMessage && fc.masked
	case aLen:
		switch ev.Kind {
		case capture.KindFrame, capture.KindMessage, kindSSE, kindChunk, kindH2Frame:
			return a.num.has(ev.Len)
		}
		return false
	case aCode:
		m := messageOf(ev, fc)
		return m != nil && m.Op == "close" && a.num.has(int64(m.Code))
	case aSIO:
		if ev.Kind == kindEIO {
			name := eioEventName(ev)
			return name != "" && a.re.MatchString(name)
		}
		m := messageOf(ev, fc)
		if m == nil || m.Op != "text" {
			return false
		}
		name, ok := sioEventName(m.Payload, &e.scratch)
		return ok && a.re.Match(name)
	case aJQ:
		b, _, _ := content(ev, fc)
		return b != nil && a.jq.match(b, &e.scratch)
	}
	return false
}

// body evaluates ~b, ~bq and ~bs.
func (e *evaluator) body(a *atom, ev *capture.Event, fc *facts) bool {
	b, from, reason := content(ev, fc)
	switch {
	case a.spec.code == aBQ && from != "client", a.spec.code == aBS && from != "server":
		return false
	case reason:
		return a.re.MatchString(messageOf(ev, fc).Reason)
	}
	return b != nil && a.re.Match(b)
}

// messageOf is ev when it is a message, its message when it is a frame
// whose message is known, else nil.
func messageOf(ev *capture.Event, fc *facts) *capture.Event {
	switch ev.Kind {
	case capture.KindMessage:
		return ev
	case capture.KindFrame:
		return fc.msg
	}
	return nil
}

// content returns what ~b, ~jq and their kin look into: an exchange's
// body, a message's payload (a frame's: its message's), an SSE event's
// data, a chunk, an Engine.IO packet's arguments; and who sent it. A close
// message has its reason instead: reason is then true and b nil.
func content(ev *capture.Event, fc *facts) (b []byte, from string, reason bool) {
	switch ev.Kind {
	case capture.KindRequest:
		return nonNil(ev.Body), "client", false
	case capture.KindResponse:
		return nonNil(ev.Body), "server", false
	case capture.KindMessage, capture.KindFrame:
		m := messageOf(ev, fc)
		if m == nil {
			return nil, "", false
		}
		if m.Op == "close" {
			return nil, m.From, true
		}
		return nonNil(m.Payload), m.From, false
	case kindSSE:
		return sseData(ev), "server", false
	case kindChunk:
		return chunkData(ev), "server", false
	case kindEIO:
		return eioArgs(ev), ev.From, false
	}
	return nil, "", false
}

// nonNil keeps an empty body or payload matchable (by ~b ^$, say).
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// isMessageKind reports the kinds ~wq and ~ws select by their "from".
func isMessageKind(k capture.Kind) bool {
	return k == capture.KindFrame || k == capture.KindMessage || k == kindEIO
}

// evidence returns the connection flags ev proves.
func evidence(ev *capture.Event) uint8 {
	var f uint8
	switch ev.Kind {
	case capture.KindRequest:
		f = flagHTTP
		if ev.Scheme == "https" {
			f |= flagTLS
		}
		if ev.Proto == "HTTP/2.0" {
			f |= flagH2
		}
	case capture.KindResponse:
		f = flagHTTP
		if ev.Proto == "HTTP/2.0" {
			f |= flagH2
		}
		if ev.Status == 101 && headerHas(ev.Headers, "upgrade", "websocket") {
			f |= flagWS
		}
		if headerHas(ev.Headers, "content-type", "text/event-stream") {
			f |= flagSSE
		}
	case capture.KindUpgrade:
		if strings.EqualFold(ev.Protocol, "websocket") {
			f = flagWS
		}
		if ev.Scheme == "wss" {
			f |= flagTLS
		}
	case capture.KindFrame, capture.KindMessage:
		f = flagWS
	case capture.KindClose:
		if ev.WebSocket {
			f = flagWS
		}
	case capture.KindTLS:
		f = flagTLS
		if ev.ALPN == "h2" {
			f |= flagH2
		}
	case kindH2Frame:
		f = flagH2
	case kindSSE:
		f = flagSSE
	}
	return f
}

// headerHas reports whether a header named name (any case) has a value
// that starts with prefix (any case).
func headerHas(hs []capture.Header, name, prefix string) bool {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) && len(h[1]) >= len(prefix) && strings.EqualFold(h[1][:len(prefix)], prefix) {
			return true
		}
	}
	return false
}

// openBits returns the ~src bits of a connection's client and the ~dst
// bits of the server its open names.
func (e *evaluator) openBits(ev *capture.Event) (src, dst uint64) {
	for _, a := range e.f.atoms {
		switch {
		case a.spec.code == aSrc && a.re.MatchString(ev.Client):
			src |= a.bit
		case a.spec.code == aDst && ev.Server != "" && a.re.MatchString(ev.Server):
			dst |= a.bit
		}
	}
	return src, dst
}

// exchangeBits returns the bits of the exchange atoms true of a request or
// a response. server is the connection's own (its open's), used for ~dst
// when the event names none.
func (e *evaluator) exchangeBits(ev *capture.Event, server string) uint64 {
	if e.f.nx == 0 {
		return 0
	}
	req := ev.Kind == capture.KindRequest
	var bits uint64
	for _, a := range e.f.atoms {
		if a.spec.scope != scopeExchange {
			continue
		}
		var ok bool
		switch a.spec.code {
		case aD:
			ok = req && a.re.MatchString(ev.Host)
		case aU:
			ok = req && e.url(a, ev)
		case aM:
			ok = req && a.re.MatchString(ev.Method)
		case aC:
			ok = !req && a.num.has(int64(ev.Status))
		case aH:
			ok = e.headers(a, ev)
		case aHQ:
			ok = req && e.headers(a, ev)
		case aHS:
			ok = !req && e.headers(a, ev)
		case aDst:
			s := ev.Server
			if s == "" {
				s = server
			}
			ok = s != "" && a.re.MatchString(s)
		}
		if ok {
			bits |= a.bit
		}
	}
	return bits
}

// url matches ~u: the target as sent, else the URL built from the scheme,
// the host and an origin-form target.
func (e *evaluator) url(a *atom, ev *capture.Event) bool {
	if a.re.MatchString(ev.Target) {
		return true
	}
	if !strings.HasPrefix(ev.Target, "/") || ev.Host == "" {
		return false
	}
	scheme := ev.Scheme
	if scheme == "" {
		scheme = "http"
	}
	b := append(e.scratch[:0], scheme...)
	b = append(b, "://"...)
	b = append(b, ev.Host...)
	b = append(b, ev.Target...)
	e.scratch = b
	return a.re.Match(b)
}

// headers matches a regex against each header and trailer line of ev,
// written "Name: value".
func (e *evaluator) headers(a *atom, ev *capture.Event) bool {
	for _, hs := range [][]capture.Header{ev.Headers, ev.Trailers} {
		for _, h := range hs {
			b := append(e.scratch[:0], h[0]...)
			b = append(b, ": "...)
			b = append(b, h[1]...)
			e.scratch = b
			if a.re.Match(b) {
				return true
			}
		}
	}
	return false
}

// dirState follows one direction of a WebSocket: the data message whose
// frames are arriving, and whether frames were masked.
type dirState struct {
	dataOp     uint8 // opBit of the data message in progress, 0 when none
	dataMasked bool  // its frames so far were all masked
	ctrlMasked bool  // the last control frame was masked
}

// dir returns the index of ev's direction: 0 client, 1 server.
func dir(ev *capture.Event) int {
	if ev.From == "client" {
		return 0
	}
	return 1
}

// frame follows a frame and returns its opBit.
func (d *dirState) frame(ev *capture.Event) uint8 {
	switch {
	case ev.Opcode == 1 || ev.Opcode == 2:
		d.dataOp, d.dataMasked = opBitOfCode(ev.Opcode), ev.Masked
		return d.dataOp
	case ev.Opcode == 0:
		if d.dataOp == 0 {
			d.dataMasked = ev.Masked
			d.dataOp = opCont
		} else {
			d.dataMasked = d.dataMasked && ev.Masked
		}
		return d.dataOp
	case ev.Opcode >= 8:
		d.ctrlMasked = ev.Masked
	}
	return opBitOfCode(ev.Opcode)
}

// message follows a message and returns its opBit and whether its frames
// were masked.
func (d *dirState) message(ev *capture.Event) (op uint8, masked bool) {
	op = opBitOfName(ev.Op)
	if op&(opPing|opPong|opClose) != 0 {
		return op, d.ctrlMasked
	}
	masked = d.dataMasked
	d.dataOp, d.dataMasked = 0, false
	return op, masked
}

// isControl reports whether a frame or message is a control one.
func isControl(ev *capture.Event) bool {
	if ev.Kind == capture.KindFrame {
		return ev.Opcode >= 8
	}
	return opBitOfName(ev.Op)&(opPing|opPong|opClose) != 0
}
