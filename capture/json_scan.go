package capture

import (
	"strconv"
)

// This file reads a capture line without encoding/json: a hand-written
// scanner over the fields wireEvent names, for the lines frametap writes.
// encoding/json spent about 15 µs on an event (reflection, a field lookup
// per key, an allocation per string); `frametap view --filter` over a
// capture of a million events took 15 s. The scanner fills the same
// wireEvent that encoding/json fills, so that UnmarshalJSON's conversion
// is one and the same, and it gives up (scan returns false) on anything it
// is not sure to read exactly as encoding/json would: a key it does not
// know (a field added to wireEvent after it, a key spelt in another case),
// null, a string with a \u surrogate or invalid UTF-8, a number of the
// wrong form or range. UnmarshalJSON then reads the line with
// encoding/json, errors included. FuzzScanEvent holds the two to the same
// result on every line.

// scanOff, set by tests and benchmarks, has every line read by
// encoding/json.
var scanOff bool

// scan sets w from the object b, as json.Unmarshal(b, w) would, and
// reports whether it could; w is then to be reset by the caller.
func (w *wireEvent) scan(b []byte) bool {
	if scanOff {
		return false
	}
	s := scanner{b: b}
	s.space()
	if !s.take('{') {
		return false
	}
	s.space()
	if s.take('}') {
		return s.end()
	}
	for {
		key, ok := s.key()
		if !ok {
			return false
		}
		s.space()
		if !s.take(':') {
			return false
		}
		s.space()
		if !w.field(&s, key) {
			return false
		}
		s.space()
		if s.take(',') {
			s.space()
			continue
		}
		if s.take('}') {
			return s.end()
		}
		return false
	}
}

// field reads the value of key into w.
func (w *wireEvent) field(s *scanner, key []byte) bool {
	ok := true
	switch string(key) {
	case "kind":
		var v string
		v, ok = s.name()
		w.Kind = Kind(v)
	case "conn":
		w.Conn, ok = s.uint(64)
	case "t":
		ok = s.time(&w.Time)
	case "from":
		w.From, ok = s.name()
	case "client":
		w.Client, ok = s.string()
	case "server":
		w.Server, ok = s.string()
	case "mode":
		w.Mode, ok = s.name()
	case "listen":
		w.Listen, ok = s.string()
	case "bytes_from_client":
		w.BytesFromClient, ok = s.int(64)
	case "bytes_from_server":
		w.BytesFromServer, ok = s.int(64)
	case "err":
		w.Err, ok = s.string()
	case "ws_closed_by":
		w.WSClosedBy, ok = s.name()
	case "ws_close_clean":
		w.WSCloseClean = new(bool)
		*w.WSCloseClean, ok = s.bool()
	case "seq":
		w.Seq, ok = intOf(s.int(strconv.IntSize))
	case "method":
		w.Method, ok = s.name()
	case "target":
		w.Target, ok = s.string()
	case "host":
		w.Host, ok = s.string()
	case "proto":
		w.Proto, ok = s.name()
	case "status":
		w.Status, ok = intOf(s.int(strconv.IntSize))
	case "status_text":
		w.StatusText, ok = s.name()
	case "headers":
		w.Headers, ok = s.headers()
	case "trailers":
		w.Trailers, ok = s.headers()
	case "body_len":
		w.BodyLen, ok = s.int(64)
	case "body":
		w.Body, ok = s.stringPtr()
	case "body_b64":
		w.BodyB64, ok = s.base64()
	case "protocol":
		w.Protocol, ok = s.name()
	case "subprotocol":
		w.Subprotocol, ok = s.string()
	case "extensions":
		w.Extensions, ok = s.string()
	case "accept_ok":
		w.AcceptOK, ok = s.bool()
	case "fin":
		w.Fin, ok = s.bool()
	case "rsv":
		w.RSV, ok = uint8Of(s.uint(8))
	case "opcode":
		w.Opcode, ok = uint8Of(s.uint(8))
	case "masked":
		w.Masked, ok = s.bool()
	case "len":
		w.Len, ok = s.int(64)
	case "op":
		w.Op, ok = s.name()
	case "frames":
		w.Frames, ok = intOf(s.int(strconv.IntSize))
	case "wire_len":
		w.WireLen, ok = s.int(64)
	case "compressed":
		w.Compressed, ok = s.bool()
	case "text":
		w.Text, ok = s.stringPtr()
	case "data":
		// base64, except in an sse event (a string): the kind, which
		// frametap writes first, says which.
		switch w.Kind {
		case "":
			return false
		case KindSSE:
			var v string
			v, ok = s.string()
			w.scanData, w.scannedData = []byte(v), ok
		default:
			w.scanData, ok = s.base64()
			w.scannedData = ok
		}
	case "code":
		w.Code, ok = s.raw() // a number or a string, as json.RawMessage
	case "reason":
		w.Reason, ok = s.string()
	case "truncated":
		w.Truncated, ok = s.bool()
	case "msg":
		w.Msg, ok = s.string()
	case "lost":
		w.Lost, ok = s.int(64)
	case "since":
		ok = s.time(&w.Since)
	case "scheme":
		w.Scheme, ok = s.name()
	case "side":
		w.Side, ok = s.name()
	case "sni":
		w.SNI, ok = s.string()
	case "alpn":
		w.ALPN, ok = s.name()
	case "version":
		w.Version, ok = s.name()
	case "cipher":
		w.Cipher, ok = s.string()
	case "subject":
		w.Subject, ok = s.string()
	case "issuer":
		w.Issuer, ok = s.string()
	case "verified":
		w.Verified, ok = s.bool()
	case "stream":
		w.Stream, ok = uint32Of(s.uint(32))
	case "pushed":
		w.Pushed, ok = s.bool()
	case "reset":
		w.Reset, ok = s.name()
	case "type":
		w.Type, ok = s.name()
	case "flags":
		w.Flags, ok = uint8Of(s.uint(8))
	case "settings":
		w.Settings, ok = s.settings()
	case "last_stream":
		w.LastStream, ok = uint32Of(s.uint(32))
	case "increment":
		w.Increment, ok = uint32Of(s.uint(32))
	case "promised":
		w.Promised, ok = uint32Of(s.uint(32))
	case "ack":
		w.Ack, ok = s.bool()
	case "h2_streams":
		var n int
		n, ok = intOf(s.int(strconv.IntSize))
		w.H2Streams = &n
	case "h2_max_open":
		w.H2MaxOpen, ok = intOf(s.int(strconv.IntSize))
	case "filter":
		w.Filter, ok = s.string()
	case "injected":
		w.Injected, ok = s.bool()
	// wireHTTP (json_http.go)
	case "decoded_len":
		var n int64
		n, ok = s.int(64)
		w.DecodedLen = &n
	case "decode_error":
		w.DecodeErr, ok = s.string()
	case "decoded_body":
		w.DecodedBody, ok = s.stringPtr()
	case "decoded_body_b64":
		w.DecodedBodyB64, ok = s.base64()
	case "decoded_truncated":
		w.DecodedTruncated, ok = s.bool()
	case "by_frametap":
		w.ByFrametap, ok = s.bool()
	case "connect_ms":
		w.ConnectMS, ok = s.floatPtr()
	case "tls_ms":
		w.TLSMS, ok = s.floatPtr()
	case "send_ms":
		w.SendMS, ok = s.floatPtr()
	case "wait_ms":
		w.WaitMS, ok = s.floatPtr()
	case "receive_ms":
		w.ReceiveMS, ok = s.floatPtr()
	case "handshake_ms":
		w.HandshakeMS, ok = s.floatPtr()
	default:
		return false
	}
	return ok
}

func intOf(v int64, ok bool) (int, bool)        { return int(v), ok }
func uint8Of(v uint64, ok bool) (uint8, bool)   { return uint8(v), ok }
func uint32Of(v uint64, ok bool) (uint32, bool) { return uint32(v), ok }
