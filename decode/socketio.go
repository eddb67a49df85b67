package decode

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors of the Socket.IO decoder; see also the Engine.IO ones.
var (
	// ErrSIOPacket reports a Socket.IO packet whose header breaks the
	// packet encoding (socket.io-protocol v5, "Format"): an unknown type,
	// a bad attachment count, an ack id that is no integer.
	ErrSIOPacket = errors.New("socket.io packet")
	// ErrSIOJSON reports a Socket.IO payload that is not JSON, or not the
	// JSON its type takes (an EVENT takes a non-empty array whose first
	// element is the event name). The packet is kept raw.
	ErrSIOJSON = errors.New("socket.io payload")
	// ErrSIOAttachments reports binary attachments that do not add up: a
	// binary packet whose placeholders are not numbered 0 to N-1 for its N
	// attachments, a text packet before all its attachments came, a binary
	// message with no binary packet before it.
	ErrSIOAttachments = errors.New("socket.io binary attachments")
)

// sioMaxAttachments is what socket.io-parser accepts by default
// (maxAttachments: 10); more is reported, and counted all the same.
const sioMaxAttachments = 10

// sioReserved are the event names socket.io-parser refuses in an EVENT.
var sioReserved = map[string]bool{"connect": true, "connect_error": true, "disconnect": true, "disconnecting": true, "newListener": true, "removeListener": true}

// SIOType is a Socket.IO packet type (socket.io-protocol v5, "Exchange
// protocol").
type SIOType uint8

const (
	SIOConnect      SIOType = iota // 0: connect to a namespace, or its answer
	SIODisconnect                  // 1: leave a namespace
	SIOEvent                       // 2: an event, with its arguments
	SIOAck                         // 3: the answer to an event that asked for one
	SIOConnectError                // 4: a refused connection to a namespace
	SIOBinaryEvent                 // 5: an event whose arguments hold binary attachments
	SIOBinaryAck                   // 6: an ack whose arguments hold binary attachments

	SIOInvalid SIOType = 255 // not a packet: kept whole as Data
)

var sioNames = [...]string{"CONNECT", "DISCONNECT", "EVENT", "ACK", "CONNECT_ERROR", "BINARY_EVENT", "BINARY_ACK"}

// String names the type as the protocol does: "CONNECT", ...,
// "BINARY_ACK", or "INVALID".
func (t SIOType) String() string {
	if int(t) < len(sioNames) {
		return sioNames[t]
	}
	return "INVALID"
}

// binary reports whether packets of the type carry attachments.
func (t SIOType) binary() bool { return t == SIOBinaryEvent || t == SIOBinaryAck }

// SIOPacket is one Socket.IO packet: the data of an Engine.IO message
// packet, `<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]`
// (socket.io-protocol v5, "Format"). Its slices share the memory of the
// data it was decoded from, but for Args.
type SIOPacket struct {
	Type        SIOType
	Attachments int    // BINARY_EVENT, BINARY_ACK: the binary messages that follow it
	Nsp         string // the namespace: "/" when the packet names none
	AckID       int64  // when HasAck
	HasAck      bool
	// Data is the JSON payload as sent; nil when there is none. For a
	// packet that does not decode, the whole packet.
	Data []byte
	// Event is the first element of an EVENT's or BINARY_EVENT's array:
	// the event name (a number as sent, when it is one).
	Event string
	// Args is an EVENT's other elements as a JSON array, or an ACK's
	// array; nil for other types.
	Args []byte
	// Placeholders counts the {"_placeholder":true,"num":N} objects in
	// Data that stand for binary attachments.
	Placeholders int
}

// ParseSIOPacket decodes the data of an Engine.IO text message packet as a
// Socket.IO packet, with the rules of socket.io-parser's decoder: a
// namespace is present when the header goes on with "/", up to a comma; an
// ack id is the digits after it; JSON is the rest. A packet that does not
// decode is returned as SIOInvalid with the whole text as Data, or with
// its header decoded and its payload raw when only the JSON is at fault.
func ParseSIOPacket(data []byte) (SIOPacket, error) {
	pk := SIOPacket{Type: SIOInvalid, Nsp: "/", Data: data}
	if len(data) == 0 || data[0] < '0' || data[0] > '6' {
		return pk, fmt.Errorf("%w: unknown packet type %q", ErrSIOPacket, eioClip(data, 1))
	}
	typ := SIOType(data[0] - '0')
	i := 1
	var problem error
	if typ.binary() {
		k := bytes.IndexByte(data[i:], '-')
		n, err := strconv.Atoi(string(data[i : i+max(k, 0)]))
		if k < 1 || k > 9 || err != nil || n < 1 {
			return pk, fmt.Errorf("%w: %s: no attachment count (`N-` with N from 1)", ErrSIOPacket, typ)
		}
		if n > sioMaxAttachments {
			problem = fmt.Errorf("%w: %s with %d attachments: socket.io-parser refuses more than %d by default", ErrSIOPacket, typ, n, sioMaxAttachments)
		}
		pk.Attachments = n
		i += k + 1
	}
	if i < len(data) && data[i] == '/' {
		k := bytes.IndexByte(data[i:], ',')
		if k < 0 {
			k = len(data) - i
		}
		pk.Nsp = string(data[i : i+k])
		i = min(i+k+1, len(data))
	}
	if j := sioDigits(data[i:]); j > 0 {
		id, err := strconv.ParseInt(string(data[i:i+j]), 10, 64)
		if err != nil || id > 1<<53 {
			return pk, fmt.Errorf("%w: %s: ack id %s is larger than a JavaScript integer", ErrSIOPacket, typ, eioClip(data[i:i+j], 24))
		}
		pk.AckID, pk.HasAck = id, true
		i += j
	}
	pk.Type = typ
	pk.Data = nil
	if i < len(data) {
		pk.Data = data[i:]
	}
	if err := pk.payload(); err != nil {
		problem = errors.Join(problem, err)
	}
	return pk, problem
}

func sioDigits(p []byte) int {
	for i, c := range p {
		if c < '0' || c > '9' {
			return i
		}
	}
	return len(p)
}

// payload checks the JSON a packet carries against what its type takes
// (socket.io-parser's isPayloadValid), and takes the event name and
// arguments out of it.
func (pk *SIOPacket) payload() error {
	if pk.Data == nil {
		switch pk.Type {
		case SIOEvent, SIOBinaryEvent, SIOAck, SIOBinaryAck, SIOConnectError:
			return fmt.Errorf("%w: %s without its payload", ErrSIOJSON, pk.Type)
		}
		return nil
	}
	if !json.Valid(pk.Data) {
		return fmt.Errorf("%w: %s: broken JSON %q: kept raw", ErrSIOJSON, pk.Type, eioClip(pk.Data, 48))
	}
	if pk.Type.binary() {
		pk.Placeholders = sioPlaceholders(pk.Data, nil)
	}
	first := pk.Data[0]
	want := ""
	switch pk.Type {
	case SIOConnect:
		if first != '{' {
			want = "an object"
		}
	case SIODisconnect:
		want = "no payload"
	case SIOConnectError:
		if first != '{' && first != '"' {
			want = "an object or a string"
		}
	case SIOAck, SIOBinaryAck:
		if first != '[' {
			want = "an array"
			break
		}
		pk.Args = pk.Data
	case SIOEvent, SIOBinaryEvent:
		name, args, ok := sioSplitEvent(pk.Data)
		if !ok {
			want = "an array whose first element is the event name"
			break
		}
		pk.Event, pk.Args = name, args
		if sioReserved[name] {
			return fmt.Errorf("%w: %s named %q, a name socket.io reserves: its peers refuse it", ErrSIOJSON, pk.Type, name)
		}
	}
	if want != "" {
		return fmt.Errorf("%w: %s takes %s, not %q", ErrSIOJSON, pk.Type, want, eioClip(pk.Data, 48))
	}
	return nil
}

// sioSplitEvent takes the event name, a string or a number, off the front
// of a JSON array (valid JSON), and returns the rest as an array. The
// bytes of the arguments are those sent; only the brackets are new. It
// scans the name's token itself: the JSON is known to be valid, and a
// json.Decoder costs a dozen allocations a packet.
func sioSplitEvent(data []byte) (name string, args []byte, ok bool) {
	i := sioSkipWS(data, 0)
	if i >= len(data) || data[i] != '[' {
		return "", nil, false
	}
	i = sioSkipWS(data, i+1)
	if i >= len(data) {
		return "", nil, false
	}
	end := i + 1
	switch c := data[i]; {
	case c == '"':
		for end < len(data) && data[end] != '"' {
			if data[end] == '\\' {
				end++
			}
			end++
		}
		end++ // the closing quote
		if end > len(data) {
			return "", nil, false
		}
		tok := data[i:end]
		if bytes.IndexByte(tok, '\\') < 0 && utf8.Valid(tok) {
			name = string(tok[1 : len(tok)-1])
		} else if json.Unmarshal(tok, &name) != nil {
			return "", nil, false
		}
	case c == '-' || '0' <= c && c <= '9':
		for end < len(data) && strings.IndexByte("0123456789.eE+-", data[end]) >= 0 {
			end++
		}
		name = string(data[i:end])
	default:
		return "", nil, false
	}
	rest := data[sioSkipWS(data, end):]
	if len(rest) > 0 && rest[0] == ',' {
		rest = rest[1:]
	}
	args = append(append(make([]byte, 0, len(rest)+1), '['), rest...)
	return name, args, true
}

// sioSkipWS returns the index of the first byte of p from i on that is no
// JSON whitespace (RFC 8259 section 2).
func sioSkipWS(p []byte, i int) int {
	for i < len(p) && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n') {
		i++
	}
	return i
}

// sioPlaceholders counts the placeholder objects in JSON data, appending
// each one's num to nums when nums is not nil (-1 for a num that is not a
// non-negative integer).
func sioPlaceholders(data []byte, nums *[]int) int {
	if !bytes.Contains(data, []byte(`"_placeholder"`)) {
		return 0
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return 0
	}
	n := 0
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			if v["_placeholder"] == true {
				n++
				if nums != nil {
					num, err := strconv.Atoi(fmt.Sprint(v["num"]))
					if err != nil || num < 0 {
						num = -1
					}
					*nums = append(*nums, num)
				}
				return
			}
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return n
}

// SIOStream follows the Socket.IO packets that one side of an Engine.IO
// session sends, in order, across the session's transports (polling
// requests or responses, then the WebSocket), to pair each binary packet
// with the binary messages that carry its attachments ("binary attachments
// follow as separate EIO binary messages"). The zero value is ready. It is
// not safe for concurrent use.
type SIOStream struct {
	want, got int     // attachments the last binary packet announced, and came
	of        SIOType // its type
	ack       int64   // its ack id, -1 when none
}

// Text decodes the data of a text message packet as a Socket.IO packet. It
// reports the attachments of an earlier binary packet that did not come
// before it.
func (s *SIOStream) Text(data []byte) (SIOPacket, error) {
	var owed error
	if s.want > 0 {
		owed = s.missing("a text packet came")
	}
	pk, err := ParseSIOPacket(data)
	if pk.Type.binary() {
		s.want, s.got, s.of, s.ack = pk.Attachments, 0, pk.Type, -1
		if pk.HasAck {
			s.ack = pk.AckID
		}
		var nums []int
		sioPlaceholders(pk.Data, &nums)
		if e := sioCheckPlaceholders(pk.Type, pk.Attachments, nums); e != nil {
			err = errors.Join(err, e)
		}
	}
	return pk, errors.Join(owed, err)
}

// Binary counts a binary message packet as the next attachment of the
// binary packet before it: the n-th of its of attachments, from 1. n is 0
// when no binary packet was owed one.
func (s *SIOStream) Binary() (n, of int, err error) {
	if s.want == 0 {
		return 0, 0, fmt.Errorf("%w: a binary message with no BINARY_EVENT or BINARY_ACK owed one", ErrSIOAttachments)
	}
	s.got++
	n, of = s.got, s.want
	if s.got == s.want {
		s.want, s.got = 0, 0
	}
	return n, of, nil
}

// End reports the attachments still owed when the session ends.
func (s *SIOStream) End() error {
	if s.want == 0 {
		return nil
	}
	return s.missing("the session ended")
}

func (s *SIOStream) missing(when string) error {
	what := s.of.String()
	if s.ack >= 0 {
		what += fmt.Sprintf(" (ack id %d)", s.ack)
	}
	err := fmt.Errorf("%w: %s announced %d attachments and %d came before %s", ErrSIOAttachments, what, s.want, s.got, when)
	s.want, s.got = 0, 0
	return err
}

// sioCheckPlaceholders checks that a binary packet's placeholders number
// its attachments 0 to n-1, each once, as socket.io-parser's encoder does.
func sioCheckPlaceholders(t SIOType, n int, nums []int) error {
	if len(nums) != n {
		return fmt.Errorf("%w: %s announces %d attachments and holds %d placeholders", ErrSIOAttachments, t, n, len(nums))
	}
	seen := make([]bool, n)
	for _, num := range nums {
		if num < 0 || num >= n || seen[num] {
			return fmt.Errorf("%w: %s: placeholder num %d is not one of 0 to %d, once each", ErrSIOAttachments, t, num, n-1)
		}
		seen[num] = true
	}
	return nil
}
