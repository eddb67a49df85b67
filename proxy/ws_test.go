package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// startWSEcho runs a gobwas/ws server on loopback that echoes data frames
// as they come (fragments stay fragments), answers pings with pongs and
// closes by echoing the close frame.
func startWSEcho(t *testing.T) string {
	t.Helper()
	return serveEach(listenLoopback(t), serveWSEcho)
}

func serveWSEcho(nc net.Conn) {
	defer nc.Close()
	u := ws.Upgrader{Protocol: func(p []byte) bool { return string(p) == "chat" }}
	if _, err := u.Upgrade(nc); err != nil {
		return
	}
	for {
		f, err := readFrame(nc)
		if err != nil {
			return
		}
		if f.Header.Masked {
			ws.Cipher(f.Payload, f.Header.Mask, 0)
		}
		out := ws.Frame{Header: ws.Header{Fin: f.Header.Fin, OpCode: f.Header.OpCode, Length: int64(len(f.Payload))}, Payload: f.Payload}
		if f.Header.OpCode == ws.OpPing {
			out.Header.OpCode = ws.OpPong
		}
		if err := ws.WriteFrame(nc, out); err != nil {
			return
		}
		if f.Header.OpCode == ws.OpClose {
			return
		}
	}
}

// readFrame reads one whole frame of at most 1 MiB (the test peers' bound;
// ws.ReadFrame trusts the declared length).
func readFrame(r io.Reader) (ws.Frame, error) {
	h, err := ws.ReadHeader(r)
	if err != nil {
		return ws.Frame{}, err
	}
	if h.Length > 1<<20 {
		return ws.Frame{}, fmt.Errorf("frame of %d bytes is over the test's 1 MiB", h.Length)
	}
	f := ws.Frame{Header: h, Payload: make([]byte, h.Length)}
	_, err = io.ReadFull(r, f.Payload)
	return f, err
}

// wsClientFrame writes one masked client frame.
func wsClientFrame(t *testing.T, w io.Writer, fin bool, op ws.OpCode, payload string) {
	t.Helper()
	p := []byte(payload)
	h := ws.Header{Fin: fin, OpCode: op, Masked: true, Mask: ws.NewMask(), Length: int64(len(p))}
	ws.Cipher(p, h.Mask, 0)
	if err := ws.WriteHeader(w, h); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(p); err != nil {
		t.Fatal(err)
	}
}

// wsConversation runs the test conversation on an upgraded connection:
// a text message, a binary message in three fragments with a ping between
// the first two, then a close with a code and a reason.
func wsConversation(t *testing.T, nc net.Conn, br *bufio.Reader) {
	t.Helper()
	wsClientFrame(t, nc, true, ws.OpText, "hello")
	wsClientFrame(t, nc, false, ws.OpBinary, "ab")
	wsClientFrame(t, nc, true, ws.OpPing, "p1")
	wsClientFrame(t, nc, false, ws.OpContinuation, "cd")
	wsClientFrame(t, nc, true, ws.OpContinuation, "ef")
	wsClientFrame(t, nc, true, ws.OpClose, string(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye")))
	var got []string
	for {
		f, err := readFrame(br)
		if err != nil {
			t.Fatalf("after %v: %v", got, err)
		}
		got = append(got, decode.OpName(uint8(f.Header.OpCode))+":"+string(f.Payload))
		if f.Header.OpCode == ws.OpClose {
			break
		}
	}
	want := "text:hello binary:ab pong:p1 continuation:cd continuation:ef close:" + string(ws.NewCloseFrameBody(ws.StatusNormalClosure, "bye"))
	if strings.Join(got, " ") != want {
		t.Fatalf("client received %q\nwant %q", strings.Join(got, " "), want)
	}
	nc.Close()
}

func dialWS(t *testing.T, nc net.Conn, host string) *bufio.Reader {
	t.Helper()
	d := ws.Dialer{
		Protocols: []string{"chat"},
		NetDial:   func(context.Context, string, string) (net.Conn, error) { return nc, nil },
		Timeout:   5 * time.Second,
	}
	_, br, hs, err := d.Dial(context.Background(), "ws://"+host+"/chat")
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if hs.Protocol != "chat" {
		t.Fatalf("subprotocol %q", hs.Protocol)
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	return br
}

func TestWebSocketReverse(t *testing.T) {
	srv := startWSEcho(t)
	tp := startTap(t, Config{Mode: Reverse, Upstream: srv})
	nc, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	wsConversation(t, nc, dialWS(t, nc, srv))
	tp.waitClosed()
	checkWSCapture(t, tp.stop(), 1)
}

// Browsers reach ws:// through a proxy with CONNECT.
func TestWebSocketThroughConnect(t *testing.T) {
	srv := startWSEcho(t)
	tp := startTap(t, Config{})
	nc, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(nc, "CONNECT "+srv+" HTTP/1.1\r\nHost: "+srv+"\r\n\r\n")
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, &http.Request{Method: "CONNECT"})
	if err != nil || resp.StatusCode != 200 || br.Buffered() != 0 {
		t.Fatalf("CONNECT: %v %v", resp, err)
	}
	wsConversation(t, nc, dialWS(t, nc, srv))
	tp.waitClosed()
	checkWSCapture(t, tp.stop(), 2)
}

func checkWSCapture(t *testing.T, evs []capture.Event, upgradeSeq int) {
	t.Helper()
	ups := kinds(evs, 0, capture.KindUpgrade)
	if len(ups) != 1 || ups[0].Seq != upgradeSeq || ups[0].Protocol != "websocket" || ups[0].Subprotocol != "chat" || !ups[0].AcceptOK {
		t.Fatalf("upgrade events %+v", ups)
	}
	resps := kinds(evs, 0, capture.KindResponse)
	if last := resps[len(resps)-1]; last.Status != 101 || last.Seq != upgradeSeq {
		t.Errorf("last response %d seq %d, want the 101", last.Status, last.Seq)
	}
	var frames, msgs []string
	for _, ev := range evs {
		switch ev.Kind {
		case capture.KindFrame:
			frames = append(frames, frameString(ev))
		case capture.KindMessage:
			m := ev.From + " " + ev.Op + " " + itoa(ev.Frames) + " "
			switch ev.Op {
			case "close":
				m += itoa(ev.Code) + " " + ev.Reason
			default:
				m += string(ev.Payload)
			}
			if ev.Len != int64(len(ev.Payload)) && ev.Op != "close" {
				t.Errorf("message %q: len %d", m, ev.Len)
			}
			msgs = append(msgs, m)
		}
	}
	wantFrames := []string{
		"client fin op1 masked 5", "server fin op1 5",
		"client op2 masked 2", "client fin op9 masked 2", "client op0 masked 2", "client fin op0 masked 2",
		"client fin op8 masked 5",
	}
	var clientFrames []string
	serverFrames := 0
	for _, f := range frames {
		if strings.HasPrefix(f, "client") {
			clientFrames = append(clientFrames, f)
		} else {
			serverFrames++
		}
	}
	wantClient := []string{wantFrames[0], wantFrames[2], wantFrames[3], wantFrames[4], wantFrames[5], wantFrames[6]}
	if strings.Join(clientFrames, ", ") != strings.Join(wantClient, ", ") {
		t.Errorf("client frames\n got %v\nwant %v", clientFrames, wantClient)
	}
	if serverFrames != 6 {
		t.Errorf("%d server frames, want 6: %v", serverFrames, frames)
	}
	var fromClient, fromServer []string
	for _, m := range msgs {
		if strings.HasPrefix(m, "client") {
			fromClient = append(fromClient, m)
		} else {
			fromServer = append(fromServer, m)
		}
	}
	if got, want := strings.Join(fromClient, " | "), "client text 1 hello | client ping 1 p1 | client binary 3 abcdef | client close 1 1000 bye"; got != want {
		t.Errorf("client messages\n got %s\nwant %s", got, want)
	}
	if got, want := strings.Join(fromServer, " | "), "server text 1 hello | server pong 1 p1 | server binary 3 abcdef | server close 1 1000 bye"; got != want {
		t.Errorf("server messages\n got %s\nwant %s", got, want)
	}
	cl := kinds(evs, 0, capture.KindClose)
	last := cl[len(cl)-1]
	if !last.WebSocket || last.WSClosedBy != "client" || !last.WSCloseClean {
		t.Errorf("close event %+v", last)
	}
}

func frameString(ev capture.Event) string {
	s := ev.From
	if ev.Fin {
		s += " fin"
	}
	s += " op" + itoa(int(ev.Opcode))
	if ev.Masked {
		s += " masked"
	}
	return s + " " + itoa(int(ev.Len))
}

func itoa(n int) string { return strconv.Itoa(n) }
