package pcapng

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Side is one end of a conversation. Its values are those of decode.Side,
// so the proxy converts with Side(s).
type Side uint8

const (
	Client Side = iota // the peer that opened the connection: it sends the SYN
	Server             // the peer the client reached
)

// String returns "client" or "server".
func (s Side) String() string {
	switch s {
	case Client:
		return "client"
	case Server:
		return "server"
	}
	return fmt.Sprintf("Side(%d)", uint8(s))
}

// Conversation names the two ends of one synthetic TCP connection.
type Conversation struct {
	// Client and Server are the addresses and ports of the two peers. An
	// IPv4 address on one side and an IPv6 address on the other are both
	// written as IPv6, the IPv4 one mapped (::ffff:a.b.c.d), since a
	// packet has one IP version. Zones are dropped. An invalid address is
	// written as the unspecified address of the other's family.
	Client, Server netip.AddrPort
	// Comment, if not empty, is written as the comment of the
	// conversation's SYN (Wireshark shows it as frame.comment): the place
	// for frametap's connection id and the server's name.
	Comment string
}

// ErrNotOpen is returned by a Stream's Data when no conversation is open:
// its bytes have nowhere to go. (End, Reset and Close of a conversation
// that is over do nothing.)
var ErrNotOpen = errors.New("pcapng: no conversation open")

// batchMax is the most a Stream encodes before handing a batch to the
// writer, so that the queue's bound applies before encoding, not after (a
// chunk larger than the relay's 32 KiB goes in several batches), and a
// batch always fits its buffer (newBufSize).
const batchMax = newBufSize - 4<<10

// ackEvery is how many bytes a side may send before the other side
// acknowledges them with a segment of its own. Data in the other direction
// acknowledges everything it can; this is for one-way transfers, so that
// the bytes in flight stay far below the window (Wireshark flags "window
// full" otherwise).
const ackEvery = 64 << 10

// conv is the state of one synthetic TCP connection (RFC 9293 section
// 3.3.1): per side, the next sequence number it sends, how far the other
// side has acknowledged it, and its IPv4 identification counter.
type conv struct {
	ip    [2]net.IP // 4 or 16 bytes, indexed by Side
	port  [2]uint16
	v6    bool
	mss   int
	next  [2]uint32 // SND.NXT of each side
	acked [2]uint32 // the highest acknowledgement the other side sent for this side's bytes
	ipID  [2]uint16
	fin   [2]bool // the side sent its FIN
}

// Stream writes one client connection as synthetic TCP conversations: one
// per server the connection reached, each from its SYN to its FIN or RST.
// Each call encodes its segments and hands them to the Writer's queue
// before it returns, so calls of one Stream are written in call order, and
// a Stream holds no buffer between calls.
//
// A Stream is used by one goroutine at a time: the proxy calls it under
// the connection's lock, in relay order. Different Streams of one Writer
// may be used concurrently.
type Stream struct {
	w    *Writer
	c    conv
	open bool
	buf  *[]byte  // the batch being filled, during a call
	enc  *encoder // taken for the length of a call
}

// Open starts a conversation between conv.Client and conv.Server with a
// three-way handshake (SYN, SYN-ACK, ACK) at time t. If a conversation is
// open, it first ends it with a FIN from each side that has not sent one:
// a connection whose server changed (regular mode routes a kept-alive
// client connection to another host) becomes a new conversation.
func (s *Stream) Open(cv Conversation, t time.Time) error {
	s.begin()
	if s.open {
		s.finish(t)
	}
	s.c = newConv(cv, s.w.convs.Add(1))
	s.open = true
	s.packet(Client, flagSYN, nil, t, cv.Comment)
	s.packet(Server, flagSYN|flagACK, nil, t, "")
	s.packet(Client, flagACK, nil, t, "")
	return s.end()
}

// Data writes b as sent by side from at time t: segments of at most the
// MSS (1460 bytes over IPv4, 1440 over IPv6), the last one with PSH, each
// acknowledging all that the other side sent before. b is not kept: it is
// copied before Data returns. Data does not allocate once the Writer's
// queue has grown to its size (see TestDataAllocs).
//
// Data blocks while the writer is behind (backpressure). It returns the
// Writer's failure, if it is failing now (see Stats), ErrClosed after the
// Writer was closed, or ErrNotOpen.
func (s *Stream) Data(from Side, b []byte, t time.Time) error {
	if !s.open {
		return ErrNotOpen
	}
	if from > Server {
		return fmt.Errorf("pcapng: no side %d", from)
	}
	if s.c.fin[from] {
		return fmt.Errorf("pcapng: data from the %s after its FIN", from)
	}
	if len(b) == 0 {
		return nil
	}
	s.begin()
	for len(b) > 0 {
		n := min(len(b), s.c.mss)
		flags := uint8(flagACK)
		if n == len(b) {
			flags |= flagPSH
		}
		s.packet(from, flags, b[:n], t, "")
		b = b[n:]
		if s.c.next[from]-s.c.acked[from] >= ackEvery {
			s.packet(from^1, flagACK, nil, t, "")
		}
		if len(*s.buf) >= batchMax && len(b) > 0 {
			s.send() // its status is end's too
		}
	}
	return s.end()
}

// End writes a FIN from side from at time t, acknowledged by the other
// side: from sent its last byte (the relay half-closes the other peer).
// A second End of one side does nothing; the End of both sides ends the
// conversation.
func (s *Stream) End(from Side, t time.Time) error {
	if !s.open {
		return s.w.status() // nothing left to end
	}
	if from > Server {
		return fmt.Errorf("pcapng: no side %d", from)
	}
	if s.c.fin[from] {
		return s.w.status()
	}
	s.begin()
	s.fin(from, t)
	return s.end()
}

// Reset writes a RST from side from at time t and ends the conversation:
// the connection ended by an error rather than by FINs. reason, if not
// empty, is written as the packet's comment.
func (s *Stream) Reset(from Side, t time.Time, reason string) error {
	if !s.open {
		return s.w.status() // nothing left to end
	}
	if from > Server {
		return fmt.Errorf("pcapng: no side %d", from)
	}
	s.begin()
	if reason != "" {
		reason = "frametap: " + reason
	}
	s.packet(from, flagRST|flagACK, nil, t, reason)
	s.open = false
	return s.end()
}

// Close ends the open conversation, if any, with a FIN from each side
// that has not sent one, at time t. The Stream may be opened again.
func (s *Stream) Close(t time.Time) error {
	if !s.open {
		return s.w.status()
	}
	s.begin()
	s.finish(t)
	return s.end()
}

// finish ends the open conversation with FINs.
func (s *Stream) finish(t time.Time) {
	for side := Client; side <= Server; side++ {
		if !s.c.fin[side] {
			s.fin(side, t)
		}
	}
	s.open = false
}

// fin writes a FIN from side from and its acknowledgement; the second
// FIN ends the conversation.
func (s *Stream) fin(from Side, t time.Time) {
	s.packet(from, flagFIN|flagACK, nil, t, "")
	s.c.fin[from] = true
	s.packet(from^1, flagACK, nil, t, "")
	if s.c.fin[from^1] {
		s.open = false
	}
}

// begin takes an encoder and a batch buffer for one call.
func (s *Stream) begin() {
	s.enc = encoders.Get().(*encoder)
	s.buf = s.w.getBuf()
	s.enc.sink.buf = s.buf
}

func (s *Stream) packet(from Side, flags uint8, payload []byte, t time.Time, comment string) {
	s.enc.packet(&s.c, from, flags, payload, t, comment)
}

// send hands the batch to the writer and starts a new one.
func (s *Stream) send() {
	_ = s.enc.ng.Flush() // into blockSink, which never fails
	s.w.send(s.buf)
	s.buf = s.w.getBuf()
	s.enc.sink.buf = s.buf
}

// end hands the batch to the writer (which takes an empty one back) and
// gives the encoder back.
func (s *Stream) end() error {
	_ = s.enc.ng.Flush()
	s.enc.sink.buf = nil
	encoders.Put(s.enc)
	s.enc = nil
	buf := s.buf
	s.buf = nil
	return s.w.send(buf)
}

// newConv sets up the state of conversation number n.
func newConv(cv Conversation, n uint64) conv {
	ca, sa := cv.Client.Addr().WithZone(""), cv.Server.Addr().WithZone("")
	switch {
	case !ca.IsValid() && !sa.IsValid():
		ca, sa = netip.IPv4Unspecified(), netip.IPv4Unspecified()
	case !ca.IsValid():
		ca = unspecified(sa)
	case !sa.IsValid():
		sa = unspecified(ca)
	}
	v6 := !(ca.Unmap().Is4() && sa.Unmap().Is4())
	c := conv{v6: v6, mss: mss4}
	if v6 {
		c.mss = mss6
		c.ip[Client] = as16(ca)
		c.ip[Server] = as16(sa)
	} else {
		c.ip[Client] = net.IP(ca.Unmap().AsSlice())
		c.ip[Server] = net.IP(sa.Unmap().AsSlice())
	}
	c.port = [2]uint16{cv.Client.Port(), cv.Server.Port()}
	// Initial sequence numbers that differ per conversation, so that a
	// client port that reaches the same server twice (a reconnect) is
	// told apart, as RFC 9293 section 3.4.1 wants of real ones.
	h := mix(n)
	c.next = [2]uint32{uint32(h), uint32(h >> 32)}
	c.acked = c.next
	c.ipID = [2]uint16{uint16(h >> 7), uint16(h >> 23)}
	return c
}

func as16(a netip.Addr) net.IP {
	b := a.As16()
	return net.IP(b[:])
}

func unspecified(like netip.Addr) netip.Addr {
	if like.Unmap().Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// mix is SplitMix64's finalizer: distinct, well spread values for
// consecutive n.
func mix(n uint64) uint64 {
	n += 0x9e3779b97f4a7c15
	n = (n ^ n>>30) * 0xbf58476d1ce4e5b9
	n = (n ^ n>>27) * 0x94d049bb133111eb
	return n ^ n>>31
}
