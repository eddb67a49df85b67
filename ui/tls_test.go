package ui

import (
	"strings"
	"testing"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

// tlsFixture is an intercepted CONNECT tunnel: frametap's handshake with
// bank.test (whose certificate it did not verify, -k), then the client's,
// then a request and a WebSocket inside.
func tlsFixture(verified bool) []capture.Event {
	return []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:5000", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(1), Seq: 1, Method: "CONNECT", Target: "bank.test:443", Host: "bank.test:443", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 1, Time: at(2), Seq: 1, Status: 200, StatusText: "Connection established", Proto: "HTTP/1.1"},
		{Kind: capture.KindTLS, Conn: 1, Time: at(3), Side: "server", SNI: "bank.test", ALPN: "http/1.1", Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256", Subject: "CN=bank.test", Issuer: "CN=Evil CA", Verified: verified},
		{Kind: capture.KindTLS, Conn: 1, Time: at(4), Side: "client", SNI: "bank.test", ALPN: "http/1.1", Version: "TLS 1.3", Cipher: "TLS_AES_128_GCM_SHA256"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(5), Seq: 2, Method: "GET", Target: "/", Host: "bank.test", Proto: "HTTP/1.1", Scheme: "https"},
		{Kind: capture.KindResponse, Conn: 1, Time: at(6), Seq: 2, Status: 200, StatusText: "OK", Proto: "HTTP/1.1"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(7), Seq: 3, Method: "GET", Target: "/ws", Host: "bank.test", Proto: "HTTP/1.1", Scheme: "https"},
		{Kind: capture.KindResponse, Conn: 1, Time: at(8), Seq: 3, Status: 101, StatusText: "Switching Protocols", Proto: "HTTP/1.1"},
		{Kind: capture.KindUpgrade, Conn: 1, Time: at(8), Seq: 3, Protocol: "websocket", AcceptOK: true, Scheme: "wss"},
	}
}

// applyAll runs evs through a new model.
func applyAll(t *testing.T, evs []capture.Event) *state {
	t.Helper()
	s := newState()
	for i := range evs {
		s.apply(i, &evs[i])
	}
	return s
}

func TestApplyTLS(t *testing.T) {
	all := tlsFixture(false)
	reverse := []capture.Event{
		{Kind: capture.KindOpen, Conn: 1, Time: at(0), Client: "127.0.0.1:5000", Server: "bank.test:443", Mode: "reverse"},
		{Kind: capture.KindTLS, Conn: 1, Time: at(1), Side: "server", Verified: true},
		{Kind: capture.KindTLS, Conn: 1, Time: at(2), Side: "client"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(3), Seq: 1, Method: "GET", Target: "/", Host: "bank.test", Scheme: "https"},
	}
	for _, tc := range []struct {
		name              string
		evs               []capture.Event
		scheme, state     string
		unverified, tlsOn bool
	}{
		{"CONNECT answered, no TLS yet", all[:3], "http", stateTunnel, false, false},
		{"upstream handshake", all[:4], "https", stateHTTP, true, true},
		{"both handshakes", all[:5], "https", stateHTTP, true, true},
		{"request inside", all[:7], "https", stateHTTP, true, true},
		{"upgraded inside TLS", all, "wss", stateWebSocket, true, true},
		{"tls events dropped, request says https", append(all[:3:3], all[5]), "https", stateHTTP, false, true},
		{"reverse mode, TLS straight away", reverse, "https", stateHTTP, false, true},
		{"upgrade says wss alone", []capture.Event{all[0], all[9]}, "wss", stateWebSocket, false, true},
	} {
		c := applyAll(t, tc.evs).byID[1]
		if got := connCell(c, 3, at(10)); got != tc.scheme {
			t.Errorf("%s: SCHEME got %q, want %q", tc.name, got, tc.scheme)
		}
		if got := c.state; got != tc.state {
			t.Errorf("%s: STATE got %q, want %q", tc.name, got, tc.state)
		}
		if c.unverified != tc.unverified || c.tls != tc.tlsOn {
			t.Errorf("%s: unverified %v tls %v, want %v %v", tc.name, c.unverified, c.tls, tc.unverified, tc.tlsOn)
		}
		if got, want := stateColor(c, 3) == tcell.ColorRed, tc.unverified; got != want {
			t.Errorf("%s: SCHEME in red %v, want %v", tc.name, got, want)
		}
	}
}

func TestTLSRows(t *testing.T) {
	for _, tc := range []struct {
		verified bool
		row      int // in the timeline
		line     string
		red      bool
		detail   []string
	}{
		{false, 4, "← TLS server: CN=bank.test", true, []string{
			"issuer CN=Evil CA, NOT VERIFIED, TLS 1.3, http/1.1, TLS_AES_128_GCM_SHA256",
			"side      server (frametap dialed the upstream as a TLS client)",
			"sni       bank.test", "alpn      http/1.1", "version   TLS 1.3", "cipher    TLS_AES_128_GCM_SHA256",
			"subject   CN=bank.test", "issuer    CN=Evil CA", "verified  NOT VERIFIED (-k / --ssl-insecure)",
		}},
		{true, 4, "← TLS server: CN=bank.test", false, []string{
			"issuer CN=Evil CA, verified, TLS 1.3", "verified  yes (against the trusted roots)",
		}},
		{false, 5, "→ TLS client: SNI bank.test", false, []string{
			"TLS 1.3, http/1.1, TLS_AES_128_GCM_SHA256",
			"side      client (frametap was the client's server",
			"sni       bank.test", "alpn      http/1.1", "version   TLS 1.3", "cipher    TLS_AES_128_GCM_SHA256",
			"subject   (n/a: frametap's own certificate)", "verified  (n/a",
		}},
	} {
		u := newTestUI(t, Config{}, tlsFixture(tc.verified))
		u.press(tcell.KeyRune, 'f')
		u.press(tcell.KeyRune, 't') // every event
		u.timeline.Select(tc.row, 0)
		lines := u.screen()
		if l := line(lines, "#1 127.0.0.1:5000"); !strings.Contains(l, " wss ") || !strings.Contains(l, " websocket ") {
			t.Errorf("connection row %q, want scheme wss and state websocket", l)
		}
		l := line(lines, tc.line)
		if l == "" {
			t.Errorf("timeline lacks %q:\n%s", tc.line, strings.Join(lines, "\n"))
		}
		got := eventsTable{u: u}.GetCell(tc.row, 2)
		if fg, _, _ := got.Style.Decompose(); (fg == tcell.ColorRed) != tc.red {
			t.Errorf("row %q in red: got %v, want %v", got.Text, fg == tcell.ColorRed, tc.red)
		}
		d := u.detail.GetText(true)
		for _, w := range tc.detail {
			if !strings.Contains(d, w) {
				t.Errorf("timeline row %d: detail lacks %q:\n%s", tc.row, w, d)
			}
		}
	}
}

func TestInsecureStatus(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		keys []rune // pressed before looking
		want bool
	}{
		{"verified", Config{}, nil, false},
		{"-k", Config{Insecure: true}, nil, true},
		{"-k, paused and follow off", Config{Insecure: true}, []rune{'p', 'f'}, true},
		{"-k, after clear", Config{Insecure: true}, []rune{'c'}, true},
	} {
		u := newTestUI(t, tc.cfg, tlsFixture(false))
		for _, k := range tc.keys {
			u.press(tcell.KeyRune, k)
		}
		u.refresh()
		const warn = "UPSTREAM CERTS NOT VERIFIED (-k)"
		if got := strings.Contains(u.status.GetText(true), warn); got != tc.want {
			t.Errorf("%s: status shows %q: got %v, want %v (%q)", tc.name, warn, got, tc.want, u.status.GetText(true))
		}
		if tc.want && !strings.Contains(u.status.GetText(false), "[white:red::b]"+warn) {
			t.Errorf("%s: the warning is not in red: %q", tc.name, u.status.GetText(false))
		}
	}
}
