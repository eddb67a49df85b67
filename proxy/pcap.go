package proxy

import (
	"errors"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/frametap/frametap/capture/pcapng"
	"github.com/frametap/frametap/decode"
)

// This file writes a connection to Config.Pcap (--pcap): every chunk the
// relay forwards, as it forwards it, into a pcapng.Stream of synthetic TCP
// (see capture/pcapng's package doc).
//
// One TCP conversation per client connection and server: it runs from the
// real client's address to the real server's, the client→frametap leg as
// it looked to the server (the ports and addresses the user asks about),
// and carries what the server was sent and what it answered: plaintext
// once frametap removed TLS, the TLS bytes of a tunnel it does not open
// (--ignore-hosts), request heads as regular mode forwards them
// (origin-form, without hop-by-hop fields). When regular mode routes a
// kept-alive connection to another server, a new conversation starts from
// the same client port. What passed only between the client and frametap
// itself (a CONNECT and its 200, a request frametap refused and its 400,
// 408 or 502) is a conversation of its own, to frametap's listening
// address.
//
// The Stream is used under c.mu, in relay order: a chunk is written before
// it is forwarded, so a response never precedes its request in the file.
// Data does not allocate once the writer is warm, and it waits while the
// writer is behind (backpressure), as the capture log's Flush does.

// pcapOn reports whether the connection writes to a pcap file. The stream
// is set at the connection's start and never changes.
func (c *conn) pcapOn() bool { return c.pcap != nil }

// pcapWarn reports a failing pcap file once, as a failing capture output.
// ErrNotOpen (bytes with no conversation to carry them) is frametap's own
// bookkeeping, not the file's.
func (c *conn) pcapWarn(err error) {
	if err != nil && !errors.Is(err, pcapng.ErrNotOpen) {
		c.p.warnOutput(err)
	}
}

// pcapData writes a chunk side sent, as relayed, at t. Callers hold mu.
func (c *conn) pcapData(side decode.Side, b []byte, t time.Time) {
	if c.pcap != nil {
		c.pcapWarn(c.pcap.Data(pcapng.Side(side), b, t))
	}
}

// pcapForward writes a chunk the client goroutine forwards outside the
// decoder's lock (regular mode's request heads and bodies).
func (c *conn) pcapForward(b []byte) {
	if c.pcap == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pcapData(decode.Client, b, time.Now())
}

// pcapOpen starts the conversation of a newly attached upstream: the
// client's address to the server's. Callers hold mu.
func (c *conn) pcapOpen(up *upstream) {
	if c.pcap == nil {
		return
	}
	cv := pcapng.Conversation{
		Client:  addrPort(c.raw.RemoteAddr()),
		Server:  addrPort(up.raw.RemoteAddr()),
		Comment: "frametap conn " + strconv.FormatUint(c.id, 10) + " " + up.addr,
	}
	c.pcapWarn(c.pcap.Open(cv, time.Now()))
}

// pcapLocal starts a conversation of its own, to frametap's listening
// address, for bytes that pass only between the client and frametap
// itself (a CONNECT, a request frametap refuses), with fromClient, what the
// client sent of it so far. The caller writes frametap's answer (Server
// data) and what else the client sends, and closes it, or finish does.
// Callers hold mu.
func (c *conn) pcapLocal(fromClient []byte, what string) {
	if c.pcap == nil {
		return
	}
	now := time.Now()
	cv := pcapng.Conversation{
		Client:  addrPort(c.raw.RemoteAddr()),
		Server:  addrPort(c.raw.LocalAddr()),
		Comment: "frametap conn " + strconv.FormatUint(c.id, 10) + ": " + what,
	}
	c.pcapWarn(c.pcap.Open(cv, now))
	c.pcapWarn(c.pcap.Data(pcapng.Client, fromClient, now))
}

// pcapEnd writes side's FIN. Callers hold mu.
func (c *conn) pcapEnd(side decode.Side) {
	if c.pcap != nil {
		c.pcapWarn(c.pcap.End(pcapng.Side(side), time.Now()))
	}
}

// pcapReset ends the conversation by an error from side. Callers hold mu.
func (c *conn) pcapReset(side decode.Side, err error) {
	if c.pcap != nil {
		c.pcapWarn(c.pcap.Reset(pcapng.Side(side), time.Now(), err.Error()))
	}
}

// pcapClose ends the open conversation, if any, with FINs. Callers hold
// mu.
func (c *conn) pcapClose() {
	if c.pcap != nil {
		c.pcapWarn(c.pcap.Close(time.Now()))
	}
}

// addrPort is a socket address as the pcap file wants it; the zero value
// (written as the unspecified address) when it is not TCP.
func addrPort(a net.Addr) netip.AddrPort {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort()
	}
	if ap, err := netip.ParseAddrPort(a.String()); err == nil {
		return ap
	}
	return netip.AddrPort{}
}

// dropPcapHead forgets the head bytes kept for pcapLocal, and the buffer
// when one huge head made it large. Client goroutine only.
func (c *conn) dropPcapHead() {
	if cap(c.pcapHead) > maxKeptHead {
		c.pcapHead = nil
		return
	}
	c.pcapHead = c.pcapHead[:0]
}
