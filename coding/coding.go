// Package coding undoes the content codings of HTTP message bodies (RFC
// 9110 section 8.4.1): gzip (RFC 1952), deflate (zlib, RFC 1950; raw
// deflate, RFC 1951, as browsers accept it too), br (brotli, RFC 7932) and
// zstd (RFC 8878, with RFC 9659's 8 MiB window). A Content-Encoding that
// lists several codings is undone in the reverse of the order listed, the
// order they were applied in.
//
// frametap decodes a copy of a body for display, search and the capture's
// decoded_len; the bytes relayed and recorded are those that crossed the
// wire. Decoding is bounded: a Stream stops at its limit of decoded bytes,
// so a decompression bomb (1 GiB of zeros is 1 MiB of gzip) costs the
// limit's worth of work and the decoders' windows, never its claimed size.
// A body that claims a coding it does not have, or a coding frametap does
// not know, is an error that says why: the caller shows the body raw.
//
// Streams are fed chunk by chunk (push) while the decoders pull: each
// Stream runs its decoders in a coroutine (iter.Pull), which is resumed on
// the caller's goroutine for each chunk, so the caller never waits for
// another goroutine and decoding costs what the decoders cost. A Stream is
// not safe for concurrent use; the package's functions are.
package coding

import (
	"errors"
	"fmt"
	"strings"
)

// Causes of the errors a Stream reports. Each is the Cause of an *Error:
// test with errors.Is.
var (
	// ErrUnknown: a coding frametap does not decode (compress, aes128gcm,
	// a dictionary coding, or a name it does not know).
	ErrUnknown = errors.New("content coding not decoded by frametap")
	// ErrCorrupt: the body does not decode as the coding it claims.
	ErrCorrupt = errors.New("body does not decode as its content coding")
	// ErrLimit: decoding stopped at the Stream's limit of decoded bytes.
	ErrLimit = errors.New("decoding stopped at its limit")
	// ErrCutShort: the encoded bytes ended inside the coding's stream (a
	// body kept only in part, or cut short on the wire).
	ErrCutShort = errors.New("encoded body cut short")
)

// Names of the codings this package decodes, as Content-Encoding spells
// them (lower case); x-gzip is gzip (RFC 9110 section 8.4.1.3).
const (
	Gzip    = "gzip"
	Deflate = "deflate"
	Brotli  = "br"
	Zstd    = "zstd"
)

// Parse returns the content codings listed by the values of a message's
// Content-Encoding fields (each a comma-separated list), in the order they
// were applied, lower-cased, without "identity" and empty items; x-gzip is
// returned as gzip. It returns nil when the body is not encoded.
func Parse(values []string) []string {
	var cs []string
	for _, v := range values {
		for item := range strings.SplitSeq(v, ",") {
			c := strings.ToLower(strings.TrimSpace(item))
			switch c {
			case "", "identity":
				continue
			case "x-gzip":
				c = Gzip
			}
			cs = append(cs, c)
		}
	}
	return cs
}

// Known reports whether c (as Parse returns it) is a coding this package
// decodes.
func Known(c string) bool {
	switch c {
	case Gzip, Deflate, Brotli, Zstd:
		return true
	}
	return false
}

// check returns the error for the first coding of cs that is not known.
func check(cs []string) error {
	for _, c := range cs {
		if Known(c) {
			continue
		}
		why := ""
		switch {
		case c == "compress" || c == "x-compress":
			why = " (Unix compress, LZW)"
		case c == "aes128gcm":
			why = " (it is encrypted, RFC 8188)"
		case c == "dcb" || c == "dcz":
			why = " (it needs a shared dictionary, RFC 9842)"
		}
		return &Error{Coding: clip(c), Cause: ErrUnknown, Detail: why}
	}
	return nil
}

// Error is why a body did not decode: the coding and one of the causes
// above, with the decoder's detail. It is not changed once made.
type Error struct {
	Coding string // the coding that failed, e.g. "gzip"; a list for ErrLimit
	Cause  error  // ErrUnknown, ErrCorrupt, ErrLimit or ErrCutShort
	Detail string // the decoder's words, or the limit
}

func (e *Error) Error() string {
	switch e.Cause {
	case ErrUnknown:
		return fmt.Sprintf("content coding %q is not decoded by frametap%s", e.Coding, e.Detail)
	case ErrCorrupt:
		return fmt.Sprintf("not valid %s: %s", e.Coding, e.Detail)
	case ErrLimit:
		return fmt.Sprintf("stopped decoding %s at %s bytes: the bound on decoding (a decompression bomb, or a body larger than frametap decodes)", e.Coding, e.Detail)
	}
	return e.Coding + " stream cut short" + e.Detail
}

func (e *Error) Unwrap() error { return e.Cause }

// clip bounds a coding name taken off the wire for an error message.
func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Describe names cs for people: "gzip", "br then gzip undone" is spelled
// in the order they were applied: "gzip, br".
func Describe(cs []string) string { return strings.Join(cs, ", ") }
