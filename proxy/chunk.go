package proxy

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

// chunkSize is the most one read takes off a socket. 32 KiB keeps bulk
// transfers at a few syscalls per megabyte without making a burst of
// connections expensive: buffers are only held while bytes are in hand.
const chunkSize = 32 << 10

// chunkPool holds the read buffers of all connections. A connection takes
// one when its socket is readable and gives it back as soon as the bytes
// are decoded and forwarded, so an idle connection holds no buffer at all.
// sync.Pool keeps per-P caches, so this is not a lock shared by all
// connections on the hot path.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// chunkReader reads one connection chunk by chunk into pooled buffers.
// It is used by one goroutine.
type chunkReader struct {
	conn net.Conn
	raw  syscall.RawConn // nil when conn has no file descriptor (TLS, pipes)

	// Set by readRaw's callback: the buffer and outcome of the last read.
	buf *[]byte
	n   int
	err error
	fn  func(fd uintptr) bool // readRaw's callback, made once: no allocation per read
}

func newChunkReader(c net.Conn) *chunkReader {
	r := &chunkReader{conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			r.raw = raw
		}
	}
	r.fn = r.readFD
	return r
}

// read waits for the next chunk and passes it to use. The chunk is valid
// only during use. read returns io.EOF at the end of the stream, use's
// error if it fails, or the read error.
func (r *chunkReader) read(use func([]byte) error) error {
	var (
		bp  *[]byte
		n   int
		err error
	)
	if r.raw != nil {
		// RawConn.Read parks the goroutine on the poller without a buffer
		// and calls readFD when the socket is readable.
		if rerr := r.raw.Read(r.fn); rerr != nil {
			if r.buf != nil {
				chunkPool.Put(r.buf)
				r.buf = nil
			}
			return rerr
		}
		bp, n, err = r.buf, r.n, r.err
		r.buf = nil
	} else {
		bp = chunkPool.Get().(*[]byte)
		n, err = r.conn.Read(*bp)
	}
	defer chunkPool.Put(bp)
	if n > 0 {
		if uerr := use((*bp)[:n]); uerr != nil {
			return uerr
		}
	}
	if err != nil {
		return err
	}
	if n == 0 && r.raw != nil {
		return io.EOF // read(2) returning 0 is the peer's FIN
	}
	return nil
}

// readFD is the RawConn callback: it reports false ("not ready") on EAGAIN
// so the runtime waits for readability again.
func (r *chunkReader) readFD(fd uintptr) bool {
	bp := chunkPool.Get().(*[]byte)
	for {
		n, err := syscall.Read(int(fd), *bp)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if errors.Is(err, syscall.EAGAIN) {
			chunkPool.Put(bp)
			return false
		}
		if n < 0 {
			n = 0
		}
		r.buf, r.n, r.err = bp, n, err
		if err != nil {
			r.err = &net.OpError{Op: "read", Net: "tcp", Source: r.conn.LocalAddr(), Addr: r.conn.RemoteAddr(), Err: err}
		}
		return true
	}
}
