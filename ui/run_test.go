package ui

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// When app.Run returns by itself (the terminal cannot be opened, or the
// application stopped without Quit) while the pump is due to queue a
// refresh, Run returns instead of waiting for an update no one will run.
func TestRunReturnsWhenAppEnds(t *testing.T) {
	for _, tc := range []struct {
		name    string
		tries   int
		run     func(t *testing.T) (*UI, func())
		wantErr bool
	}{
		{"no terminal", 20, func(t *testing.T) (*UI, func()) {
			t.Setenv("TERM", "no-such-terminal-xyz")
			return New(Config{Interval: time.Microsecond}, NewStore(10)), nil
		}, true},
		{"stopped under the pump", 20, func(t *testing.T) (*UI, func()) {
			scr := tcell.NewSimulationScreen("UTF-8")
			if err := scr.Init(); err != nil {
				t.Fatal(err)
			}
			st := NewStore(100)
			u := New(Config{Screen: scr, Interval: time.Microsecond}, st)
			scr.SetSize(160, 50)
			return u, func() {
				waitScreen(t, u, scr, "? help")
				// On the UI goroutine: have the pump queue a refresh, then
				// end app.Run behind the UI's back. The event loop then
				// picks the end or the refresh, at random.
				u.app.QueueUpdate(func() {
					feed(st, []capture.Event{{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:1"}})
					time.Sleep(20 * time.Millisecond)
					u.app.Stop()
					time.Sleep(20 * time.Millisecond)
				})
			}
		}, false},
	} {
		for try := range tc.tries {
			u, during := tc.run(t)
			done := make(chan error, 1)
			go func() { done <- u.Run(context.Background()) }()
			if during != nil {
				during()
			}
			select {
			case err := <-done:
				if got := err != nil; got != tc.wantErr {
					t.Fatalf("%s, try %d: Run returned %v, want an error %v", tc.name, try, err, tc.wantErr)
				}
			case <-time.After(3 * time.Second):
				t.Fatalf("%s, try %d: Run hangs after app.Run returned", tc.name, try)
			}
			select {
			case <-u.pumpDone:
			default:
				t.Fatalf("%s, try %d: Run returned before the pump stopped", tc.name, try)
			}
		}
	}
}

// The status line: the rates read as paused while the display is, and an
// error's side is described by what the error is.
func TestWording(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	for _, tc := range []struct {
		press      bool // p before looking
		want, nope string
	}{
		{false, "msg/s", "rates paused"},
		{true, "rates paused", "msg/s"},
		{true, "msg/s", "rates paused"}, // p again: resumed
	} {
		if tc.press {
			u.press(tcell.KeyRune, 'p')
		}
		s := u.status.GetText(true)
		if !strings.Contains(s, tc.want) || strings.Contains(s, tc.nope) {
			t.Errorf("paused %v: status %q, want %q and not %q", u.paused, s, tc.want, tc.nope)
		}
	}

	for _, tc := range []struct {
		from, msg string
		want      string
	}{
		{"server", "cannot reach upstream 127.0.0.1:9: dial tcp 127.0.0.1:9: connect: connection refused", "frametap could not connect to the server"},
		{"server", `TLS with upstream bank.test:443 as "bank.test": tls: failed to verify certificate: x509: certificate signed by unknown authority`, "the server's certificate failed"},
		{"server", `upstream evil.test:80 is not allowed by --allow-upstream "^api": not dialed`, "frametap could not connect to the server"},
		{"server", "invalid UTF-8 in a text message", "in the bytes the server sent"},
		{"client", "the client rejected frametap's certificate: remote error: tls: unknown certificate authority", "in the TLS handshake between the client and frametap"},
		{"client", "TLS handshake with the client: EOF", "in the TLS handshake between the client and frametap"},
		{"client", "malformed request line", "in the bytes the client sent"},
		{"", "decoder gave up", ""},
	} {
		ev := &capture.Event{Kind: capture.KindError, Conn: 1, From: tc.from, Msg: tc.msg}
		got := errorWhere(ev)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("error from %q %q: got %q, want %q", tc.from, tc.msg, got, tc.want)
		}
		if tc.from == "server" && strings.Contains(tc.msg, "upstream") && strings.Contains(got, "bytes") && !strings.Contains(got, "no bytes") {
			t.Errorf("error from %q %q: %q blames the server's bytes", tc.from, tc.msg, got)
		}
		if d := detail(ev, nil, nil, at(0), bodyAuto, ""); !strings.Contains(d, got) {
			t.Errorf("error from %q %q: detail lacks %q:\n%s", tc.from, tc.msg, got, d)
		}
	}
}

// redrawWait spaces redraws by how long the last refresh and draw took:
// never closer than the interval, never further than maxRedrawWait.
func TestRedrawWait(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct{ interval, cycle, want time.Duration }{
		{33 * ms, 0, 33 * ms},
		{33 * ms, 2 * ms, 33 * ms},
		{33 * ms, 5 * ms, 50 * ms},
		{33 * ms, 15 * ms, 150 * ms},
		{33 * ms, 80 * ms, maxRedrawWait},
		{time.Second, 80 * ms, time.Second},
	} {
		if got := redrawWait(tc.interval, tc.cycle); got != tc.want {
			t.Errorf("redrawWait(%v, %v) = %v, want %v", tc.interval, tc.cycle, got, tc.want)
		}
	}
}
