// Package pcapng writes what frametap relays as a pcapng file
// (draft-ietf-opsawg-pcapng) that Wireshark, tshark and Zeek dissect with
// no option, and writes TLS key logs (KeyLog) that decrypt a capture of
// the wire.
//
// # The packets
//
// Each client connection is written as synthetic TCP carrying the bytes as
// frametap relayed them: plaintext once TLS is removed, or the TLS bytes
// of a tunnel frametap does not open (--ignore-hosts). Wireshark's own
// HTTP, WebSocket and HTTP/2 dissectors then decode them: masked client
// frames stay masked, compressed messages stay compressed.
//
// A conversation runs between the real client's address and port and the
// real server's: the client→frametap leg as it looked to the server. On
// the wire that leg ends at frametap's listener and the server sees
// frametap's address, but the pair of real peers is what the user asks
// about ("who talked to whom"), and it is what Wireshark's conversation
// and endpoint lists then show. It is one conversation per client
// connection and server: when regular mode routes a kept-alive client
// connection to another server, Stream.Open starts a new conversation
// from the same client port. If it comes back to a server it had before,
// the ports repeat, and Wireshark notes "A new tcp session is started
// with the same ports as an earlier session" on that SYN: that is what
// happened, so it is left so (the initial sequence numbers differ, and
// Wireshark starts a new stream).
//
// The TCP is what a careful stack would have sent, so that Wireshark's
// analysis flags nothing (tcp.analysis.flags stays empty) and reassembly
// works:
//   - a SYN, SYN-ACK, ACK handshake announcing MSS and a window scale of
//     7 (RFC 7323), so that the window of 65535 means 8 MiB;
//   - data in segments of at most the MSS: 1460 bytes over IPv4, 1440 over
//     IPv6 (an Ethernet MTU less the headers), PSH on a chunk's last one;
//   - sequence numbers running per side from initial ones that differ per
//     conversation, every segment acknowledging all the other side sent
//     before it (the relay had received it), and a bare ACK from the
//     receiver after every 64 KiB of a one-way transfer;
//   - FIN from a side when it ended (Stream.End: the relay half-closes the
//     other peer), acknowledged; RST when the connection ended by an error
//     (Stream.Reset), with the reason as the packet's comment;
//   - IPv4 (DF, TTL 64, identification counting per side) or IPv6 (hop
//     limit 64); an IPv4 peer facing an IPv6 one is written as an
//     IPv4-mapped IPv6 address;
//   - IP and TCP checksums computed, not left as zero for "checksum
//     offload": Wireshark verifies them when asked (ip.check_checksum,
//     tcp.check_checksum), and other readers (Zeek) check them by default;
//   - the link type is raw IP (LINKTYPE_RAW): no Ethernet addresses to
//     invent;
//   - timestamps are the relay's, given by the caller, in nanoseconds.
//
// Conversation.Comment is written on the SYN (Wireshark: frame.comment),
// where frametap puts its connection id, so a packet can be matched to the
// capture log's events.
//
// The blocks are written by gopacket's pcapgo (github.com/gopacket/gopacket,
// the maintained fork) and the IP and TCP headers by its layers; the TCP
// checksum is computed here, 8 bytes at a time, because it was the largest
// cost.
//
// # Lossless and bounded
//
// A Writer is shaped like capture.Log. One goroutine owns the file. Each
// Stream encodes a call's packets on the caller's goroutine into a batch
// (one buffer, no allocation once the Writer is warm), copying the bytes it
// is given, and hands the batch to a queue bounded by Options.QueueBytes:
// past the bound the call waits, so a slow disk slows the connections and
// nothing is dropped.
//
// A write error is not a slow disk: the connections must go on. While the
// destination fails, the Writer drops what comes and counts it (Stats),
// tries the destination again every FlushInterval, and never leaves a cut
// block: the block the failed write cut is completed first when the
// destination takes writes again, then an Interface Statistics Block
// records how many packets were dropped so far (isb_ifdrop), and writing
// goes on. The conversations' sequence numbers run on over the lost bytes,
// so Wireshark marks each hole where it is ("previous segment not
// captured"). If the destination still fails at Close, a file is cut back
// to its last whole block. Close's error says how many packets were lost.
//
// # Decryption secrets
//
// The file has no Decryption Secrets Block. For intercepted TLS it holds
// the plaintext already, and no TLS record that keys could decrypt; for
// tunnels frametap does not open, frametap is no TLS endpoint and has no
// keys. Secrets in the file would only add keys to a file meant to be
// shared. A user who has a capture of the wire gets the keys of both legs
// from KeyLog (--keylog), and can merge them into that capture with
// "editcap --inject-secrets tls,KEYLOG wire.pcapng out.pcapng".
//
// # Use by the proxy
//
//	w, err := pcapng.Create(path, pcapng.Options{}) // or NewWriter(os.Stdout, ...)
//	// per client connection, under the connection's lock, in relay order:
//	s := w.Stream()
//	s.Open(pcapng.Conversation{Client: clientAddr, Server: serverAddr, Comment: "frametap conn 7 example.com:443"}, now)
//	s.Data(pcapng.Side(side), chunk, now) // every relayed chunk, as forwarded
//	s.End(pcapng.Side(side), now)          // a side's EOF
//	s.Reset(pcapng.Server, now, err.Error()) // the connection failed
//	s.Close(now)                           // the connection is over
//	// at shutdown, after every connection's Close:
//	err = w.Close()
//
// Stats and the error every Stream call returns tell the dashboard and the
// headless output that the file is failing, and how many packets it lacks.
package pcapng
