package pcapng

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gobwas/ws"
)

// wsServer is a WebSocket server on loopback that answers each client
// frame: a text frame with a 3000-byte text frame (more than two segments),
// a ping with a pong, a binary frame with the same bytes, a close with a
// close. Each frame goes in one write, as one chunk.
func wsServer(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		if _, err := ws.Upgrade(c); err != nil {
			t.Error(err)
			return
		}
		for {
			f, err := readFrame(c)
			if err != nil {
				t.Error(err)
				return
			}
			f = ws.UnmaskFrameInPlace(f)
			var reply ws.Frame
			switch f.Header.OpCode {
			case ws.OpText:
				reply = ws.NewTextFrame([]byte(strings.Repeat("w", 3000)))
			case ws.OpPing:
				reply = ws.NewPongFrame(f.Payload)
			case ws.OpBinary:
				reply = ws.NewBinaryFrame(f.Payload)
			case ws.OpClose:
				reply = ws.NewCloseFrame(f.Payload)
			}
			if err := writeFrame(c, reply); err != nil {
				t.Error(err)
				return
			}
			if f.Header.OpCode == ws.OpClose {
				return
			}
		}
	}()
	return ln
}

// readFrame reads one frame of at most 64 KiB.
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > 64<<10 {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	_, err = io.ReadFull(r, f.Payload)
	return f, err
}

func writeFrame(c net.Conn, f ws.Frame) error {
	b, err := ws.CompileFrame(f)
	if err != nil {
		return err
	}
	_, err = c.Write(b)
	return err
}

// TestWebSocket relays a real WebSocket session (masked client frames, a
// server frame split over three segments, ping, pong, binary, close) and
// checks every frame as tshark's WebSocket dissector reads it.
func TestWebSocket(t *testing.T) {
	needTshark(t)
	srv := wsServer(t)
	file := tempFile(t, "ws.pcapng")
	w, err := Create(file, Options{})
	if err != nil {
		t.Fatal(err)
	}
	tt := newTee(t, "tcp4", srv.Addr().String(), w)

	d := ws.Dialer{NetDial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var nd net.Dialer
		return nd.DialContext(ctx, "tcp", tt.addr())
	}}
	c, br, _, err := d.Dial(context.Background(), "ws://"+srv.Addr().String()+"/chat")
	if err != nil {
		t.Fatal(err)
	}
	var r = bufio.NewReader(c)
	if br != nil {
		r = br
	}
	client := []ws.Frame{
		ws.NewTextFrame([]byte("hello")),
		ws.NewPingFrame([]byte("p")),
		ws.NewBinaryFrame([]byte{1, 2, 3}),
		ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")),
	}
	for _, f := range client {
		if err := writeFrame(c, ws.MaskFrameInPlace(f)); err != nil {
			t.Fatal(err)
		}
		if _, err := readFrame(r); err != nil {
			t.Fatal(err)
		}
	}
	c.Close()
	tt.wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}

	clientPort := strconv.Itoa(int(tt.conn(0).client.Port()))
	var got [][]string
	for _, r := range fields(t, file, "websocket", "tcp.srcport", "websocket.fin", "websocket.opcode", "websocket.mask",
		"websocket.payload_length", "websocket.payload_length_ext_16", "websocket.payload.text", "websocket.payload.close.status_code", "websocket.payload.close.reason") {
		from := "server"
		if r[0] == clientPort {
			from = "client"
		}
		got = append(got, append([]string{from}, r[1:]...))
	}
	want := [][]string{
		{"client", "1", "1", "1", "5", "", "hello", "", ""},
		{"server", "1", "1", "0", "126", "3000", strings.Repeat("w", 3000), "", ""},
		{"client", "1", "9", "1", "1", "", "", "", ""},
		{"server", "1", "10", "0", "1", "", "", "", ""},
		{"client", "1", "2", "1", "3", "", "", "", ""},
		{"server", "1", "2", "0", "3", "", "", "", ""},
		{"client", "1", "8", "1", "5", "", "", "1000", "bye"},
		{"server", "1", "8", "0", "5", "", "", "1000", "bye"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("WebSocket frames:\n got %q\nwant %q", short(got), short(want))
	}
	// The 3000-byte frame came in one chunk and went out in three
	// segments, tshark reassembled it.
	ps := packets(t, file)
	checkClean(t, ps)
	checkFollow(t, ps, 0, tt.conn(0))
	big := 0
	for _, p := range ps {
		if bytes.Contains(p.payload, []byte("wwww")) {
			big++
		}
	}
	if big != 3 {
		t.Errorf("the 3000-byte frame is in %d segments, want 3", big)
	}
}

// short abbreviates long fields for messages.
func short(rows [][]string) [][]string {
	out := make([][]string, len(rows))
	for i, r := range rows {
		out[i] = make([]string, len(r))
		for j, f := range r {
			if len(f) > 20 {
				f = f[:10] + "…(" + strconv.Itoa(len(f)) + ")"
			}
			out[i][j] = f
		}
	}
	return out
}
