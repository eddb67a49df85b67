package decode

import (
	"math/bits"
	"sync"
)

// retainMax is the most capacity, in bytes, that a buffer of a stream keeps
// from one message to the next. A message, body or head that grew a buffer
// past it gives the buffer back when it ends, so that one 16 MiB message
// does not pin 16 MiB for the rest of the connection's life; ordinary
// messages reuse their stream's buffers and decode without allocating.
const retainMax = 16 << 10

// Buffers larger than retainMax come from a pool shared by all connections,
// in classes of powers of two from bigMin to bigMax bytes, and go back to
// it when their message ends: a stream that carried one large message holds
// nothing afterwards, while streams that keep carrying large messages reuse
// buffers instead of allocating (and zeroing) one per message. sync.Pool
// keeps them per processor, with no lock shared by all connections, and
// lets go of those not used between two garbage collections.
const (
	bigMinShift = 15 // 32 KiB
	bigMaxShift = 24 // 16 MiB, DefaultMaxMessage
)

var (
	bigBufs [bigMaxShift - bigMinShift + 1]sync.Pool // *[]byte of cap 1<<(i+bigMinShift)
	holders sync.Pool                                // empty *[]byte, so that giving a buffer back does not allocate
)

// bigClass returns the pool class for a buffer of at least n bytes.
func bigClass(n int) (class, size int) {
	shift := max(bits.Len(uint(n-1)), bigMinShift)
	return shift - bigMinShift, 1 << shift
}

// grow makes room for n more bytes in buf without passing capacity limit
// (callers never ask for more than limit), growing as bytes arrive rather
// than as headers announce. Past retainMax its buffers come from the pool,
// and the buffer it replaces goes back to it.
func grow(buf []byte, n, limit int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	c := min(max(2*cap(buf), len(buf)+n, 512), limit)
	var nb []byte
	if class, size := bigClass(c); c > retainMax && class < len(bigBufs) && size <= limit {
		if p, _ := bigBufs[class].Get().(*[]byte); p != nil {
			nb = (*p)[:0]
			*p = nil
			holders.Put(p)
		} else {
			nb = make([]byte, 0, size)
		}
	} else {
		nb = make([]byte, 0, c)
	}
	nb = append(nb, buf...)
	giveBack(buf)
	return nb
}

// reuse empties b for the next message, or, if it grew past retainMax,
// gives it back to the pool and returns nil. Nothing may refer to b's
// bytes any more: the pool hands them to another connection.
func reuse(b []byte) []byte {
	if cap(b) > retainMax {
		giveBack(b)
		return nil
	}
	return b[:0]
}

// giveBack puts a buffer that grow took from the pool back into it; others
// are left to the garbage collector.
func giveBack(b []byte) {
	c := cap(b)
	if c <= retainMax {
		return
	}
	class, size := bigClass(c)
	if size != c || class >= len(bigBufs) {
		return
	}
	p, _ := holders.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = b[:0]
	bigBufs[class].Put(p)
}

// Buffers that are given back after every relayed chunk, however small
// (Conn.Idle): the classes below bigMinShift, from 512 bytes, come from a
// pool of their own, so that a WebSocket that carried a message holds no
// buffer while it is idle, and one that keeps carrying messages does not
// allocate.
const smallMinShift = 9 // 512 B

var smallBufs [bigMinShift - smallMinShift]sync.Pool // *[]byte of cap 1<<(i+smallMinShift)

// growPooled is grow for buffers that release gives back: every capacity
// it hands out is a pool class, from 512 bytes up, when limit allows.
func growPooled(buf []byte, n, limit int) []byte {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	c := min(max(2*cap(buf), len(buf)+n, 1<<smallMinShift), limit)
	shift := max(bits.Len(uint(c-1)), smallMinShift)
	var nb []byte
	if pool := classPool(shift); pool != nil && 1<<shift <= limit {
		if p, _ := pool.Get().(*[]byte); p != nil {
			nb = (*p)[:0]
			*p = nil
			holders.Put(p)
		} else {
			nb = make([]byte, 0, 1<<shift)
		}
	} else {
		nb = make([]byte, 0, c)
	}
	nb = append(nb, buf...)
	release(buf)
	return nb
}

// release gives b back to its pool when its capacity is a pool class
// (others are left to the garbage collector) and returns nil. Nothing may
// refer to b's bytes any more.
func release(b []byte) []byte {
	c := cap(b)
	if c == 0 {
		return nil
	}
	shift := bits.Len(uint(c - 1))
	pool := classPool(shift)
	if pool == nil || 1<<shift != c {
		return nil
	}
	p, _ := holders.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = b[:0]
	pool.Put(p)
	return nil
}

// classPool returns the pool of buffers of 1<<shift bytes, or nil.
func classPool(shift int) *sync.Pool {
	switch {
	case shift < smallMinShift || shift > bigMaxShift:
		return nil
	case shift < bigMinShift:
		return &smallBufs[shift-smallMinShift]
	}
	return &bigBufs[shift-bigMinShift]
}
