package proxy

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
)

// wsPair is a WebSocket through a reverse frametap: the client's and the
// server's sockets, each side free to write raw frames.
type wsPair struct {
	tp     *tap
	client net.Conn
	cr     *bufio.Reader
	server net.Conn
	id     uint64
}

// startWSPair runs a server that upgrades one connection and hands it to
// the test, and a client connected to it through frametap.
func startWSPair(t *testing.T) *wsPair {
	t.Helper()
	ln := listenLoopback(t)
	srv := make(chan net.Conn, 1)
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		if _, err := (ws.Upgrader{}).Upgrade(nc); err != nil {
			nc.Close()
			return
		}
		srv <- nc
	}()
	tp := startTap(t, Config{Mode: Reverse, Upstream: ln.Addr().String()})
	nc, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	cr := dialWS0(t, nc, tp.addr)
	pr := &wsPair{tp: tp, client: nc, cr: cr}
	select {
	case pr.server = <-srv:
	case <-time.After(5 * time.Second):
		t.Fatal("the server got no upgrade")
	}
	t.Cleanup(func() { pr.server.Close() })
	tp.p.mu.Lock()
	for c := range tp.p.conns {
		pr.id = c.id
	}
	tp.p.mu.Unlock()
	return pr
}

// dialWS0 upgrades nc with no subprotocol.
func dialWS0(t *testing.T, nc net.Conn, host string) *bufio.Reader {
	t.Helper()
	d := ws.Dialer{NetDial: func(context.Context, string, string) (net.Conn, error) { return nc, nil }, Timeout: 5 * time.Second}
	_, br, _, err := d.Dial(context.Background(), "ws://"+host+"/")
	if err != nil {
		t.Fatalf("upgrade: %v", err)
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	return br
}

// serverFrame writes one unmasked frame.
func serverFrame(t *testing.T, w net.Conn, fin bool, op ws.OpCode, payload string) {
	t.Helper()
	if err := ws.WriteFrame(w, ws.Frame{Header: ws.Header{Fin: fin, OpCode: op, Length: int64(len(payload))}, Payload: []byte(payload)}); err != nil {
		t.Fatal(err)
	}
}

// frameText reads one frame and describes it: op, FIN, RSV, mask and the
// unmasked payload.
func frameText(t *testing.T, r net.Conn, br *bufio.Reader) string {
	t.Helper()
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	var f ws.Frame
	var err error
	if br != nil {
		f, err = readFrame(br)
	} else {
		f, err = readFrame(r)
	}
	if err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	if f.Header.Masked {
		ws.Cipher(f.Payload, f.Header.Mask, 0)
	}
	return fmt.Sprintf("%s fin=%v rsv=%d masked=%v %q", decode.OpName(uint8(f.Header.OpCode)), f.Header.Fin, f.Header.Rsv, f.Header.Masked, f.Payload)
}

// injectedEvents describes the capture's injected frames and messages.
func injectedEvents(evs []capture.Event) []string {
	var out []string
	for _, ev := range evs {
		if ev.Injected {
			out = append(out, fmt.Sprintf("%s %s %s%d %q", ev.Kind, ev.From, ev.Op, ev.Opcode, ev.Payload))
		}
	}
	return out
}

// An injected message reaches the peer it was sent to as one frame, masked
// toward the server and unmasked toward the client, and is in the
// capture, in wire order, marked injected.
func TestInjectBothWays(t *testing.T) {
	pr := startWSPair(t)
	ctx := context.Background()
	wsClientFrame(t, pr.client, true, ws.OpText, "from the client")
	if got := frameText(t, pr.server, nil); got != `text fin=true rsv=0 masked=true "from the client"` {
		t.Fatalf("server got %s", got)
	}
	if err := pr.tp.p.Inject(ctx, pr.id, decode.Server, Injection{Op: InjectText, Payload: []byte("injected to the server")}); err != nil {
		t.Fatal(err)
	}
	if got := frameText(t, pr.server, nil); got != `text fin=true rsv=0 masked=true "injected to the server"` {
		t.Errorf("server got %s", got)
	}
	if err := pr.tp.p.Inject(ctx, pr.id, decode.Client, Injection{Op: InjectBinary, Payload: []byte{0, 1, 2}}); err != nil {
		t.Fatal(err)
	}
	if err := pr.tp.p.Inject(ctx, pr.id, decode.Client, Injection{Op: InjectPing, Payload: []byte("p")}); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("x", 70000) // a 64-bit length
	if err := pr.tp.p.Inject(ctx, pr.id, decode.Client, Injection{Op: InjectText, Payload: []byte(big)}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`binary fin=true rsv=0 masked=false "\x00\x01\x02"`, `ping fin=true rsv=0 masked=false "p"`} {
		if got := frameText(t, pr.client, pr.cr); got != want {
			t.Errorf("client got %s, want %s", got, want)
		}
	}
	if got := frameText(t, pr.client, pr.cr); got != fmt.Sprintf("text fin=true rsv=0 masked=false %q", big) {
		t.Errorf("client got %.60s..., want the 70000-byte text", got)
	}
	if err := pr.tp.p.Inject(ctx, pr.id, decode.Server, Injection{Op: InjectClose, CloseCode: 4000, CloseReason: "bye"}); err != nil {
		t.Fatal(err)
	}
	if got := frameText(t, pr.server, nil); got != fmt.Sprintf("close fin=true rsv=0 masked=true %q", "\x0f\xa0bye") {
		t.Errorf("server got %s", got)
	}
	pr.client.Close()
	pr.server.Close()
	pr.tp.waitClosed()
	got := injectedEvents(pr.tp.stop())
	want := []string{
		`frame client 1 ""`, `message client text0 "injected to the server"`,
		`frame server 2 ""`, `message server binary0 "\x00\x01\x02"`,
		`frame server 9 ""`, `message server ping0 "p"`,
		`frame server 1 ""`, fmt.Sprintf(`message server text0 %q`, big),
		`frame client 8 ""`, `message client close0 ""`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("injected events:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// pendingOn waits until an injection waits on the direction from of conn
// id.
func pendingOn(t *testing.T, p *Proxy, id uint64, from decode.Side) {
	t.Helper()
	c := p.lookup(id)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if c.dirs[from].pending.Load() != nil {
			return
		}
	}
	t.Fatal("no injection waits")
}

// An injection toward the client while the server is inside a fragmented
// message waits for the message to end (a ping between its fragments does
// not end it), and goes out before the message that follows in the same
// write.
func TestInjectWaitsForMessageEnd(t *testing.T) {
	pr := startWSPair(t)
	serverFrame(t, pr.server, false, ws.OpText, "part 1, ")
	if got := frameText(t, pr.client, pr.cr); got != `text fin=false rsv=0 masked=false "part 1, "` {
		t.Fatalf("client got %s", got)
	}
	done, waited := make(chan error, 1), make(chan struct{})
	go func() {
		done <- pr.tp.p.Inject(context.Background(), pr.id, decode.Client, Injection{Op: InjectText, Payload: []byte("injected"), OnWait: func() { close(waited) }})
	}()
	select {
	case <-waited: // told it waits
	case err := <-done:
		t.Fatalf("Inject returned (%v) inside a fragmented message", err)
	}
	serverFrame(t, pr.server, true, ws.OpPing, "between")
	if got := frameText(t, pr.client, pr.cr); got != `ping fin=true rsv=0 masked=false "between"` {
		t.Fatalf("client got %s", got)
	}
	select {
	case err := <-done:
		t.Fatalf("Inject returned (%v) inside a fragmented message", err)
	default:
	}
	// The end of the message and the next one in one write.
	var b bytes.Buffer
	ws.WriteFrame(&b, ws.NewFrame(ws.OpContinuation, true, []byte("part 2")))
	ws.WriteFrame(&b, ws.NewTextFrame([]byte("next")))
	pr.server.Write(b.Bytes())
	for _, want := range []string{
		`continuation fin=true rsv=0 masked=false "part 2"`,
		`text fin=true rsv=0 masked=false "injected"`,
		`text fin=true rsv=0 masked=false "next"`,
	} {
		if got := frameText(t, pr.client, pr.cr); got != want {
			t.Errorf("client got %s, want %s", got, want)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pr.client.Close()
	pr.server.Close()
	pr.tp.waitClosed()
	var got []string
	for _, ev := range pr.tp.stop() {
		if ev.Kind == capture.KindMessage {
			got = append(got, fmt.Sprintf("%s %s %q injected=%v", ev.From, ev.Op, ev.Payload, ev.Injected))
		}
	}
	want := `server ping "between" injected=false|server text "part 1, part 2" injected=false|server text "injected" injected=true|server text "next" injected=false`
	if strings.Join(got, "|") != want {
		t.Errorf("messages:\n got %s\nwant %s", strings.Join(got, "|"), want)
	}
}

// Bad requests are refused with the rule, before anything is sent.
func TestInjectRefusals(t *testing.T) {
	pr := startWSPair(t)
	p, ctx := pr.tp.p, context.Background()
	for _, tc := range []struct {
		name string
		m    Injection
		want string
	}{
		{"reserved 1005", Injection{Op: InjectClose, CloseCode: 1005}, "close code 1005 is reserved and must never be sent"},
		{"reserved 1006", Injection{Op: InjectClose, CloseCode: 1006}, "RFC 6455 section 7.4.1"},
		{"reserved 1015", Injection{Op: InjectClose, CloseCode: 1015}, "reserved"},
		{"below 1000", Injection{Op: InjectClose, CloseCode: 999}, "3000-3999 (libraries) and 4000-4999 (applications)"},
		{"protocol range", Injection{Op: InjectClose, CloseCode: 2000}, "close code 2000 may not be sent"},
		{"5000", Injection{Op: InjectClose, CloseCode: 5000}, "close code 5000 may not be sent"},
		{"reason without code", Injection{Op: InjectClose, CloseReason: "x"}, "a close reason needs a code"},
		{"long reason", Injection{Op: InjectClose, CloseCode: 1000, CloseReason: strings.Repeat("r", 124)}, "at most 125 bytes"},
		{"long ping", Injection{Op: InjectPing, Payload: make([]byte, 126)}, "at most 125 bytes"},
		{"bad text", Injection{Op: InjectText, Payload: []byte{0xff}}, "must be UTF-8"},
		{"no op", Injection{}, "unknown type"},
	} {
		err := p.Inject(ctx, pr.id, decode.Server, tc.m)
		if !errors.Is(err, ErrInjectInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want ErrInjectInvalid saying %q", tc.name, err, tc.want)
		}
	}
	for _, code := range []int{0, 1000, 1003, 1007, 1012, 1014, 3000, 4999} {
		if _, err := (Injection{Op: InjectClose, CloseCode: code}).frame(decode.Server); err != nil {
			t.Errorf("close code %d refused: %v", code, err)
		}
	}
	if err := p.Inject(ctx, 999, decode.Server, Injection{Op: InjectText}); !errors.Is(err, ErrNoConnection) {
		t.Errorf("unknown connection: %v", err)
	}
	// The client closes: no data toward the server after it.
	wsClientFrame(t, pr.client, true, ws.OpClose, string(ws.NewCloseFrameBody(ws.StatusNormalClosure, "")))
	frameText(t, pr.server, nil)
	if err := p.Inject(ctx, pr.id, decode.Server, Injection{Op: InjectText, Payload: []byte("late")}); !errors.Is(err, ErrAfterClose) {
		t.Errorf("after the client's close: %v", err)
	}
	pr.client.Close()
	pr.server.Close()
	pr.tp.waitClosed()
	if err := p.Inject(ctx, pr.id, decode.Server, Injection{Op: InjectText}); !errors.Is(err, ErrNoConnection) {
		t.Errorf("closed connection: %v", err)
	}
	if got := injectedEvents(pr.tp.stop()); len(got) > 0 {
		t.Errorf("refused injections were recorded: %v", got)
	}
}

// A plain HTTP connection takes no injection.
func TestInjectNotWebSocket(t *testing.T) {
	us := startHTTP(t, func(w http.ResponseWriter, r *http.Request) {})
	tp := startTap(t, Config{Mode: Reverse, Upstream: us.addr})
	rc := dialRaw(t, tp.addr)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	rc.response("GET")
	tp.p.mu.Lock()
	var id uint64
	for c := range tp.p.conns {
		id = c.id
	}
	tp.p.mu.Unlock()
	err := tp.p.Inject(context.Background(), id, decode.Client, Injection{Op: InjectText, Payload: []byte("x")})
	if !errors.Is(err, ErrNotWebSocket) || !strings.Contains(err.Error(), "HTTP/2") {
		t.Errorf("got %v, want ErrNotWebSocket that names HTTP/2", err)
	}
	if err := tp.p.Injectable(id, decode.Client); !errors.Is(err, ErrNotWebSocket) {
		t.Errorf("Injectable: %v", err)
	}
	rc.finish()
}

// An injection that waits for a message end gives up when its context
// does, or when the connection closes, and then nothing is sent.
func TestInjectGivesUp(t *testing.T) {
	pr := startWSPair(t)
	serverFrame(t, pr.server, false, ws.OpBinary, "a")
	frameText(t, pr.client, pr.cr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- pr.tp.p.Inject(ctx, pr.id, decode.Client, Injection{Op: InjectText, Payload: []byte("never")})
	}()
	pendingOn(t, pr.tp.p, pr.id, decode.Server)
	// A second one on that direction waits its turn, as long as its ctx.
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if err := pr.tp.p.Inject(short, pr.id, decode.Client, Injection{Op: InjectText, Payload: []byte("second")}); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "earlier injection") {
		t.Errorf("a second injection behind a waiting one: %v", err)
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "nothing was sent") {
		t.Errorf("cancelled: %v", err)
	}
	serverFrame(t, pr.server, true, ws.OpContinuation, "b")
	serverFrame(t, pr.server, true, ws.OpText, "after")
	for _, want := range []string{`continuation fin=true rsv=0 masked=false "b"`, `text fin=true rsv=0 masked=false "after"`} {
		if got := frameText(t, pr.client, pr.cr); got != want {
			t.Errorf("client got %s, want %s", got, want)
		}
	}
	// Mid-message again, then the connection ends.
	serverFrame(t, pr.server, false, ws.OpText, "c")
	frameText(t, pr.client, pr.cr)
	go func() {
		done <- pr.tp.p.Inject(context.Background(), pr.id, decode.Client, Injection{Op: InjectText, Payload: []byte("never")})
	}()
	pendingOn(t, pr.tp.p, pr.id, decode.Server)
	pr.server.Close()
	if err := <-done; !errors.Is(err, ErrConnectionClosed) && !errors.Is(err, ErrNotWebSocket) {
		t.Errorf("connection closed while waiting: %v", err)
	}
	pr.client.Close()
	pr.tp.waitClosed()
	if got := injectedEvents(pr.tp.stop()); len(got) > 0 {
		t.Errorf("injections that gave up were recorded: %v", got)
	}
}

// Under a stream of server messages, concurrent injections land whole and
// between messages: the client parses every frame, gets every pushed
// message in order and every injected one.
func TestInjectUnderLoad(t *testing.T) {
	pr := startWSPair(t)
	const pushes, injections = 2000, 50
	go func() {
		w := bufio.NewWriter(pr.server)
		for i := range pushes {
			// Fragmented messages, so that boundaries are rarer than frames.
			ws.WriteFrame(w, ws.NewFrame(ws.OpText, false, []byte(fmt.Sprintf("push %d ", i))))
			ws.WriteFrame(w, ws.NewFrame(ws.OpContinuation, true, bytes.Repeat([]byte("y"), i%300)))
			if i%64 == 0 {
				w.Flush()
			}
		}
		w.Flush()
	}()
	var wg sync.WaitGroup
	errs := make(chan error, injections)
	for i := range injections {
		wg.Go(func() {
			errs <- pr.tp.p.Inject(context.Background(), pr.id, decode.Client, Injection{Op: InjectText, Payload: []byte(fmt.Sprintf("inj %d", i))})
		})
	}
	next, injected := 0, 0
	var msg []byte
	for next < pushes || injected < injections {
		pr.client.SetReadDeadline(time.Now().Add(10 * time.Second))
		f, err := readFrame(pr.cr)
		if err != nil {
			t.Fatalf("after %d pushes and %d injections: %v", next, injected, err)
		}
		switch {
		case bytes.HasPrefix(f.Payload, []byte("inj ")):
			if msg != nil {
				t.Fatalf("injection %q inside push %d", f.Payload, next)
			}
			injected++
		case f.Header.OpCode == ws.OpText:
			msg = append(msg[:0], f.Payload...)
		case f.Header.OpCode == ws.OpContinuation:
			msg = append(msg, f.Payload...)
			if want := fmt.Sprintf("push %d %s", next, strings.Repeat("y", next%300)); string(msg) != want {
				t.Fatalf("message %d is %.40q", next, msg)
			}
			msg = nil
			next++
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
