package decode

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Errors of the Engine.IO and Socket.IO decoders. Each error they return
// wraps one of these: test with errors.Is. The packets are kept as they came
// whatever the decoder thinks of them.
var (
	// ErrEIOPacket reports an Engine.IO packet that breaks the protocol:
	// an unknown type, an empty packet, base64 that does not decode, an
	// open packet without its JSON, data on a packet that takes none.
	ErrEIOPacket = errors.New("engine.io packet")
	// ErrEIOLength reports an Engine.IO v3 payload whose length prefix is
	// not the length of the packet that follows (engine.io-protocol v3,
	// "Payload"): the rest of the payload is kept as one invalid packet.
	ErrEIOLength = errors.New("engine.io payload length prefix")
	// ErrEIOVersion reports an Engine.IO v3 payload (length-prefixed) in
	// an exchange that asked for v4, which separates packets with 0x1e.
	ErrEIOVersion = errors.New("engine.io version")
)

// EIOType is an Engine.IO packet type (engine.io-protocol v4, "Protocol").
type EIOType uint8

const (
	EIOOpen    EIOType = iota // 0: the handshake, from the server
	EIOClose                  // 1: the transport can be closed
	EIOPing                   // 2: heartbeat, or the upgrade probe
	EIOPong                   // 3: its answer
	EIOMessage                // 4: data for the layer above
	EIOUpgrade                // 5: the client switches transports
	EIONoop                   // 6: ends a pending poll during an upgrade

	EIOInvalid EIOType = 255 // not a packet: kept whole as Data
)

var eioNames = [...]string{"open", "close", "ping", "pong", "message", "upgrade", "noop"}

// String names the type as the protocol does: "open", "close", "ping",
// "pong", "message", "upgrade", "noop", or "invalid".
func (t EIOType) String() string {
	if int(t) < len(eioNames) {
		return eioNames[t]
	}
	return "invalid"
}

// EIOPacket is one Engine.IO packet: from a polling payload (an HTTP body)
// or a WebSocket message.
type EIOPacket struct {
	Type EIOType
	// Binary is set on a binary message: a binary WebSocket message, or
	// `b` and base64 in a polling payload.
	Binary bool
	// Data is what follows the type: text as sent; the data of a binary
	// message, decoded from base64 in a polling payload. For an invalid
	// packet, the whole packet. It shares the input's memory unless it
	// was decoded from base64.
	Data   []byte
	Len    int // bytes of the packet on the wire, without separator or length prefix
	Offset int // where the packet starts in its payload or message
}

// EIOHandshake is the JSON of an open packet (engine.io-protocol v4,
// "Handshake").
type EIOHandshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"` // milliseconds
	PingTimeout  int64    `json:"pingTimeout"`  // milliseconds
	MaxPayload   int64    `json:"maxPayload"`   // bytes; 0 in v3, which has none
}

// ParseEIOOpen decodes the data of an open packet.
func ParseEIOOpen(data []byte) (EIOHandshake, error) {
	var h EIOHandshake
	if err := json.Unmarshal(data, &h); err != nil {
		return EIOHandshake{}, fmt.Errorf("%w: open packet: its JSON does not parse: %v", ErrEIOPacket, err)
	}
	if h.SID == "" {
		return h, fmt.Errorf("%w: open packet without a sid", ErrEIOPacket)
	}
	return h, nil
}

// ParseEIOMessage decodes one WebSocket message as an Engine.IO packet:
// "Each Engine.IO packet is sent in its own WebSocket frame", and binary
// payloads "are sent as is" (engine.io-protocol v4, "Packet encoding"). In
// version 3 a binary message starts with the packet type as a byte.
func ParseEIOMessage(msg []byte, binary bool, version int) (EIOPacket, error) {
	if binary {
		if version == 3 {
			if len(msg) == 0 || msg[0] > byte(EIONoop) {
				return EIOPacket{Type: EIOInvalid, Binary: true, Data: msg, Len: len(msg)}, fmt.Errorf("%w: a binary v3 message must start with its type (0 to 6)", ErrEIOPacket)
			}
			return EIOPacket{Type: EIOType(msg[0]), Binary: true, Data: msg[1:], Len: len(msg)}, nil
		}
		return EIOPacket{Type: EIOMessage, Binary: true, Data: msg, Len: len(msg)}, nil
	}
	return eioText(msg, 0, eioWebSocket)
}

// eioFraming is where a text packet came from.
type eioFraming uint8

const (
	eioWebSocket eioFraming = iota // a WebSocket message
	eioPolling4                    // a v4 polling payload: `b<base64>` is a binary message
	eioPolling3                    // a v3 polling payload: `b<type><base64>`
)

// eioText decodes one text packet: `<type>[<data>]`, or in a polling
// payload `b<base64>` (`b<type><base64>` in version 3).
func eioText(p []byte, off int, from eioFraming) (EIOPacket, error) {
	pk := EIOPacket{Type: EIOInvalid, Data: p, Len: len(p), Offset: off}
	if len(p) == 0 {
		return pk, fmt.Errorf("%w: empty packet at offset %d", ErrEIOPacket, off)
	}
	if p[0] == 'b' && from != eioWebSocket {
		enc := p[1:]
		pk.Type, pk.Binary = EIOMessage, true
		if from == eioPolling3 {
			if len(enc) == 0 || enc[0] < '0' || enc[0] > '6' {
				pk.Type = EIOInvalid
				return pk, fmt.Errorf("%w: base64 packet at offset %d without its type", ErrEIOPacket, off)
			}
			pk.Type = EIOType(enc[0] - '0')
			enc = enc[1:]
		}
		data, err := eioBase64(enc)
		if err != nil {
			pk.Type, pk.Binary = EIOInvalid, false
			return pk, fmt.Errorf("%w: binary packet at offset %d: %v", ErrEIOPacket, off, err)
		}
		pk.Data = data
		return pk, nil
	}
	if p[0] < '0' || p[0] > '6' {
		return pk, fmt.Errorf("%w: unknown packet type %q at offset %d", ErrEIOPacket, eioClip(p, 1), off)
	}
	pk.Type, pk.Data = EIOType(p[0]-'0'), p[1:]
	switch pk.Type {
	case EIOOpen:
		if _, err := ParseEIOOpen(pk.Data); err != nil {
			return pk, fmt.Errorf("at offset %d: %w", off, err)
		}
	case EIOClose, EIOUpgrade, EIONoop:
		if len(pk.Data) > 0 {
			return pk, fmt.Errorf("%w: %s packet at offset %d carries data %q, which the type takes none of", ErrEIOPacket, pk.Type, off, eioClip(pk.Data, 32))
		}
	}
	return pk, nil
}

// eioBase64 decodes base64 as Node's Buffer.from(s, "base64") accepts it
// from a well-behaved peer: padded or not.
func eioBase64(enc []byte) ([]byte, error) {
	dec := base64.StdEncoding
	if len(enc)%4 != 0 {
		dec = base64.RawStdEncoding
	}
	out := make([]byte, dec.DecodedLen(len(enc)))
	n, err := dec.Decode(out, enc)
	if err != nil {
		return nil, err
	}
	return out[:n], nil
}

// ParseEIOPayload splits a polling body (the body of a GET's response or a
// POST) into its packets. version is the EIO query parameter of the
// request: 4 joins packets with the record separator 0x1e (engine.io-protocol
// v4, "HTTP long-polling"); 3 prefixes each with its length in UTF-16 code
// units, `<length>:<packet>`, or uses the binary form that starts with a 0
// or 1 byte (v3, "Payload"). A v4 body that reads exactly as a v3 one is
// decoded as v3 and reported (ErrEIOVersion).
//
// Every byte of the body is in a returned packet: what does not decode is
// an EIOInvalid packet. err reports the first problem, and how many there
// were.
func ParseEIOPayload(body []byte, version int) (packets []EIOPacket, err error) {
	var first error
	problems := 0
	note := func(e error) {
		if e == nil {
			return
		}
		problems++
		if first == nil {
			first = e
		}
	}
	switch {
	case len(body) > 0 && body[0] <= 1:
		packets = eioV3Binary(body, note)
	case version == 3:
		packets = eioV3Text(body, note)
	case eioLooksV3(body):
		note(fmt.Errorf("%w: a v3 payload (length prefixes) where v4 was asked for: decoded as v3", ErrEIOVersion))
		packets = eioV3Text(body, note)
	default:
		for off := 0; off <= len(body); {
			k := bytes.IndexByte(body[off:], 0x1e)
			if k < 0 {
				k = len(body) - off
			}
			pk, e := eioText(body[off:off+k], off, eioPolling4)
			note(e)
			packets = append(packets, pk)
			off += k + 1
		}
	}
	if problems > 1 {
		first = fmt.Errorf("%w (and %d more problems in this payload)", first, problems-1)
	}
	return packets, first
}

// eioLooksV3 reports whether body reads exactly as a v3 text payload.
func eioLooksV3(body []byte) bool {
	if len(body) < 2 || body[0] < '0' || body[0] > '9' {
		return false
	}
	k := bytes.IndexByte(body, ':')
	if k < 1 || k > 10 {
		return false
	}
	bad := false
	eioV3Text(body, func(e error) { bad = bad || e != nil })
	return !bad
}

// eioV3Text splits a v3 text payload: `<length>:<packet>...`, the length in
// UTF-16 code units (engine.io-protocol v3: "Please note that we are not
// counting bytes, but characters").
func eioV3Text(body []byte, note func(error)) (packets []EIOPacket) {
	off := 0
	rest := func(msg string) {
		note(fmt.Errorf("%w: %s at offset %d: the rest of the payload is not decoded", ErrEIOLength, msg, off))
		packets = append(packets, EIOPacket{Type: EIOInvalid, Data: body[off:], Len: len(body) - off, Offset: off})
	}
	for off < len(body) {
		k := 0
		n := 0
		for off+k < len(body) && body[off+k] >= '0' && body[off+k] <= '9' && k < 10 {
			n = n*10 + int(body[off+k]-'0')
			k++
		}
		if k == 0 || off+k == len(body) || body[off+k] != ':' {
			rest("no length prefix")
			return packets
		}
		start := off + k + 1
		end, ok := eioUTF16Span(body[start:], n)
		if !ok {
			rest(fmt.Sprintf("length prefix %d is more than the %d bytes left", n, len(body)-start))
			return packets
		}
		if n == 0 {
			off = start // an empty packet: v3 parsers skip it
			continue
		}
		pk, e := eioText(body[start:start+end], start, eioPolling3)
		note(e)
		packets = append(packets, pk)
		off = start + end
	}
	return packets
}

// eioUTF16Span is how many bytes of p hold its first n UTF-16 code units.
// Each invalid byte counts as one unit, as it decodes to U+FFFD.
func eioUTF16Span(p []byte, n int) (int, bool) {
	i := 0
	for n > 0 {
		if i == len(p) {
			return i, false
		}
		r, size := utf8.DecodeRune(p[i:])
		i += size
		n--
		if r > 0xFFFF {
			n-- // a surrogate pair
		}
	}
	return i, n == 0
}

// eioV3Binary splits a v3 binary payload: for each packet, a 0 (text) or 1
// (binary) byte, the length's decimal digits as bytes 0 to 9, 255, then the
// packet (engine.io-protocol v3, "Payload").
func eioV3Binary(body []byte, note func(error)) (packets []EIOPacket) {
	for off := 0; off < len(body); {
		text := body[off] == 0
		i, n := off+1, 0
		for i < len(body) && body[i] <= 9 && i-off <= 10 {
			n = n*10 + int(body[i])
			i++
		}
		if body[off] > 1 || i == len(body) || body[i] != 255 || i+1+n > len(body) {
			note(fmt.Errorf("%w: binary payload: a bad length header at offset %d: the rest of the payload is not decoded", ErrEIOLength, off))
			return append(packets, EIOPacket{Type: EIOInvalid, Data: body[off:], Len: len(body) - off, Offset: off})
		}
		p := body[i+1 : i+1+n]
		var pk EIOPacket
		var err error
		if text {
			pk, err = eioText(p, i+1, eioPolling3)
		} else {
			pk, err = ParseEIOMessage(p, true, 3)
			pk.Offset = i + 1
		}
		note(err)
		packets = append(packets, pk)
		off = i + 1 + n
	}
	return packets
}

// EIOTarget is what the request-target of an Engine.IO request says
// (engine.io-protocol v4, "Query parameters").
type EIOTarget struct {
	Path      string // the path, e.g. "/socket.io/"
	EIO       int    // the EIO parameter: 4, or 3 when it is not "4", as the reference server reads it
	Transport string // "polling" or "websocket", as sent
	SID       string // the session; "" on the request that opens one
}

// ParseEIOTarget reads an HTTP request-target (origin- or absolute-form)
// as an Engine.IO request: ok when its path is path (any of "/socket.io/"
// and "/engine.io/" when path is "") and its query names a transport.
func ParseEIOTarget(target, path string) (t EIOTarget, ok bool) {
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return t, false
	}
	p := u.Path
	switch {
	case path == "" && (p == "/socket.io/" || p == "/engine.io/"):
	case path != "" && (p == path || p+"/" == path || p == path+"/"):
	default:
		return t, false
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil || q.Get("transport") == "" {
		return t, false
	}
	t = EIOTarget{Path: p, EIO: 3, Transport: q.Get("transport"), SID: q.Get("sid")}
	if q.Get("EIO") == "4" {
		t.EIO = 4
	}
	return t, true
}

// eioClip quotes at most n bytes of p, for a message.
func eioClip(p []byte, n int) string {
	if len(p) <= n {
		return string(p)
	}
	return strings.ToValidUTF8(string(p[:n]), "\uFFFD") + "…"
}
