package decode

// utf8Whole drops an incomplete UTF-8 sequence that a cut left at the end
// of b.
func utf8Whole(b []byte) []byte {
	for k := 1; k <= 3 && k <= len(b); k++ {
		c := b[len(b)-k]
		if c < 0x80 {
			return b
		}
		if c >= 0xC0 {
			need := 2
			switch {
			case c >= 0xF0:
				need = 4
			case c >= 0xE0:
				need = 3
			}
			if k < need {
				return b[:len(b)-k]
			}
			return b
		}
	}
	return b
}

// appendUTF8Replaced appends src to dst decoded as the WHATWG Encoding
// standard's UTF-8 decoder does: each maximal invalid subsequence becomes
// one U+FFFD REPLACEMENT CHARACTER (Encoding section 8.1.1, "UTF-8
// decoder"). A leading BOM is the stream's business, not this function's.
func appendUTF8Replaced(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		b := src[i]
		if b < 0x80 {
			dst = append(dst, b)
			i++
			continue
		}
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case b >= 0xC2 && b <= 0xDF:
			need = 1
		case b >= 0xE0 && b <= 0xEF:
			need = 2
			if b == 0xE0 {
				lo = 0xA0
			} else if b == 0xED {
				hi = 0x9F
			}
		case b >= 0xF0 && b <= 0xF4:
			need = 3
			if b == 0xF0 {
				lo = 0x90
			} else if b == 0xF4 {
				hi = 0x8F
			}
		default:
			dst = append(dst, "\uFFFD"...)
			i++
			continue
		}
		j := i + 1
		for ; need > 0; need-- {
			if j == len(src) || src[j] < lo || src[j] > hi {
				break
			}
			lo, hi = 0x80, 0xBF
			j++
		}
		if need > 0 {
			// The byte at j is not consumed: it starts what comes next.
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, src[i:j]...)
		}
		i = j
	}
	return dst
}
