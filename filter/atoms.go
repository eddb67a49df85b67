package filter

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
)

// code identifies an atom.
type code uint8

const (
	aAll code = iota
	aQ
	aS
	aE
	aWebSocket
	aHTTP
	aH2
	aSSE
	aTLS
	aConn
	aSrc
	aD
	aU
	aM
	aC
	aH
	aHQ
	aHS
	aDst
	aB
	aBQ
	aBS
	aWQ
	aWS
	aOp
	aFin
	aRSV1
	aMasked
	aLen
	aCode
	aSIO
	aJQ
)

// argKind is what argument an atom takes.
type argKind uint8

const (
	argNone  argKind = iota
	argRegex         // a regular expression, matched case-insensitively
	argNum           // N, >N, <N, >=N, <=N, N-M, or digits ending in x (4xx)
	argOp            // a WebSocket opcode name
	argJQ            // PATH or PATH=VALUE
)

// scope is what an atom is a property of (see the package doc).
type scope uint8

const (
	scopeEvent    scope = iota // the event itself
	scopeExchange              // its HTTP exchange, else any exchange of its connection
	scopeConn                  // its connection
)

// spec describes one atom: its name, argument, scope and help.
type spec struct {
	code    code
	name    string // with its "~"
	arg     argKind
	scope   scope
	help    string
	example string
}

// specs lists the atoms in the order Help shows them.
var specs = []spec{
	{aWebSocket, "~websocket", argNone, scopeConn, "carried WebSocket", "~websocket"},
	{aHTTP, "~http", argNone, scopeConn, "carried HTTP", "~http !~websocket"},
	{aH2, "~h2", argNone, scopeConn, "spoke HTTP/2", "~h2"},
	{aSSE, "~sse", argNone, scopeConn, "carried Server-Sent Events", "~sse"},
	{aTLS, "~tls", argNone, scopeConn, "had its TLS terminated by frametap", "~tls"},
	{aConn, "~conn", argNum, scopeConn, "has this number", "~conn 3"},
	{aSrc, "~src", argRegex, scopeConn, "came from this client ip:port", `~src 127\.0\.0\.1`},
	{aD, "~d", argRegex, scopeExchange, "authority (Host) matches", `~d example\.com`},
	{aU, "~u", argRegex, scopeExchange, "target, or URL, matches", "~u /api/"},
	{aM, "~m", argRegex, scopeExchange, "method matches", "~m post"},
	{aC, "~c", argNum, scopeExchange, "response status is N", "~c 4xx"},
	{aH, "~h", argRegex, scopeExchange, `a header line "Name: value" matches`, `~h "content-type:.*json"`},
	{aHQ, "~hq", argRegex, scopeExchange, "a request header line matches", `~hq ^authorization:`},
	{aHS, "~hs", argRegex, scopeExchange, "a response header line matches", `~hs ^set-cookie:`},
	{aDst, "~dst", argRegex, scopeExchange, "upstream host:port matches", "~dst :8443$"},
	{aQ, "~q", argNone, scopeEvent, "a request", "~q ~m get"},
	{aS, "~s", argNone, scopeEvent, "a response", "~s ~c 500-599"},
	{aB, "~b", argRegex, scopeEvent, "body, payload or close reason matches", "~b error"},
	{aBQ, "~bq", argRegex, scopeEvent, "the same, sent by the client", "~bq password"},
	{aBS, "~bs", argRegex, scopeEvent, "the same, sent by the server", `~bs '"ok":false'`},
	{aE, "~e", argNone, scopeEvent, "an error, or a close with an error", "~e"},
	{aWQ, "~wq", argNone, scopeEvent, "a client frame or message", "~wq ~op text"},
	{aWS, "~ws", argNone, scopeEvent, "a server frame, message or SSE event", "~ws ~len >1000"},
	{aOp, "~op", argOp, scopeEvent, "a frame or message of this opcode", "~op ping"},
	{aFin, "~fin", argNone, scopeEvent, "a FIN frame; a one-frame message", "!~fin"},
	{aRSV1, "~rsv1", argNone, scopeEvent, "an RSV1 frame; a compressed message", "~rsv1"},
	{aMasked, "~masked", argNone, scopeEvent, "a masked frame or message", "~ws ~masked"},
	{aLen, "~len", argNum, scopeEvent, "payload length is N", "~len >65535"},
	{aCode, "~code", argNum, scopeEvent, "a close with this status code", "~code 1002"},
	{aSIO, "~sio", argRegex, scopeEvent, "a Socket.IO event with this name", "~sio ^chat"},
	{aJQ, "~jq", argJQ, scopeEvent, "JSON at PATH equals V (or exists)", "~jq .type=order"},
	{aAll, "~all", argNone, scopeEvent, "every event", "~all"},
}

var specByName = func() map[string]*spec {
	m := make(map[string]*spec, len(specs))
	for i := range specs {
		m[specs[i].name] = &specs[i]
	}
	return m
}()

// argName names an argument kind in messages and help.
func (k argKind) String() string {
	switch k {
	case argRegex:
		return "a regex"
	case argNum:
		return "a number or range"
	case argOp:
		return "an opcode name"
	case argJQ:
		return "a jq path"
	}
	return "nothing"
}

// atom is one parsed atom with its argument.
type atom struct {
	spec *spec
	arg  string // the argument as written (unquoted), for String
	col  int

	re  *regexp.Regexp // argRegex
	num numRange       // argNum
	ops uint8          // argOp: a set of opBit
	jq  *jqPath        // argJQ
	bit uint64         // scopeExchange and ~src: the atom's bit in the facts
}

// parseArg sets a's argument from the word w, written at column col.
func (a *atom) parseArg(w string, col int) error {
	a.arg = w
	switch a.spec.arg {
	case argRegex:
		re, err := regexp.Compile("(?i)" + w)
		if err != nil {
			var se *syntax.Error
			if errors.As(err, &se) {
				return errorf(col, "bad regex %q: %s", w, se.Code)
			}
			return errorf(col, "bad regex %q: %v", w, err)
		}
		a.re = re
	case argNum:
		r, err := parseRange(w)
		if err != nil {
			return errorf(col, "bad number %q for %s: %v", w, a.spec.name, err)
		}
		if a.spec.code == aCode && r.lo > 0xffff {
			return errorf(col, "bad number %q for ~code: close codes are 0-65535", w)
		}
		a.num = r
		a.arg = r.String()
	case argOp:
		set, ok := opSets[strings.ToLower(w)]
		if !ok {
			return errorf(col, "unknown op %q (want text, binary, ping, pong, close, continuation, data or control)", w)
		}
		a.ops = set
		a.arg = strings.ToLower(w)
	case argJQ:
		p, err := parseJQ(w)
		if err != nil {
			return errorf(col, "bad jq path %q: %v", w, err)
		}
		a.jq = p
	}
	return nil
}

// numRange is an inclusive range of integers.
type numRange struct{ lo, hi int64 }

func (r numRange) has(n int64) bool { return r.lo <= n && n <= r.hi }

// String writes r back in the form parseRange reads.
func (r numRange) String() string {
	switch {
	case r.lo == r.hi:
		return strconv.FormatInt(r.lo, 10)
	case r.lo == 0 && r.hi == math.MaxInt64:
		return ">=0"
	case r.hi == math.MaxInt64:
		return ">" + strconv.FormatInt(r.lo-1, 10)
	case r.lo == 0:
		return "<" + strconv.FormatInt(r.hi+1, 10)
	}
	return strconv.FormatInt(r.lo, 10) + "-" + strconv.FormatInt(r.hi, 10)
}

// parseRange reads N, >N, <N, >=N, <=N, N-M, or digits ending in x (4xx is
// 400-499). Numbers are decimal and not negative.
func parseRange(w string) (numRange, error) {
	num := func(s string) (int64, error) {
		if s == "" || strings.Trim(s, "0123456789") != "" {
			return 0, errors.New("want digits")
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, errors.New("too large")
		}
		return n, nil
	}
	switch {
	case strings.HasPrefix(w, ">="):
		n, err := num(w[2:])
		return numRange{n, math.MaxInt64}, err
	case strings.HasPrefix(w, "<="):
		n, err := num(w[2:])
		return numRange{0, n}, err
	case strings.HasPrefix(w, ">"):
		n, err := num(w[1:])
		if err == nil && n == math.MaxInt64 {
			err = errors.New("too large")
		}
		return numRange{n + 1, math.MaxInt64}, err
	case strings.HasPrefix(w, "<"):
		n, err := num(w[1:])
		if err == nil && n == 0 {
			return numRange{}, errors.New("nothing is below 0")
		}
		return numRange{0, n - 1}, err
	}
	if lo, hi, ok := strings.Cut(w, "-"); ok {
		a, err := num(lo)
		if err != nil {
			return numRange{}, err
		}
		b, err := num(hi)
		if err != nil {
			return numRange{}, err
		}
		if a > b {
			return numRange{}, fmt.Errorf("%d is above %d", a, b)
		}
		return numRange{a, b}, nil
	}
	if x := strings.TrimRight(w, "xX"); x != w && x != "" && len(w) <= 18 {
		n, err := num(x)
		if err != nil {
			return numRange{}, err
		}
		scale := int64(1)
		for range len(w) - len(x) {
			scale *= 10
		}
		return numRange{n * scale, n*scale + scale - 1}, nil
	}
	n, err := num(w)
	return numRange{n, n}, err
}

// Opcode bits for ~op.
const (
	opText uint8 = 1 << iota
	opBinary
	opPing
	opPong
	opClose
	opCont
)

var opSets = map[string]uint8{
	"text": opText, "binary": opBinary, "ping": opPing, "pong": opPong, "close": opClose,
	"continuation": opCont, "data": opText | opBinary, "control": opPing | opPong | opClose,
}

// opBitOfName is the bit of a message's op, 0 for an unknown one.
func opBitOfName(op string) uint8 {
	switch op {
	case "text":
		return opText
	case "binary":
		return opBinary
	case "ping":
		return opPing
	case "pong":
		return opPong
	case "close":
		return opClose
	case "continuation":
		return opCont
	}
	return 0
}

// opBitOfCode is the bit of a frame opcode (RFC 6455 section 5.2).
func opBitOfCode(c uint8) uint8 {
	switch c {
	case 0:
		return opCont
	case 1:
		return opText
	case 2:
		return opBinary
	case 8:
		return opClose
	case 9:
		return opPing
	case 10:
		return opPong
	}
	return 0
}
