package har

import (
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// This file reads the values of a HAR's fields as capture events want
// them: bodies, addresses, headers, dates and durations.

// contentBytes decodes a body or payload: base64 when encoding says so
// (standard, or URL-safe, with or without padding), the text's bytes
// otherwise or when it is not base64 after all.
func contentBytes(text, encoding string) []byte {
	if !strings.EqualFold(encoding, "base64") {
		return []byte(text)
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(text); err == nil {
			return b
		}
	}
	return []byte(text)
}

// serverAddr is the entry's server as host:port: serverIPAddress (else
// the URL's host) with the port from connection when that is a port
// (connIsPort: all but older Chrome's HARs), else from the URL.
func serverAddr(e *InEntry, connIsPort bool) string {
	u, _ := url.Parse(e.Request.URL)
	host := strings.Trim(e.ServerIPAddress.V, "[]")
	if host == "" && u != nil {
		host = u.Hostname()
	}
	if host == "" {
		return ""
	}
	port := ""
	if p, err := strconv.ParseUint(e.Connection.V, 10, 16); connIsPort && err == nil && p > 0 {
		port = e.Connection.V
	} else if u != nil {
		port = u.Port()
		if port == "" {
			port = map[string]string{"http": "80", "ws": "80", "https": "443", "wss": "443"}[u.Scheme]
		}
	}
	if port == "" {
		return host
	}
	if strings.Contains(host, ":") {
		return "[" + host + "]:" + port
	}
	return host + ":" + port
}

func inHeaders(hs []inNameValue) []capture.Header {
	if len(hs) == 0 {
		return nil
	}
	out := make([]capture.Header, len(hs))
	for i, h := range hs {
		out[i] = capture.Header{h.Name.V, h.Value.V}
	}
	return out
}

// wsAccept is the Sec-WebSocket-Accept that answers key (RFC 6455
// section 4.2.2).
func wsAccept(key string) string {
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// parseDate reads startedDateTime: ISO 8601 as the writers write it, with
// a zone (Z or an offset) and any number of fraction digits.
func parseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, err
	}
	if t.Year() < 1970 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("year %d", t.Year())
	}
	return t.UTC(), nil
}

// sumKnown adds the timings that are known, in milliseconds.
func sumKnown(ns ...flexNum) float64 {
	var s float64
	for _, n := range ns {
		if v, ok := n.known(); ok && !math.IsInf(v, 0) {
			s += v
		}
	}
	return s
}

func known0(n flexNum) float64 {
	v, _ := n.known()
	if math.IsInf(v, 0) {
		return 0
	}
	return v
}

// msDuration converts milliseconds, bounded to a day so that a wild value
// cannot overflow a time.
func msDuration(v float64) time.Duration {
	return time.Duration(min(max(v, 0), 24*3600*1000) * float64(time.Millisecond))
}
