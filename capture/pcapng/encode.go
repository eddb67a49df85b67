package pcapng

import (
	"encoding/binary"
	"runtime"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// The interface every packet is written on: raw IP (LINKTYPE_RAW, IPv4 or
// IPv6 by the version nibble), so no link layer has to be invented.
func ngInterface() pcapgo.NgInterface {
	return pcapgo.NgInterface{
		Name:                "frametap",
		Description:         "plaintext relayed by frametap, as synthetic TCP",
		OS:                  runtime.GOOS,
		LinkType:            layers.LinkTypeRaw,
		TimestampResolution: 9,
		SnapLength:          65535,
	}
}

func ngSection() pcapgo.NgWriterOptions {
	return pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{
		Application: "frametap",
		Hardware:    runtime.GOARCH,
		OS:          runtime.GOOS,
	}}
}

// Segment sizes. An Ethernet MTU of 1500 bytes less the IP and TCP headers
// (RFC 879): 1460 bytes for IPv4, and 1440 for IPv6, whose header is 40
// bytes.
const (
	mss4 = 1500 - 20 - 20
	mss6 = 1500 - 40 - 20
)

// TCP flag bits as they sit in the header's 13th byte (RFC 9293 section
// 3.1).
const (
	flagFIN = 1 << iota
	flagSYN
	flagRST
	flagPSH
	flagACK
)

// blockSink is the io.Writer under an encoder's pcapgo.NgWriter: it appends
// to the batch the encoder is filling, and never fails.
type blockSink struct {
	buf *[]byte
}

func (s *blockSink) Write(p []byte) (int, error) {
	*s.buf = append(*s.buf, p...)
	return len(p), nil
}

// encoder turns one segment at a time into an Enhanced Packet Block, with
// gopacket's layers for the IP and TCP headers and pcapgo for the block.
// Encoders are pooled: a Stream takes one for the length of one call, so an
// idle connection holds none, and no lock is shared by all connections.
type encoder struct {
	sink    blockSink
	ng      *pcapgo.NgWriter
	sb      gopacket.SerializeBuffer
	ip4     layers.IPv4
	ip6     layers.IPv6
	tcp     layers.TCP
	synOpts [3]layers.TCPOption
	mss     [2]byte
	wscale  [1]byte
	comment [1]string
}

var encoders = sync.Pool{New: func() any { return newEncoder() }}

func newEncoder() *encoder {
	e := &encoder{sb: gopacket.NewSerializeBufferExpectedSize(64, mss4)}
	// NewNgWriterInterface writes a section header and an interface
	// description, which the Writer writes once for the file: an encoder's
	// are thrown away.
	var scratch []byte
	e.sink.buf = &scratch
	ng, err := pcapgo.NewNgWriterInterface(&e.sink, ngInterface(), ngSection())
	if err != nil {
		panic("pcapng: " + err.Error()) // cannot happen: blockSink never fails
	}
	if err := ng.Flush(); err != nil {
		panic("pcapng: " + err.Error())
	}
	e.sink.buf = nil
	e.ng = ng
	e.wscale[0] = windowScale
	e.synOpts = [3]layers.TCPOption{
		{OptionType: layers.TCPOptionKindMSS, OptionData: e.mss[:]},
		{OptionType: layers.TCPOptionKindNop},
		{OptionType: layers.TCPOptionKindWindowScale, OptionData: e.wscale[:]},
	}
	return e
}

// How the headers are serialized: lengths always computed; the IPv4
// header checksum by layers, the TCP checksum by tcpChecksum, which is
// faster.
var (
	ipOpts  = gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	tcpOpts = gopacket.SerializeOptions{FixLengths: true}
)

// windowScale is the shift both ends announce in their SYN (RFC 7323
// section 2): every later window of 65535 means 8 MiB, far more than a
// conversation ever has unacknowledged (see ackEvery).
const windowScale = 7

// packet appends one segment from side from of c to the batch, as an
// Enhanced Packet Block with timestamp t. comment, when not empty, becomes
// the packet's opt_comment.
func (e *encoder) packet(c *conv, from Side, flags uint8, payload []byte, t time.Time, comment string) {
	to := from ^ 1
	e.sb.Clear()
	if len(payload) > 0 {
		p, _ := e.sb.AppendBytes(len(payload)) // a SerializeBuffer's Append never fails
		copy(p, payload)
	}
	e.tcp = layers.TCP{
		SrcPort: layers.TCPPort(c.port[from]),
		DstPort: layers.TCPPort(c.port[to]),
		Seq:     c.next[from],
		Window:  65535,
		FIN:     flags&flagFIN != 0,
		SYN:     flags&flagSYN != 0,
		RST:     flags&flagRST != 0,
		PSH:     flags&flagPSH != 0,
		ACK:     flags&flagACK != 0,
	}
	if flags&flagACK != 0 {
		e.tcp.Ack = c.next[to]
	}
	if flags&flagSYN != 0 {
		mss := c.mss
		e.mss[0], e.mss[1] = byte(mss>>8), byte(mss)
		e.tcp.Options = e.synOpts[:]
	}
	var ip gopacket.SerializableLayer
	if c.v6 {
		e.ip6 = layers.IPv6{
			Version:    6,
			NextHeader: layers.IPProtocolTCP,
			HopLimit:   64,
			SrcIP:      c.ip[from],
			DstIP:      c.ip[to],
		}
		ip = &e.ip6
	} else {
		e.ip4 = layers.IPv4{
			Version:  4,
			TTL:      64,
			Flags:    layers.IPv4DontFragment,
			Id:       c.ipID[from],
			Protocol: layers.IPProtocolTCP,
			SrcIP:    c.ip[from],
			DstIP:    c.ip[to],
		}
		c.ipID[from]++
		ip = &e.ip4
	}
	// Serializing can fail only on addresses of the wrong length, which
	// conv never holds, or options longer than a header allows.
	if err := e.tcp.SerializeTo(e.sb, tcpOpts); err != nil {
		panic("pcapng: " + err.Error())
	}
	seg := e.sb.Bytes()
	binary.BigEndian.PutUint16(seg[16:], tcpChecksum(c.ip[from], c.ip[to], seg))
	if err := ip.SerializeTo(e.sb, ipOpts); err != nil {
		panic("pcapng: " + err.Error())
	}
	data := e.sb.Bytes()
	ci := gopacket.CaptureInfo{Timestamp: t, CaptureLength: len(data), Length: len(data)}
	var err error
	if comment == "" {
		err = e.ng.WritePacket(ci, data)
	} else {
		e.comment[0] = comment
		err = e.ng.WritePacketWithOptions(ci, data, pcapgo.NgPacketOptions{Comments: e.comment[:]})
		e.comment[0] = ""
	}
	if err != nil {
		panic("pcapng: " + err.Error()) // the capture info is consistent by construction
	}
	c.next[from] += uint32(len(payload))
	if flags&(flagSYN|flagFIN) != 0 {
		c.next[from]++ // SYN and FIN each take a sequence number
	}
	if flags&flagACK != 0 {
		c.acked[to] = c.next[to]
	}
}
