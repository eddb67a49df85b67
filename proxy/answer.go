package proxy

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/frametap/frametap/decode"
)

// This file is frametap's own answers: the 400, 408 and 502 it sends when
// it cannot or will not forward a request. Each is recorded as the
// server's answer to the request it refuses, and each ends the connection.

// Bounds of reading what is left of a request after frametap answered it
// (so that the capture holds the request whole): after these, the request
// is recorded with what arrived.
const (
	refusedReadWait = 2 * time.Second
	refusedReadMax  = 16 << 20
	answerWriteWait = 5 * time.Second
)

// answer writes frametap's own response to the client, records it as the
// answer to the oldest request without one, and ends the connection: the
// response says Connection: close. seq is the request it answers, when
// that request's body may still be coming (0 when none): rest holds what
// of it was read already, and what follows is read for a moment, so that
// the capture holds the request the user is debugging whole.
func (c *conn) answer(status int, text, reason string, seq int, rest []byte) error {
	c.retire() // nothing else writes to the client from here on
	body := "frametap: " + reason + "\n"
	resp := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, text, len(body), body)
	c.note(resp)
	if c.pcapOn() {
		c.mu.Lock()
		c.pcapLocal(c.pcapHead, "frametap answered "+strconv.Itoa(status))
		c.mu.Unlock()
		c.dropPcapHead()
	}
	c.client.SetWriteDeadline(time.Now().Add(answerWriteWait))
	c.client.Write([]byte(resp))
	closeWrite(c.client)
	if seq > 0 {
		c.readRefused(seq, status, rest)
	}
	if c.pcapOn() {
		// The pcap file has the answer after the rest of the request
		// frametap read (readRefused), which the client sent before it
		// read the answer: Wireshark pairs them as one exchange.
		c.mu.Lock()
		c.pcapData(decode.Server, []byte(resp), time.Now())
		c.mu.Unlock()
	}
	lingerClose(c.client)
	return errAnswered
}

// answerTimeout answers 408 to a client that did not complete a request
// head in time (RFC 9110 section 15.5.9).
func (c *conn) answerTimeout(why string) error {
	c.retire()
	c.mu.Lock()
	if !c.broken {
		c.rec.cut = why + ", frametap answered 408: "
		c.rec.now = time.Now()
		c.dec.End(decode.Client) // reports the head cut short, with the reason
		c.rec.flush()
	}
	c.mu.Unlock()
	return c.answer(408, "Request Timeout", why, 0, nil)
}

// note feeds bytes frametap itself sends the client (its 200 to a CONNECT,
// its own answers) to the decoder as the server's, so that they pair with
// the request they answer. They are not counted as bytes from the server.
func (c *conn) note(resp string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken {
		return
	}
	c.rec.now = time.Now()
	c.rec.prog.own = true // by_frametap
	c.dec.Feed(decode.Server, []byte(resp))
	c.rec.prog.own = false
	c.rec.flush()
}

// requestRecorded reports whether request seq was recorded whole.
func (c *conn) requestRecorded(seq int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rec.lastRequest >= seq || c.broken
}

// readRefused reads what is left of request seq after frametap answered
// it with status, feeding the decoder, for at most refusedReadWait and
// refusedReadMax bytes; rest is what was read of it already. A request
// still incomplete then is recorded with what arrived, and the error says
// frametap stopped reading.
func (c *conn) readRefused(seq, status int, rest []byte) {
	c.feedRefused(rest, seq)
	if c.requestRecorded(seq) {
		return
	}
	c.client.SetReadDeadline(time.Now().Add(refusedReadWait))
	r := newChunkReader(c.client)
	for total := 0; total < refusedReadMax && !c.requestRecorded(seq); {
		err := r.read(func(b []byte) error {
			total += len(b)
			c.count(decode.Client, len(b))
			c.feedRefused(b, seq)
			return nil
		})
		if err != nil {
			break
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rec.lastRequest < seq && !c.broken {
		c.rec.cut = fmt.Sprintf("frametap stopped reading after its %d: ", status)
		c.rec.now = time.Now()
		c.dec.End(decode.Client)
		c.rec.flush()
	}
}

// feedRefused decodes client bytes until request seq is complete; what
// follows it is not decoded (the connection is over).
func (c *conn) feedRefused(b []byte, seq int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rec.now = time.Now()
	c.pcapData(decode.Client, b, c.rec.now) // what the client sent frametap, after its answer
	for len(b) > 0 && c.rec.lastRequest < seq && !c.broken {
		n, _, err := c.feedClient(b)
		if n == 0 || err != nil {
			break
		}
		b = b[n:]
	}
	c.rec.flush()
}

// refuse answers 502 to a client whose upstream cannot be reached or
// verified, where the client's request is still to be read (reverse mode,
// and TLS frametap terminated): it reads the request head (first holds
// bytes of it read already), answers, and reads the body as answer does.
func (c *conn) refuse(dialErr error, first []byte) error {
	c.recordFailure("server", dialErr)
	seq := 0
	var rest []byte
	feed := func(b []byte) error {
		c.count(decode.Client, len(b))
		c.mu.Lock()
		defer c.mu.Unlock()
		c.rec.now = time.Now()
		defer c.rec.flush()
		for len(b) > 0 && !c.broken {
			n, head, err := c.feedClient(b)
			if c.pcapOn() {
				c.pcapHead = append(c.pcapHead, b[:n]...) // for answer's pcapLocal
			}
			b = b[n:]
			if head != nil {
				// b is valid only during this read: the chunk's
				// buffer goes back to the pool after it.
				seq, rest = head.Seq, bytes.Clone(b)
				return nil
			}
			if err != nil || n == 0 {
				return errAnswered
			}
		}
		return nil
	}
	c.client.SetReadDeadline(time.Now().Add(refusedReadWait))
	err := feed(first)
	for r := newChunkReader(c.client); err == nil && seq == 0; {
		err = r.read(feed)
	}
	return c.answer(502, "Bad Gateway", dialErr.Error(), seq, rest)
}

// lingerClose half-closes nc and reads what the client still sends for a
// moment, so that closing does not reset the connection before the client
// has read frametap's answer.
func lingerClose(nc net.Conn) {
	closeWrite(nc)
	nc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	io.Copy(io.Discard, io.LimitReader(nc, 1<<20))
}

// closeWrite half-closes a connection where the transport allows it, and
// closes it otherwise.
func closeWrite(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		return
	}
	nc.Close()
}
