package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// jqPath is the argument of ~jq: a jq-style path into a JSON value and,
// optionally, the scalar it must equal.
type jqPath struct {
	segs []jqSeg
	has  bool    // a value follows "="; else the path only has to exist
	val  jqValue // the value
}

// jqSeg is one step of a path: an object key or an array index.
type jqSeg struct {
	key   string
	index int // -1 for a key
}

// jqValue is a JSON scalar to compare with.
type jqValue struct {
	kind byte    // 's' string, 'n' number, 't' true, 'f' false, '0' null
	str  string  // 's'
	num  float64 // 'n'
	raw  string  // 'n': as written, for a byte-equal fast path
}

// parseJQ reads PATH or PATH=VALUE. PATH is "." alone (the whole value) or
// a sequence of .key, ."quoted key", [N] and ["quoted key"]; VALUE is a
// JSON scalar, or any other text meaning that string (.type=order is
// .type="order").
func parseJQ(w string) (*jqPath, error) {
	p := &jqPath{}
	s := strings.TrimSpace(w)
	if !strings.HasPrefix(s, ".") {
		return nil, errors.New(`a path starts with "."`)
	}
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ' ' {
		switch s[i] {
		case '.':
			i++
			if i == len(s) || strings.IndexByte("=[ ", s[i]) >= 0 {
				if i == 1 {
					continue // "." alone, or ".[0]"
				}
				return nil, errors.New(`a key is missing after "."`)
			}
			if i < len(s) && s[i] == '"' {
				k, n, err := jsonQuoted(s[i:])
				if err != nil {
					return nil, err
				}
				p.segs = append(p.segs, jqSeg{key: k, index: -1})
				i += n
				continue
			}
			j := i
			for j < len(s) && !strings.ContainsRune(".[= ", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, errors.New(`a key is missing after "."`)
			}
			p.segs = append(p.segs, jqSeg{key: s[i:j], index: -1})
			i = j
		case '[':
			if i+1 < len(s) && s[i+1] == '"' {
				k, n, err := jsonQuoted(s[i+1:])
				if err != nil || i+1+n >= len(s) || s[i+1+n] != ']' {
					return nil, errors.New(`bad quoted key in "[...]"`)
				}
				p.segs = append(p.segs, jqSeg{key: k, index: -1})
				i += 1 + n + 1
				continue
			}
			end := strings.IndexByte(s[i:], ']')
			if end < 0 {
				return nil, errors.New(`"[" without "]"`)
			}
			in := s[i+1 : i+end]
			n, err := strconv.Atoi(in)
			if err != nil || n < 0 || strings.Trim(in, "0123456789") != "" {
				return nil, errors.New(`want an index (0, 1, ...) or a quoted key in "[...]"`)
			}
			p.segs = append(p.segs, jqSeg{index: n})
			i += end + 1
		default:
			return nil, errors.New(`want ".key" or "[N]"`)
		}
	}
	rest := strings.TrimSpace(s[i:])
	if rest == "" {
		return p, nil
	}
	if rest[0] != '=' {
		return nil, errors.New(`want "=" after the path`)
	}
	v := strings.TrimSpace(rest[1:])
	if v == "" {
		return nil, errors.New(`no value after "=" (write "" for the empty string)`)
	}
	p.has = true
	switch {
	case v == "true":
		p.val.kind = 't'
	case v == "false":
		p.val.kind = 'f'
	case v == "null":
		p.val.kind = '0'
	case v[0] == '"':
		var str string
		if err := json.Unmarshal([]byte(v), &str); err != nil {
			return nil, errors.New("bad JSON string after \"=\"")
		}
		p.val = jqValue{kind: 's', str: str}
	case v[0] == '{' || v[0] == '[':
		return nil, errors.New("only strings, numbers, true, false and null are compared")
	case isJSONNumber([]byte(v)):
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return nil, errors.New("number out of range")
		}
		p.val = jqValue{kind: 'n', num: f, raw: v}
	default:
		p.val = jqValue{kind: 's', str: v}
	}
	return p, nil
}

// jsonQuoted reads the JSON string at the start of s.
func jsonQuoted(s string) (string, int, error) {
	end, ok := skipString([]byte(s), 0)
	if !ok {
		return "", 0, errors.New("unterminated quoted key")
	}
	var k string
	if err := json.Unmarshal([]byte(s[:end]), &k); err != nil {
		return "", 0, errors.New("bad quoted key")
	}
	return k, end, nil
}

// match reports whether the JSON value in b has the path (and the value).
// scratch is reused for decoding strings. Content that is not JSON does not
// match; an object or array cut short (a truncated payload) matches as far
// as it goes, since only the way to the path is read.
func (p *jqPath) match(b []byte, scratch *[]byte) bool {
	i := skipWS(b, 0)
	if i < len(b) && b[i] != '{' && b[i] != '[' {
		// A scalar must be the whole content: 42["chat"] is not JSON.
		end, ok := skipValue(b, i)
		if !ok || skipWS(b, end) != len(b) {
			return false
		}
	}
	for _, s := range p.segs {
		var ok bool
		if s.index >= 0 {
			i, ok = arrayElem(b, i, s.index)
		} else {
			i, ok = objectMember(b, i, s.key, scratch)
		}
		if !ok {
			return false
		}
	}
	end, ok := skipValue(b, i)
	if !ok {
		return false
	}
	if !p.has {
		return true
	}
	v := b[i:end]
	switch p.val.kind {
	case 't':
		return string(v) == "true"
	case 'f':
		return string(v) == "false"
	case '0':
		return string(v) == "null"
	case 's':
		if v[0] != '"' {
			return false
		}
		d, ok := decodeString(b, i, (*scratch)[:0])
		*scratch = d
		return ok && string(d) == p.val.str
	case 'n':
		if !isJSONNumber(v) {
			return false
		}
		if string(v) == p.val.raw {
			return true
		}
		f, err := strconv.ParseFloat(string(v), 64)
		return err == nil && f == p.val.num
	}
	return false
}

// objectMember finds key in the object at b[i] and returns where its value
// starts.
func objectMember(b []byte, i int, key string, scratch *[]byte) (int, bool) {
	if i >= len(b) || b[i] != '{' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return 0, false
	}
	for i < len(b) && b[i] == '"' {
		d, ok := decodeString(b, i, (*scratch)[:0])
		*scratch = d
		if !ok {
			return 0, false
		}
		end, _ := skipString(b, i)
		i = skipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, false
		}
		i = skipWS(b, i+1)
		if string(d) == key {
			return i, true
		}
		if i, ok = skipValue(b, i); !ok {
			return 0, false
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return 0, false
		}
		i = skipWS(b, i+1)
	}
	return 0, false
}

// arrayElem finds element n of the array at b[i].
func arrayElem(b []byte, i, n int) (int, bool) {
	if i >= len(b) || b[i] != '[' {
		return 0, false
	}
	i = skipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return 0, false
	}
	for k := 0; ; k++ {
		if k == n {
			return i, i < len(b)
		}
		var ok bool
		if i, ok = skipValue(b, i); !ok {
			return 0, false
		}
		i = skipWS(b, i)
		if i >= len(b) || b[i] != ',' {
			return 0, false
		}
		i = skipWS(b, i+1)
	}
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value at b[i]. Containers are
// skipped by counting brackets, not by recursion, so deep nesting costs no
// stack; their insides are checked only as far as strings go.
func skipValue(b []byte, i int) (int, bool) {
	if i >= len(b) {
		return 0, false
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{' || c == '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				end, ok := skipString(b, i)
				if !ok {
					return 0, false
				}
				i = end
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1, true
				}
			}
			i++
		}
		return 0, false
	case c == 't' || c == 'f' || c == 'n':
		for _, lit := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(b[i:], []byte(lit)) {
				return i + len(lit), true
			}
		}
		return 0, false
	default:
		j := i
		for j < len(b) && strings.IndexByte("+-0123456789.eE", b[j]) >= 0 {
			j++
		}
		return j, j > i && isJSONNumber(b[i:j])
	}
}

// skipString returns the end of the JSON string at b[i] (b[i] is '"').
func skipString(b []byte, i int) (int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return 0, false
}

// decodeString appends the JSON string at b[i] (RFC 8259 section 7),
// unescaped, to dst.
func decodeString(b []byte, i int, dst []byte) ([]byte, bool) {
	for j := i + 1; j < len(b); {
		c := b[j]
		switch {
		case c == '"':
			return dst, true
		case c != '\\':
			dst = append(dst, c)
			j++
			continue
		case j+1 >= len(b):
			return dst, false
		}
		switch e := b[j+1]; e {
		case '"', '\\', '/':
			dst = append(dst, e)
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r, ok := hex4(b, j+2)
			if !ok {
				return dst, false
			}
			j += 6
			if utf16.IsSurrogate(r) {
				if r2, ok := hex4(b, j+2); ok && j+1 < len(b) && b[j] == '\\' && b[j+1] == 'u' {
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						j += 6
					}
				}
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default:
			return dst, false
		}
		j += 2
	}
	return dst, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			r = r<<4 | rune(c-'0')
		case 'a' <= c && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case 'A' <= c && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// isJSONNumber reports whether b is a JSON number (RFC 8259 section 6).
func isJSONNumber(b []byte) bool {
	i := 0
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := i
		for i < len(b) && '0' <= b[i] && b[i] <= '9' {
			i++
		}
		if i == j {
			return false
		}
	}
	return i == len(b)
}
