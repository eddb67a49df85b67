package capture

import (
	"strconv"
	"time"
)

// appendHTTPText appends what the text line says of readable bodies and
// timings (issue 13): " decoded=N" or " decode-error=...", and a
// response's timings: " ms: connect=1.2 tls=3.4 send=0 wait=12 receive=3".
func (e *Event) appendHTTPText(dst []byte) []byte {
	if e.Decoded {
		dst = append(dst, " decoded="...)
		dst = strconv.AppendInt(dst, e.DecodedLen, 10)
	}
	if e.DecodeErr != "" {
		dst = append(dst, " decode-error="...)
		dst = strconv.AppendQuote(dst, e.DecodeErr)
	}
	if e.Kind != KindResponse || e.Connect <= 0 && e.TLSTime <= 0 && !e.Timed {
		return dst
	}
	dst = append(dst, " ms:"...)
	for _, t := range [...]struct {
		name string
		d    time.Duration
		on   bool
	}{
		{"connect", e.Connect, e.Connect > 0},
		{"tls", e.TLSTime, e.TLSTime > 0},
		{"send", e.Send, e.Timed},
		{"wait", e.Wait, e.Timed && e.Wait >= 0},
		{"receive", e.Receive, e.Timed},
	} {
		if t.on {
			dst = append(dst, ' ')
			dst = append(dst, t.name...)
			dst = append(dst, '=')
			dst = AppendMS(dst, max(0, t.d))
		}
	}
	return dst
}
