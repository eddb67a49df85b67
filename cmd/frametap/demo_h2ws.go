package main

// The third act (issue 9): a WebSocket that is one stream of an HTTP/2
// connection (RFC 8441), beside an ordinary request on the same
// connection. Go's net/http serves extended CONNECT only under
// GODEBUG=http2xconnect=1, read when the process starts, so the demo's
// server and client are written here on x/net/http2's Framer and hpack:
// h2c with prior knowledge in a CONNECT tunnel, as in demo_h2.go.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Bounds of the demo's HTTP/2 peers.
const (
	h2wsMaxBlock   = 64 << 10        // a header block, HEADERS and CONTINUATION together
	h2wsMaxStreams = 16              // streams the server keeps at once
	h2wsIdle       = 2 * time.Minute // a connection with no frame from the client
)

// wsStream holds one stream's WebSocket bytes until whole frames are there:
// DATA boundaries have nothing to do with frame boundaries (RFC 8441
// section 5).
type wsStream struct{ b []byte }

// add appends DATA and returns the whole frames now there, unmasked.
func (s *wsStream) add(p []byte) ([]ws.Frame, error) {
	if len(s.b)+len(p) > demoMaxFrame+14 {
		return nil, fmt.Errorf("demo: a WebSocket frame over %d bytes", demoMaxFrame)
	}
	s.b = append(s.b, p...)
	var out []ws.Frame
	for {
		r := bytes.NewReader(s.b)
		h, err := ws.ReadHeader(r)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if h.Length > demoMaxFrame {
			return out, fmt.Errorf("demo: frame of %d bytes, over %d", h.Length, demoMaxFrame)
		}
		hl := len(s.b) - r.Len()
		if len(s.b) < hl+int(h.Length) {
			return out, nil
		}
		payload := append([]byte(nil), s.b[hl:hl+int(h.Length)]...)
		if h.Masked {
			ws.Cipher(payload, h.Mask, 0)
		}
		out = append(out, ws.Frame{Header: h, Payload: payload})
		s.b = s.b[:copy(s.b, s.b[hl+int(h.Length):])]
	}
}

// wsBytes is a frame as it goes on the wire, masked when mask.
func wsBytes(f ws.Frame, mask bool) []byte {
	if mask {
		f = ws.MaskFrameInPlace(f)
	}
	var b bytes.Buffer
	ws.WriteFrame(&b, f)
	return b.Bytes()
}

// h2Peer is one end of the demo's HTTP/2 connection: the Framer and the
// hpack encoder, written under one lock in wire order, and the send
// windows (RFC 9113 section 6.9). It is safe for concurrent use.
type h2Peer struct {
	nc  net.Conn
	fr  *http2.Framer
	dec *hpack.Decoder // the reading goroutine's

	wmu  sync.Mutex
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	mu      sync.Mutex
	cond    *sync.Cond
	conn    int64            // the connection's send window
	streams map[uint32]int64 // each open stream's send window
	initial int64            // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	closed  bool
}

func newH2Peer(nc net.Conn, r io.Reader) *h2Peer {
	p := &h2Peer{nc: nc, fr: http2.NewFramer(nc, r), conn: 65535, initial: 65535, streams: map[uint32]int64{}}
	p.cond = sync.NewCond(&p.mu)
	p.enc = hpack.NewEncoder(&p.hbuf)
	p.dec = hpack.NewDecoder(4096, nil)
	p.dec.SetMaxStringLength(h2wsMaxBlock)
	return p
}

// write runs one write of the Framer under the lock, with a deadline.
func (p *h2Peer) write(fn func(*http2.Framer) error) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.nc.SetWriteDeadline(time.Now().Add(demoWriteMax))
	return fn(p.fr)
}

// headers writes a header block in one HEADERS frame.
func (p *h2Peer) headers(stream uint32, end bool, fields ...string) error {
	return p.write(func(fr *http2.Framer) error {
		p.hbuf.Reset()
		for i := 0; i+1 < len(fields); i += 2 {
			p.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
		}
		return fr.WriteHeaders(http2.HeadersFrameParam{StreamID: stream, BlockFragment: p.hbuf.Bytes(), EndStream: end, EndHeaders: true})
	})
}

// open gives a new stream the peer's initial window.
func (p *h2Peer) open(stream uint32) {
	p.mu.Lock()
	p.streams[stream] = p.initial
	p.mu.Unlock()
}

// forget ends a stream's flow control, waking a sender waiting on it.
func (p *h2Peer) forget(stream uint32) {
	p.mu.Lock()
	delete(p.streams, stream)
	p.mu.Unlock()
	p.cond.Broadcast()
}

// data sends b on stream once both windows allow it, in one DATA frame
// (the demo's messages are far below SETTINGS_MAX_FRAME_SIZE); it gives
// up when they stay shut for demoWriteMax.
func (p *h2Peer) data(stream uint32, end bool, b []byte) error {
	n := int64(len(b))
	deadline := time.Now().Add(demoWriteMax)
	wake := time.AfterFunc(demoWriteMax, p.cond.Broadcast)
	defer wake.Stop()
	p.mu.Lock()
	for {
		w, open := p.streams[stream]
		if p.closed || !open {
			p.mu.Unlock()
			return net.ErrClosed
		}
		if time.Now().After(deadline) {
			p.mu.Unlock()
			return errors.New("demo: the peer's flow-control window stayed shut")
		}
		if p.conn >= n && w >= n {
			p.conn -= n
			p.streams[stream] = w - n
			break
		}
		p.cond.Wait()
	}
	p.mu.Unlock()
	return p.write(func(fr *http2.Framer) error { return fr.WriteData(stream, end, b) })
}

// control handles the frames both ends treat alike: SETTINGS, PING,
// WINDOW_UPDATE; and for DATA, it gives the window back at once. It
// reports a GOAWAY as io.EOF.
func (p *h2Peer) control(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			return nil
		}
		if v, ok := f.Value(http2.SettingInitialWindowSize); ok {
			p.mu.Lock()
			for id, w := range p.streams {
				p.streams[id] = w + int64(v) - p.initial
			}
			p.initial = int64(v)
			p.mu.Unlock()
			p.cond.Broadcast()
		}
		return p.write(func(fr *http2.Framer) error { return fr.WriteSettingsAck() })
	case *http2.PingFrame:
		if f.IsAck() {
			return nil
		}
		return p.write(func(fr *http2.Framer) error { return fr.WritePing(true, f.Data) })
	case *http2.WindowUpdateFrame:
		p.mu.Lock()
		if f.StreamID == 0 {
			p.conn += int64(f.Increment)
		} else if w, ok := p.streams[f.StreamID]; ok {
			p.streams[f.StreamID] = w + int64(f.Increment)
		}
		p.mu.Unlock()
		p.cond.Broadcast()
	case *http2.DataFrame:
		// A stream the DATA ended takes no WINDOW_UPDATE (RFC 9113
		// section 5.1, "closed").
		if n := uint32(f.Length); n > 0 {
			return p.write(func(fr *http2.Framer) error {
				if err := fr.WriteWindowUpdate(0, n); err != nil || f.StreamEnded() {
					return err
				}
				return fr.WriteWindowUpdate(f.StreamID, n)
			})
		}
	case *http2.GoAwayFrame:
		return io.EOF
	}
	return nil
}

// block reads the header block that starts with h, CONTINUATION frames
// included, and decodes it.
func (p *h2Peer) block(h *http2.HeadersFrame) (map[string]string, error) {
	b := append([]byte(nil), h.HeaderBlockFragment()...)
	for ended := h.HeadersEnded(); !ended; {
		f, err := p.fr.ReadFrame()
		if err != nil {
			return nil, err
		}
		c, ok := f.(*http2.ContinuationFrame)
		if !ok || c.StreamID != h.StreamID {
			return nil, errors.New("demo: a header block interrupted")
		}
		if b = append(b, c.HeaderBlockFragment()...); len(b) > h2wsMaxBlock {
			return nil, errors.New("demo: a header block over 64 KiB")
		}
		ended = c.HeadersEnded()
	}
	fields, err := p.dec.DecodeFull(b)
	if err != nil {
		return nil, err
	}
	m := make(map[string]string, len(fields))
	for _, hf := range fields {
		m[hf.Name] = hf.Value
	}
	return m, nil
}

// close marks the connection closed and wakes any sender.
func (p *h2Peer) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.cond.Broadcast()
	p.nc.Close()
}

// serveH2WS is the server: SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441
// section 3), a WebSocket on each extended CONNECT for websocket, pushing
// every price, echoing pings and the close; a small JSON for a GET.
func serveH2WS(nc net.Conn, fd *feed) {
	nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(nc)
	preface := make([]byte, len(http2.ClientPreface))
	if _, err := io.ReadFull(br, preface); err != nil || string(preface) != http2.ClientPreface {
		return
	}
	p := newH2Peer(nc, br)
	defer p.close()
	if p.write(func(fr *http2.Framer) error {
		return fr.WriteSettings(http2.Setting{ID: http2.SettingEnableConnectProtocol, Val: 1},
			http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: h2wsMaxStreams})
	}) != nil {
		return
	}
	type stream struct {
		ws  wsStream
		end context.CancelFunc
	}
	streams := map[uint32]*stream{}
	defer func() {
		for _, s := range streams {
			s.end()
		}
	}()
	finish := func(id uint32) {
		if s := streams[id]; s != nil {
			s.end()
			delete(streams, id)
			p.forget(id)
		}
	}
	for {
		nc.SetReadDeadline(time.Now().Add(h2wsIdle))
		f, err := p.fr.ReadFrame()
		if err != nil || p.control(f) != nil {
			return
		}
		switch f := f.(type) {
		case *http2.HeadersFrame:
			h, err := p.block(f)
			if err != nil {
				return
			}
			id := f.StreamID
			switch {
			case h[":method"] == "CONNECT" && h[":protocol"] == "websocket" && !f.StreamEnded() && len(streams) < h2wsMaxStreams:
				ctx, end := context.WithCancel(context.Background())
				streams[id] = &stream{end: end}
				p.open(id)
				if p.headers(id, false, ":status", "200") != nil {
					return
				}
				go h2wsPush(ctx, p, id, fd)
			case h[":method"] == "GET" && h[":path"] == "/h2ws/status":
				p.open(id)
				body := fmt.Appendf(nil, `{"websockets":%d,"rfc":8441}`, len(streams))
				if p.headers(id, false, ":status", "200", "content-type", "application/json") != nil || p.data(id, true, body) != nil {
					return
				}
				p.forget(id)
			default:
				if p.headers(id, true, ":status", "404") != nil {
					return
				}
			}
		case *http2.DataFrame:
			s := streams[f.StreamID]
			if s == nil {
				continue
			}
			frames, err := s.ws.add(f.Data())
			if err != nil {
				p.write(func(fr *http2.Framer) error { return fr.WriteRSTStream(f.StreamID, http2.ErrCodeProtocol) })
				finish(f.StreamID)
				continue
			}
			for _, wf := range frames {
				switch wf.Header.OpCode {
				case ws.OpPing:
					p.data(f.StreamID, false, wsBytes(ws.NewPongFrame(wf.Payload), false))
				case ws.OpText:
					p.data(f.StreamID, false, wsBytes(ws.NewTextFrame(fmt.Appendf(nil, `{"ack":%q}`, wf.Payload)), false))
				case ws.OpClose:
					// The close answered, the stream ends (RFC 8441
					// section 5.1: END_STREAM after the close).
					p.data(f.StreamID, true, wsBytes(ws.NewCloseFrame(wf.Payload), false))
					finish(f.StreamID)
				}
			}
			if f.StreamEnded() {
				finish(f.StreamID)
			}
		case *http2.RSTStreamFrame:
			finish(f.StreamID)
		}
	}
}

// h2wsPush sends every price as a text message on the stream until ctx
// is done or the stream ends.
func h2wsPush(ctx context.Context, p *h2Peer, stream uint32, fd *feed) {
	pr, _ := fd.latest()
	for last := pr.ID - 1; ; {
		pr, ok := fd.after(ctx, last, time.Hour)
		if !ok || p.data(stream, false, wsBytes(ws.NewTextFrame(pr.json()), false)) != nil {
			return
		}
		last = pr.ID
	}
}
