package pcapng

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// readConv is one TCP conversation read back from a pcapng file.
type readConv struct {
	client, server netip.AddrPort
	data           [2][]byte // the payload each side sent, in order
	end            string    // "fin" (both sides), "rst", or "" (still open)
	comment        string    // the SYN's comment
	packets        int
}

// readBack reads a pcapng file this package wrote with gopacket's own
// reader and decoders (not tshark: fast enough for fuzzing), and checks
// the TCP of every conversation strictly: a SYN, SYN-ACK, ACK handshake;
// IPv4 and TCP checksums valid (gopacket's implementation, not ours);
// segments no longer than the MSS; every sequence number the next one of
// its side (no gap, no overlap); every acknowledgement all the other side
// sent; timestamps that never go back within a conversation. It returns
// the conversations in the order of their SYNs.
func readBack(data []byte) ([]*readConv, error) {
	r, err := pcapgo.NewNgReader(bytes.NewReader(data), pcapgo.DefaultNgReaderOptions)
	if err != nil {
		return nil, err
	}
	if r.LinkType() != layers.LinkTypeRaw {
		return nil, fmt.Errorf("link type %v", r.LinkType())
	}
	type state struct {
		rc    *readConv
		next  [2]uint32
		acked [2]uint32 // how far the other side acknowledged each side
		fin   [2]bool
		last  time.Time
		open  bool
	}
	var convs []*readConv
	live := map[[2]netip.AddrPort]*state{} // by (client, server)
	for n := 1; ; n++ {
		pkt, ci, opts, err := r.ReadPacketDataWithOptions()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("packet %d: %w", n, err)
		}
		first := layers.LayerTypeIPv4
		if pkt[0]>>4 == 6 {
			first = layers.LayerTypeIPv6
		}
		p := gopacket.NewPacket(pkt, first, gopacket.Default)
		if el := p.ErrorLayer(); el != nil {
			return nil, fmt.Errorf("packet %d: %v", n, el.Error())
		}
		var src, dst netip.Addr
		if ip, ok := p.NetworkLayer().(*layers.IPv4); ok {
			if _, v := ip.VerifyChecksum(); !v.Valid {
				return nil, fmt.Errorf("packet %d: IPv4 checksum %#04x, want %#04x", n, v.Actual, v.Correct)
			}
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
		} else {
			ip := p.NetworkLayer().(*layers.IPv6)
			src, _ = netip.AddrFromSlice(ip.SrcIP)
			dst, _ = netip.AddrFromSlice(ip.DstIP)
		}
		tcp, ok := p.TransportLayer().(*layers.TCP)
		if !ok {
			return nil, fmt.Errorf("packet %d: not TCP", n)
		}
		if err := tcp.SetNetworkLayerForChecksum(p.NetworkLayer()); err != nil {
			return nil, err
		}
		if err, v := tcp.VerifyChecksum(); err != nil || !v.Valid {
			return nil, fmt.Errorf("packet %d: TCP checksum %#04x, want %#04x (%v)", n, v.Actual, v.Correct, err)
		}
		from := netip.AddrPortFrom(src, uint16(tcp.SrcPort))
		to := netip.AddrPortFrom(dst, uint16(tcp.DstPort))
		if tcp.SYN && !tcp.ACK {
			if st := live[[2]netip.AddrPort{from, to}]; st != nil && st.open {
				return nil, fmt.Errorf("packet %d: SYN on a conversation that did not end", n)
			}
			rc := &readConv{client: from, server: to, packets: 1}
			if len(opts.Comments) > 0 {
				rc.comment = opts.Comments[0]
			}
			convs = append(convs, rc)
			st := &state{rc: rc, open: true, last: ci.Timestamp}
			st.next[Client] = tcp.Seq + 1
			live[[2]netip.AddrPort{from, to}] = st
			continue
		}
		side := Client
		st := live[[2]netip.AddrPort{from, to}]
		if st == nil {
			side, st = Server, live[[2]netip.AddrPort{to, from}]
		}
		if st == nil || !st.open {
			return nil, fmt.Errorf("packet %d: %v → %v outside any conversation", n, from, to)
		}
		rc := st.rc
		rc.packets++
		if ci.Timestamp.Before(st.last) {
			return nil, fmt.Errorf("packet %d: time goes back", n)
		}
		st.last = ci.Timestamp
		if tcp.SYN { // the SYN-ACK
			if side != Server || rc.packets != 2 {
				return nil, fmt.Errorf("packet %d: unexpected SYN-ACK", n)
			}
			st.next[Server] = tcp.Seq + 1
		} else if rc.packets == 2 {
			return nil, fmt.Errorf("packet %d: no SYN-ACK", n)
		}
		if !tcp.SYN && tcp.Seq != st.next[side] {
			return nil, fmt.Errorf("packet %d (%s): seq %d, want %d", n, side, tcp.Seq-st.next[side], 0)
		}
		if !tcp.ACK {
			return nil, fmt.Errorf("packet %d: no ACK flag", n)
		}
		if tcp.Ack != st.next[side^1] {
			return nil, fmt.Errorf("packet %d (%s): ack %d off", n, side, int32(tcp.Ack-st.next[side^1]))
		}
		st.acked[side^1] = tcp.Ack
		if rc.packets == 3 {
			st.acked[Client] = st.next[Client] // the handshake's ACK
		}
		mss := mss4
		if first == layers.LayerTypeIPv6 {
			mss = mss6
		}
		if len(tcp.Payload) > mss {
			return nil, fmt.Errorf("packet %d: %d bytes, more than the MSS", n, len(tcp.Payload))
		}
		if st.fin[side] && (len(tcp.Payload) > 0 || tcp.FIN) {
			return nil, fmt.Errorf("packet %d: %s sends after its FIN", n, side)
		}
		rc.data[side] = append(rc.data[side], tcp.Payload...)
		if !tcp.SYN {
			st.next[side] += uint32(len(tcp.Payload))
		}
		// What Wireshark calls bytes in flight must stay within the
		// window the other side announced (65535, scaled by 2^7).
		if inFlight := st.next[side] - st.acked[side]; !tcp.SYN && rc.packets > 3 && inFlight > 65535<<windowScale {
			return nil, fmt.Errorf("packet %d (%s): %d bytes in flight, more than the window", n, side, inFlight)
		}
		switch {
		case tcp.RST:
			rc.end, st.open = "rst", false
		case tcp.FIN:
			st.fin[side] = true
			st.next[side]++
		case st.fin[Client] && st.fin[Server] && len(tcp.Payload) == 0:
			rc.end, st.open = "fin", false // the last ACK
		}
	}
	return convs, nil
}
