package main

import (
	"strings"
	"testing"

	"github.com/frametap/frametap/proxy"
)

func TestParseListeners(t *testing.T) {
	for _, tc := range []struct {
		name      string
		o         options
		listenSet bool
		want      string // "mode addr upstream" per listener, or "error: ..."
	}{
		{"none: regular on --listen", options{listen: "127.0.0.1:8080"}, false, "regular 127.0.0.1:8080 "},
		{"one mode, -p", options{listen: "127.0.0.1:8080", port: 9000, modes: []string{"reverse:http://127.0.0.1:3000"}}, false, "reverse 127.0.0.1:9000 127.0.0.1:3000"},
		{"socks5 alone: 1080", options{listen: "127.0.0.1:8080", modes: []string{"socks5"}}, false, "socks5 127.0.0.1:1080 "},
		{"socks5 with --listen", options{listen: "127.0.0.1:7000", modes: []string{"socks5"}}, true, "socks5 127.0.0.1:7000 "},
		{"socks5 with -p", options{listen: "127.0.0.1:8080", port: 7001, modes: []string{"socks5"}}, false, "socks5 127.0.0.1:7001 "},
		{"several", options{listen: "127.0.0.1:8080", modes: []string{"regular@8080", "socks5@1080", "reverse:http://127.0.0.1:3000@8081"}}, false,
			"regular 127.0.0.1:8080 |socks5 127.0.0.1:1080 |reverse 127.0.0.1:8081 127.0.0.1:3000"},
		{"several on --listen-host", options{listen: "127.0.0.1:8080", listenHost: "::1", modes: []string{"regular@8080", "transparent@8082"}}, false,
			"regular [::1]:8080 |transparent [::1]:8082 "},
		{"one @PORT, one without", options{listen: "127.0.0.1:8080", modes: []string{"regular", "socks5@1081"}}, false,
			"regular 127.0.0.1:8080 |socks5 127.0.0.1:1081 "},
		{"upstream with credentials, no port", options{listen: "127.0.0.1:8080", modes: []string{"upstream:http://u:p@127.0.0.1:3128"}}, false,
			"upstream 127.0.0.1:8080 http://u:p@127.0.0.1:3128"},
		{"upstream with credentials and a port", options{listen: "127.0.0.1:8080", modes: []string{"upstream:http://u:p@127.0.0.1:3128@8090", "socks5@1090"}}, false,
			"upstream 127.0.0.1:8090 http://u:p@127.0.0.1:3128|socks5 127.0.0.1:1090 "},
		{"two on one port", options{listen: "127.0.0.1:8080", modes: []string{"regular", "upstream:http://127.0.0.1:3128"}}, false,
			"error: would both listen on 127.0.0.1:8080"},
		{"bad port", options{listen: "127.0.0.1:8080", modes: []string{"socks5@99999"}}, false, `error: "99999" is not a port`},
		{"bad mode", options{listen: "127.0.0.1:8080", modes: []string{"socks4@1080"}}, false, `error: --mode mode "socks4"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ls, err := parseListeners(tc.o, tc.listenSet)
			var got []string
			for _, l := range ls {
				got = append(got, l.mode.String()+" "+l.addr+" "+l.upstream)
			}
			g := strings.Join(got, "|")
			if err != nil {
				g = "error: " + err.Error()
			}
			if want, isErr := strings.CutPrefix(tc.want, "error: "); isErr && !strings.Contains(g, want) || !isErr && g != tc.want {
				t.Errorf("got %q, want %q", g, tc.want)
			}
		})
	}
}

func TestParseProxyAuth(t *testing.T) {
	socks := []listener{{mode: proxy.Regular}, {mode: proxy.SOCKS5}}
	if c, err := parseProxyAuth("alice:pa:ss", socks); err != nil || c.User != "alice" || c.Password != "pa:ss" {
		t.Errorf("alice:pa:ss = %+v, %v", c, err)
	}
	for _, tc := range []struct {
		s  string
		ls []listener
	}{{"alice", socks}, {":x", socks}, {"a:b", []listener{{mode: proxy.Regular}}}, {strings.Repeat("u", 256) + ":p", socks}} {
		if _, err := parseProxyAuth(tc.s, tc.ls); err == nil {
			t.Errorf("%q accepted", tc.s)
		}
	}
}

// The start-up lines say how to use each listener, never an upstream
// proxy's password.
func TestListenerDescriptions(t *testing.T) {
	l := listener{mode: proxy.UpstreamProxy, upstream: "http://corp:hunter2@127.0.0.1:3128"}
	d := l.describe("127.0.0.1:8080", false, 0)
	if strings.Contains(d, "hunter2") || !strings.Contains(d, "http://corp:xxxxx@127.0.0.1:3128") {
		t.Errorf("%q", d)
	}
	if d := (listener{mode: proxy.SOCKS5}).describe("127.0.0.1:1080", true, 0); !strings.Contains(d, "socks5://127.0.0.1:1080") || !strings.Contains(d, "--proxyauth") {
		t.Errorf("%q", d)
	}
}
