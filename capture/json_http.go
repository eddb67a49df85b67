package capture

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// This file writes and reads the fields of readable bodies and timings
// (issue 13): decoded_len, decode_error, decoded_body, the timings of a
// response in milliseconds, a tls event's handshake_ms.

// appendDecoded appends "decoded_len" or "decode_error" of a request or
// response whose body had a content coding.
func (e *Event) appendDecoded(dst []byte) []byte {
	if e.Decoded {
		dst = appendIntField(dst, `,"decoded_len":`, e.DecodedLen)
	}
	if e.DecodeErr != "" {
		dst = appendStringField(dst, `,"decode_error":`, e.DecodeErr)
	}
	return dst
}

// appendTimings appends a response's timings.
func (e *Event) appendTimings(dst []byte) []byte {
	if e.Connect > 0 {
		dst = appendMSField(dst, `,"connect_ms":`, e.Connect)
	}
	if e.TLSTime > 0 {
		dst = appendMSField(dst, `,"tls_ms":`, e.TLSTime)
	}
	if e.Timed {
		dst = appendMSField(dst, `,"send_ms":`, max(e.Send, 0))
		if e.Wait >= 0 {
			dst = appendMSField(dst, `,"wait_ms":`, e.Wait)
		}
		dst = appendMSField(dst, `,"receive_ms":`, max(e.Receive, 0))
	}
	return dst
}

// appendMSField appends key (,"name":) and d in milliseconds, to the
// microsecond, in the shortest form: 0, 12.5, 0.031.
func appendMSField(dst []byte, key string, d time.Duration) []byte {
	dst = append(dst, key...)
	return AppendMS(dst, d)
}

// AppendMS appends d in milliseconds, rounded to the microsecond, as the
// capture format writes timings.
func AppendMS(dst []byte, d time.Duration) []byte {
	return strconv.AppendFloat(dst, math.Round(float64(d)/1e3)/1e3, 'f', -1, 64)
}

// decodedContent is the decoded body written with --decode-bodies, as
// content is for the body.
func (e *Event) decodedContent() content {
	if (e.Kind != KindRequest && e.Kind != KindResponse) || len(e.DecodedBody) == 0 {
		return content{}
	}
	if text := keptText(e.DecodedBody, e.DecodedTruncated); utf8.Valid(text) {
		return content{field: "decoded_body", p: text}
	}
	return content{field: "decoded_body_b64", p: e.DecodedBody, b64: true}
}

// wireHTTP is what wireEvent reads of these fields.
type wireHTTP struct {
	DecodedLen       *int64   `json:"decoded_len"`
	DecodeErr        string   `json:"decode_error"`
	DecodedBody      *string  `json:"decoded_body"`
	DecodedBodyB64   []byte   `json:"decoded_body_b64"`
	DecodedTruncated bool     `json:"decoded_truncated"`
	ByFrametap       bool     `json:"by_frametap"`
	ConnectMS        *float64 `json:"connect_ms"`
	TLSMS            *float64 `json:"tls_ms"`
	SendMS           *float64 `json:"send_ms"`
	WaitMS           *float64 `json:"wait_ms"`
	ReceiveMS        *float64 `json:"receive_ms"`
	HandshakeMS      *float64 `json:"handshake_ms"`
}

// set copies w into e.
func (w *wireHTTP) set(e *Event) {
	if w.DecodedLen != nil {
		e.Decoded, e.DecodedLen = true, *w.DecodedLen
	}
	e.DecodeErr = w.DecodeErr
	if w.DecodedBody != nil {
		e.DecodedBody = nilIfEmpty([]byte(*w.DecodedBody))
	} else {
		e.DecodedBody = nilIfEmpty(w.DecodedBodyB64)
	}
	e.DecodedTruncated = w.DecodedTruncated
	e.ByFrametap = w.ByFrametap
	e.Connect = fromMS(w.ConnectMS)
	e.TLSTime = fromMS(w.TLSMS)
	e.Handshake = fromMS(w.HandshakeMS)
	if w.SendMS != nil || w.WaitMS != nil || w.ReceiveMS != nil {
		e.Timed = true
		e.Send, e.Receive = fromMS(w.SendMS), fromMS(w.ReceiveMS)
		e.Wait = -1
		if w.WaitMS != nil {
			e.Wait = fromMS(w.WaitMS)
		}
	}
}

func fromMS(ms *float64) time.Duration {
	if ms == nil {
		return 0
	}
	return time.Duration(math.Round(*ms * 1e6))
}
