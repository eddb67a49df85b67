package coding

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"strconv"
	"strings"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zlib"
	"github.com/klauspost/compress/zstd"
)

// ZstdMaxWindow is the largest zstd window a Stream accepts: RFC 9659
// section 3 has HTTP decoders enforce 8 MB ("a Window_Size ... of 8 MB is
// the upper bound"), as browsers do. A larger window is an error.
const ZstdMaxWindow = 8 << 20

// readSize is how many decoded bytes a Stream asks its decoders for at a
// time.
const readSize = 32 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// Result is what a Stream decoded.
type Result struct {
	// Len counts the decoded bytes, up to where decoding stopped when Err
	// is set.
	Len int64
	// Kept holds the first decoded bytes, at most the Stream's keep.
	Kept []byte
	// Err is nil when the whole body decoded; else it wraps ErrUnknown,
	// ErrCorrupt, ErrLimit or ErrCutShort, with the coding and the
	// detail.
	Err error
}

// Stream decodes one body whose bytes arrive in chunks: Write each chunk,
// then Close. It is not safe for concurrent use. Close must be called
// (it ends the decoders' coroutine); a Stream is not reused.
type Stream struct {
	codings []string
	limit   int64
	keep    int

	in    []byte // the chunk being fed; nil between calls
	end   bool   // Close was called: the decoders see EOF after in
	yield func(struct{}) bool
	next  func() (struct{}, bool)
	stop  func()
	done  bool // the decoders finished (or never started): Result is final
	res   Result
}

// NewStream returns a Stream that undoes codings (as Parse returns them,
// in the order applied), counts at most limit decoded bytes (then stops
// with ErrLimit) and keeps the first keep of them.
func NewStream(codings []string, limit int64, keep int) *Stream {
	s := &Stream{codings: codings, limit: max(limit, 0), keep: max(keep, 0)}
	if err := check(codings); err != nil {
		s.res.Err, s.done = err, true
		return s
	}
	if len(codings) == 0 {
		s.done = true // nothing to undo: Write counts and keeps
		return s
	}
	s.next, s.stop = iter.Pull(s.run)
	return s
}

// Write decodes p, the next chunk of the encoded body. It keeps no
// reference to p. Once decoding stopped (the end of the coded stream, an
// error, the limit) it does nothing.
func (s *Stream) Write(p []byte) {
	switch {
	case len(p) == 0:
		return
	case len(s.codings) == 0 && s.res.Err == nil:
		s.take(p)
		return
	case s.done:
		return
	}
	s.in = p
	if _, ok := s.next(); !ok {
		s.done = true
	}
	s.in = nil
}

// Len returns the decoded bytes so far.
func (s *Stream) Len() int64 { return s.res.Len }

// Close ends the body: the decoders see its end, and the Stream is done.
// It returns what was decoded. Calling it again returns the same.
func (s *Stream) Close() Result {
	if !s.done {
		s.end = true
		if _, ok := s.next(); !ok {
			s.done = true
		}
	}
	if s.stop != nil {
		s.stop()
		s.stop, s.next = nil, nil
		s.done = true
	}
	return s.res
}

// Decode undoes codings on a whole body held in memory, keeping and
// counting at most limit decoded bytes: for display. A body kept only in
// part gives what its first bytes decode to, with ErrCutShort.
func Decode(codings []string, body []byte, limit int) Result {
	s := NewStream(codings, int64(limit), limit)
	s.Write(body)
	return s.Close()
}

// take counts decoded bytes and keeps the first of them.
func (s *Stream) take(p []byte) {
	s.res.Len += int64(len(p))
	if room := s.keep - len(s.res.Kept); room > 0 {
		s.res.Kept = append(s.res.Kept, p[:min(room, len(p))]...)
	}
}

// errStopped ends the decoders when the Stream is closed before they
// finished.
var errStopped = errors.New("stream stopped")

// run is the decoders' coroutine: it pulls decoded bytes until the coded
// stream ends, an error, or the limit, and yields whenever the decoders
// need input that has not arrived yet.
func (s *Stream) run(yield func(struct{}) bool) {
	s.yield = yield
	defer func() {
		if v := recover(); v != nil { // bad input must not take the connection
			s.res.Err = &Error{Coding: Describe(s.codings), Cause: ErrCorrupt, Detail: fmt.Sprintf("the decoder failed: %v", v)}
		}
	}()
	var r io.Reader = feeder{s}
	for i := len(s.codings) - 1; i >= 0; i-- {
		c := s.codings[i]
		dr, closer, err := open(c, r)
		if err != nil {
			s.fail(c, err)
			return
		}
		if closer != nil {
			defer closer()
		}
		r = tagged{c, dr}
	}
	bp := readBufs.Get().(*[]byte)
	defer readBufs.Put(bp)
	for {
		want := int64(len(*bp))
		if room := s.limit - s.res.Len; room < want {
			want = room
		}
		if want == 0 {
			// At the limit: one byte more says whether the body ends here.
			var one [1]byte
			if n, err := r.Read(one[:]); n > 0 || err == nil {
				s.res.Err = &Error{Coding: Describe(s.codings), Cause: ErrLimit, Detail: strconv.FormatInt(s.limit, 10)}
				return
			} else if err != io.EOF {
				s.failRead(err)
			}
			return
		}
		n, err := r.Read((*bp)[:want])
		s.take((*bp)[:n])
		if err == io.EOF {
			return
		}
		if err != nil {
			s.failRead(err)
			return
		}
	}
}

// failRead records a decoder's read error.
func (s *Stream) failRead(err error) {
	if errors.Is(err, errStopped) {
		return
	}
	c := Describe(s.codings)
	var te *tagError
	if errors.As(err, &te) {
		c, err = te.coding, te.err
	}
	s.fail(c, err)
}

// fail records err, met decoding coding c.
func (s *Stream) fail(c string, err error) {
	switch {
	case errors.Is(err, errStopped):
		return
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		s.res.Err = &Error{Coding: c, Cause: ErrCutShort}
	default:
		// The decoders prefix their messages with their own name.
		msg := err.Error()
		for _, p := range []string{"gzip: ", "flate: ", "zlib: ", "brotli: ", "zstd: "} {
			msg = strings.TrimPrefix(msg, p)
		}
		s.res.Err = &Error{Coding: c, Cause: ErrCorrupt, Detail: msg}
	}
}

// feeder is the encoded bytes as the innermost decoder reads them: the
// chunk being fed, then a yield to the caller for the next one.
type feeder struct{ s *Stream }

func (f feeder) Read(p []byte) (int, error) {
	s := f.s
	for len(s.in) == 0 {
		if s.end {
			return 0, io.EOF
		}
		if !s.yield(struct{}{}) {
			return 0, errStopped
		}
	}
	n := copy(p, s.in)
	s.in = s.in[n:]
	return n, nil
}

// tagged names the coding whose decoder returned an error.
type tagged struct {
	coding string
	r      io.Reader
}

type tagError struct {
	coding string
	err    error
}

func (e *tagError) Error() string { return e.coding + ": " + e.err.Error() }
func (e *tagError) Unwrap() error { return e.err }

func (t tagged) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if err != nil && err != io.EOF && !errors.Is(err, errStopped) {
		if _, ok := err.(*tagError); !ok {
			err = &tagError{t.coding, err}
		}
	}
	return n, err
}

// Decoders are pooled: a zstd decoder holds its window (up to 8 MiB), a
// brotli one its ring buffer and tables, and making them anew for every
// body would be most of what decoding a small one costs.
var (
	gzipPool   sync.Pool // *gzip.Reader
	brotliPool sync.Pool // *brotli.Reader
	zstdPool   sync.Pool // *zstd.Decoder
)

// empty is a reader at its end, which pooled decoders are reset to so that
// they hold no reference to the Stream they decoded.
type empty struct{}

func (empty) Read([]byte) (int, error) { return 0, io.EOF }

// open returns a reader that undoes coding c on r, and what gives it back.
func open(c string, r io.Reader) (io.Reader, func(), error) {
	switch c {
	case Gzip:
		zr, _ := gzipPool.Get().(*gzip.Reader)
		var err error
		if zr == nil {
			zr, err = gzip.NewReader(r)
		} else {
			err = zr.Reset(r)
		}
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Reset(empty{}); gzipPool.Put(zr) }, nil
	case Deflate:
		// RFC 9110 section 8.4.1.2: deflate is a zlib stream (RFC 1950);
		// some servers send raw deflate (RFC 1951), which browsers read
		// too. A zlib stream starts with CMF and FLG: method 8, a window
		// of at most 32 KiB, and CMF*256+FLG a multiple of 31.
		br := bufio.NewReaderSize(r, 4<<10)
		if h, err := br.Peek(2); err == nil && h[0]&0x0f == 8 && h[0]>>4 <= 7 && (uint(h[0])<<8|uint(h[1]))%31 == 0 {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, nil, err
			}
			return zr, nil, nil
		} else if err != nil && len(h) == 0 {
			return nil, nil, err
		}
		return flate.NewReader(br), nil, nil
	case Brotli:
		br, _ := brotliPool.Get().(*brotli.Reader)
		if br == nil {
			br = brotli.NewReader(r)
		} else {
			br.Reset(r)
		}
		return br, func() { br.Reset(empty{}); brotliPool.Put(br) }, nil
	case Zstd:
		zr, _ := zstdPool.Get().(*zstd.Decoder)
		var err error
		if zr == nil {
			zr, err = zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(ZstdMaxWindow))
		} else {
			err = zr.Reset(r)
		}
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Reset(nil); zstdPool.Put(zr) }, nil
	}
	return nil, nil, &Error{Coding: clip(c), Cause: ErrUnknown}
}
