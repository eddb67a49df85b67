package decode

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/gobwas/httphead"
	"github.com/gobwas/ws/wsflate"
)

// Errors of the permessage-deflate extension (RFC 7692).
var (
	// ErrExtension reports a Sec-WebSocket-Extensions value that could not
	// be understood: messages are then not inflated.
	ErrExtension = errors.New("websocket extension")
	// ErrInflate reports a compressed message that did not inflate.
	ErrInflate = errors.New("permessage-deflate: inflate")
	// ErrCompressedTooLarge reports a compressed message longer on the wire
	// than Config.MaxMessage: it is not inflated.
	ErrCompressedTooLarge = errors.New("permessage-deflate: compressed message exceeds MaxMessage")
	// ErrInflateLimit reports a compressed message that inflates to more
	// than 4 times Config.MaxMessage, and more than 64 MiB: inflating stops
	// there, so its Len is a lower bound, and under context takeover later
	// messages of the direction are not inflated (ErrContextLost).
	ErrInflateLimit = errors.New("permessage-deflate: message inflates")
	// ErrContextLost reports that, under context takeover, an earlier
	// message of the direction could not be inflated, so no later one can.
	ErrContextLost = errors.New("permessage-deflate: compression context lost, later messages not inflated")
	// ErrNoInflate reports compressed messages that are not inflated
	// because Config.MaxMessage < 0 keeps no payload.
	ErrNoInflate = errors.New("permessage-deflate: not inflating, Config.MaxMessage < 0 keeps no payload")
)

// wsExtensions is what a 101's Sec-WebSocket-Extensions means for one
// direction of the connection.
type wsExtensions struct {
	rsv      uint8 // RSV bits some negotiated extension defines
	pmd      bool  // permessage-deflate was negotiated: RSV1 marks compressed messages
	deflate  bool  // permessage-deflate was negotiated with parameters we understand
	takeover bool  // the sender keeps its LZ77 window across messages
	bits     int   // the sender's LZ77 window is 2^bits bytes
}

// parseWSExtensions reads the extensions a 101 response accepted (RFC 6455
// section 9.1) as they apply to the messages from side: client_* parameters
// of permessage-deflate govern what the client sends, server_* what the
// server sends (RFC 7692 section 7.1).
func parseWSExtensions(from Side, value string) (wsExtensions, error) {
	if value == "" {
		return wsExtensions{}, nil
	}
	return parseWSExtensionList(from, value)
}

// parseWSExtensionList does parseWSExtensions' work for a non-empty header.
// It is apart so that its large frame is only on the stack when there are
// extensions: the deepest stack a connection reaches is what its goroutines
// keep while idle.
//
//go:noinline
func parseWSExtensionList(from Side, value string) (wsExtensions, error) {
	var x wsExtensions
	opts, ok := httphead.ParseOptions([]byte(value), nil)
	if !ok {
		x.rsv = 7 // something was negotiated; we cannot tell which bits it defines
		return x, fmt.Errorf("%w: malformed Sec-WebSocket-Extensions %q", ErrExtension, value)
	}
	var errs []error
	seen := false
	for _, opt := range opts {
		if !bytes.Equal(opt.Name, wsflate.ExtensionNameBytes) {
			x.rsv = 7
			errs = append(errs, fmt.Errorf("%w: unknown extension %q: RSV bits not checked", ErrExtension, opt.Name))
			continue
		}
		x.rsv |= 4 // RFC 7692 section 6: the "Per-Message Compressed" bit
		x.pmd = true
		if seen {
			x.deflate = false
			errs = append(errs, fmt.Errorf("%w: permessage-deflate accepted twice", ErrExtension))
			continue
		}
		seen = true
		var p wsflate.Parameters
		if err := p.Parse(opt); err != nil {
			errs = append(errs, fmt.Errorf("%w: %w: messages not inflated", ErrExtension, err))
			continue
		}
		bits := p.ServerMaxWindowBits
		x.takeover = !p.ServerNoContextTakeover
		if from == Client {
			bits = p.ClientMaxWindowBits
			x.takeover = !p.ClientNoContextTakeover
		}
		x.bits = 15
		if bits >= 8 {
			x.bits = int(bits)
		}
		if x.bits == 8 {
			// zlib raises a window of 8 bits to 9 when it compresses
			// (RFC 7692 section 7.1.2.1 asks for 9 when unsure).
			x.bits = 9
		}
		x.deflate = true
	}
	return x, errors.Join(errs...)
}

// flateTail is what the sender removed from the end of each compressed
// message and the receiver appends again (RFC 7692 section 7.2.2).
var flateTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// flateSrc reads a compressed message followed by flateTail. It is an
// io.ByteReader so that compress/flate reads no further than it needs.
type flateSrc struct {
	b []byte
	i int
}

func (s *flateSrc) ReadByte() (byte, error) {
	switch {
	case s.i < len(s.b):
		c := s.b[s.i]
		s.i++
		return c, nil
	case s.i < len(s.b)+len(flateTail):
		c := flateTail[s.i-len(s.b)]
		s.i++
		return c, nil
	}
	return 0, io.EOF
}

func (s *flateSrc) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c, err := s.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		p[n] = c
		n++
	}
	return n, nil
}

func (s *flateSrc) done() bool { return s.i >= len(s.b)+len(flateTail) }

// inflateChunk is how many bytes of inflated output one read asks for.
const inflateChunk = 32 << 10

// minInflateLimit is the least inflated size at which a message stops
// being inflated, whatever Config.MaxMessage says.
const minInflateLimit = 64 << 20

// inflateLimit returns how many bytes a compressed message may inflate to
// before inflating stops: 4 times maxMessage, at least minInflateLimit. A
// deflate stream can inflate to about 1000 times its length, so this bounds
// the work one message costs; a message that stops short has a lower bound
// for its length.
func inflateLimit(maxMessage int) int64 {
	return max(4*int64(maxMessage), minInflateLimit)
}

// inflation is what inflating one message needs besides the window. It is
// taken from inflations for the duration of one message and put back, so
// that an idle direction keeps only its window.
type inflation struct {
	src flateSrc
	fr  io.ReadCloser // reads src
	buf [inflateChunk]byte
}

// inflations holds *inflation values not in use. A decompressor and its
// buffers are about 75 KiB: a connection idles far more than it inflates.
var inflations sync.Pool

// inflater inflates the compressed messages of one direction (RFC 7692
// section 7.2.2). Under context takeover the sender's LZ77 window carries
// across messages, so hist keeps the end of this direction's inflated
// output and seeds the next message's decompressor with it; without
// takeover every message starts from an empty window and nothing is kept.
//
// An inflater is not safe for concurrent use.
type inflater struct {
	takeover bool
	window   int   // 2^bits
	limit    int64 // inflated bytes after which a message stops inflating
	lost     bool

	// hist holds the last bytes inflated, at most window of them; it grows
	// as output arrives, up to window.
	hist []byte
	cur  *inflation // between begin and end
}

func newInflater(x wsExtensions, maxMessage int) *inflater {
	return &inflater{takeover: x.takeover, window: 1 << x.bits, limit: inflateLimit(maxMessage)}
}

// begin starts inflating one message's compressed bytes z. The caller must
// call end when done with the message.
func (f *inflater) begin(z []byte) {
	var dict []byte
	if f.takeover {
		dict = f.hist
	}
	c, _ := inflations.Get().(*inflation)
	if c == nil {
		c = new(inflation)
		c.src = flateSrc{b: z}
		c.fr = flate.NewReaderDict(&c.src, dict)
	} else {
		c.src = flateSrc{b: z}
		// Reset copies dict into the decompressor's own history.
		_ = c.fr.(flate.Resetter).Reset(&c.src, dict)
	}
	f.cur = c
}

// end finishes the message begin started and gives back what it used.
func (f *inflater) end() {
	c := f.cur
	f.cur = nil
	c.src = flateSrc{} // the pool must not keep the message alive
	inflations.Put(c)
}

// next returns the next inflated bytes of the message, valid until the
// following call. It returns io.EOF, maybe with bytes, at the end of the
// message.
func (f *inflater) next() ([]byte, error) {
	c := f.cur
	n, err := c.fr.Read(c.buf[:])
	out := c.buf[:n]
	if f.takeover {
		f.remember(out)
	}
	switch {
	case err == nil:
		return out, nil
	case err == io.EOF:
		// A block with BFINAL set ended the stream; what follows is ignored.
		return out, io.EOF
	case errors.Is(err, io.ErrUnexpectedEOF) && c.src.done():
		// The sync-flush tail was read: the message is complete.
		return out, io.EOF
	}
	f.lose()
	return out, err
}

// lose records, under context takeover, that a message of the direction
// was not inflated to its end: the window is unknown from now on, so no
// later message can be inflated and the window is let go.
func (f *inflater) lose() {
	if f.takeover {
		f.lost, f.hist = true, nil
	}
}

// remember adds inflated bytes b to the end of the window.
func (f *inflater) remember(b []byte) {
	if len(b) >= f.window {
		f.hist = grow(f.hist[:0], f.window, f.window)
		f.hist = append(f.hist, b[len(b)-f.window:]...)
		return
	}
	if drop := len(f.hist) + len(b) - f.window; drop > 0 {
		f.hist = f.hist[:copy(f.hist, f.hist[drop:])]
	}
	f.hist = grow(f.hist, len(b), f.window)
	f.hist = append(f.hist, b...)
}

// retained reports the capacity of the buffers the inflater keeps between
// messages, for tests that bound memory.
func (f *inflater) retained() int { return cap(f.hist) }
