package capture

import (
	"encoding/base64"
	"encoding/binary"
	"slices"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// This file holds the encoder's hot helpers: what every event of a busy
// connection goes through (its time, its short strings) and what a large
// binary payload goes through (base64). Each writes exactly what the
// general code it stands in for writes; the tests compare them on every
// input the fuzzers find.

// appendTime appends t as time.RFC3339Nano writes it in UTC, without the
// general layout interpreter: a capture writes one per event. Years
// outside 1970-9999 go the general way.
func appendTime(dst []byte, t time.Time) []byte {
	const maxUnix = 253402300799 // 9999-12-31T23:59:59Z
	u := t.Unix()
	if u < 0 || u > maxUnix {
		return t.UTC().AppendFormat(dst, time.RFC3339Nano)
	}
	days, secs := u/86400, u%86400
	var b [30]byte // 2006-01-02T15:04:05.999999999Z
	d := lastDate.Load()
	if d == nil || d.days != days {
		d = &date{days: days}
		y, m, dd := civil(days)
		put2(d.text[0:], int(y/100))
		put2(d.text[2:], int(y%100))
		d.text[4] = '-'
		put2(d.text[5:], m)
		d.text[7] = '-'
		put2(d.text[8:], dd)
		lastDate.Store(d)
	}
	copy(b[:10], d.text[:])
	b[10] = 'T'
	put2(b[11:], int(secs/3600))
	b[13] = ':'
	put2(b[14:], int(secs/60%60))
	b[16] = ':'
	put2(b[17:], int(secs%60))
	n := 19
	if ns := t.Nanosecond(); ns != 0 {
		b[19] = '.'
		b[20] = byte('0' + ns/1e8)
		put2(b[21:], ns/1e6%100)
		put2(b[23:], ns/1e4%100)
		put2(b[25:], ns/100%100)
		put2(b[27:], ns%100)
		n = 29
		for b[n-1] == '0' { // RFC3339Nano drops trailing zeros
			n--
		}
	}
	b[n] = 'Z'
	return append(dst, b[:n+1]...)
}

// timeText is the text appendTime wrote last for one stream, and its
// time. The events decoded from one read share its time, so a WebSocket
// flood, a thousand events to a read, writes each time once rather than
// once per event. A nil *timeText writes every time anew.
type timeText struct {
	t    time.Time
	n    int // bytes of text; 0: none
	text [36]byte
}

// append appends t as appendTime does.
func (c *timeText) append(dst []byte, t time.Time) []byte {
	if c == nil {
		return appendTime(dst, t)
	}
	if c.n > 0 && t == c.t { // the same wall clock, monotonic reading and location
		return append(dst, c.text[:c.n]...)
	}
	start := len(dst)
	dst = appendTime(dst, t)
	c.t, c.n = t, 0
	if n := len(dst) - start; n <= len(c.text) {
		c.n = copy(c.text[:], dst[start:])
	}
	return dst
}

// date is a day's text, as appendTime writes it.
type date struct {
	days int64 // since 1970-01-01
	text [10]byte
}

// lastDate is the day appendTime wrote last: one atomic load per event
// instead of a calendar computation, and a store once a day (more often
// only while events of different days are written at once, as an import
// does). Shared by all goroutines, it is written too rarely to contend.
var lastDate atomic.Pointer[date]

// civil converts days since 1970-01-01 (at least 0) to a proleptic
// Gregorian date: Howard Hinnant's days_from_civil inverted
// (http://howardhinnant.github.io/date_algorithms.html#civil_from_days).
func civil(days int64) (y int64, m, d int) {
	z := days + 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	if mp < 10 {
		m = int(mp + 3)
	} else {
		m = int(mp - 9)
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// put2 writes v (0-99) as two digits.
func put2(b []byte, v int) {
	b[0], b[1] = digitPairs[2*v], digitPairs[2*v+1]
}

const digitPairs = "00010203040506070809101112131415161718192021222324252627282930313233343536373839" +
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879" +
	"8081828384858687888990919293949596979899"

// jsonSafe[c] is true for the bytes a JSON string holds as they are:
// printable ASCII other than the quotation mark and the reverse solidus.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONStringFast appends s quoted: most strings of an event (its
// kind, its side, an opcode's name, a header) need no escaping and are
// copied whole; the others go through appendEscaped.
func appendJSONStringFast(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if !jsonSafe[s[i]] {
			dst = append(dst, '"')
			dst = appendEscaped(dst, s)
			return append(dst, '"')
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// b64Pairs holds, for each 12-bit value, the two characters of the
// standard base64 alphabet (RFC 4648 section 4) that encode it, first
// character in the low byte.
var b64Pairs = func() (t [4096]uint16) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for v := range t {
		t[v] = uint16(alphabet[v>>6]) | uint16(alphabet[v&63])<<8
	}
	return t
}()

// appendBase64 appends p in standard base64 with padding, exactly as
// base64.StdEncoding.AppendEncode does, about twice as fast: it encodes 6
// bytes into 8 characters per step, two characters per table lookup. At
// 64 KiB messages base64 was the capture's largest cost; this keeps the
// standard library as the only dependency (no faster encoder is on the
// module list this project installs from).
func appendBase64(dst, p []byte) []byte {
	n := base64.StdEncoding.EncodedLen(len(p))
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	si, di := 0, 0
	for ; len(p)-si >= 8; si, di = si+6, di+8 {
		x := binary.BigEndian.Uint64(p[si : si+8])
		w := uint64(b64Pairs[x>>52]) | uint64(b64Pairs[x>>40&0xfff])<<16 |
			uint64(b64Pairs[x>>28&0xfff])<<32 | uint64(b64Pairs[x>>16&0xfff])<<48
		binary.LittleEndian.PutUint64(out[di:di+8], w)
	}
	base64.StdEncoding.Encode(out[di:], p[si:])
	return dst[:len(dst)+n]
}
