package proxy

import (
	"strings"
	"testing"

	"github.com/frametap/frametap/decode"
)

// fields builds a header list from name, value pairs.
func fields(kv ...string) []decode.Header {
	var hs []decode.Header
	for i := 0; i < len(kv); i += 2 {
		hs = append(hs, decode.Header{Name: kv[i], Value: kv[i+1]})
	}
	return hs
}

func TestRewriteHead(t *testing.T) {
	for _, tc := range []struct {
		name    string
		method  string
		headers []decode.Header
		want    []string // the head's lines after the request line
	}{
		{"host from the target", "GET", fields("Host", "other", "Accept", "*/*"),
			[]string{"Host: a.test:81", "Accept: */*"}},
		{"host added", "GET", fields("Accept", "*/*"),
			[]string{"Accept: */*", "Host: a.test:81"}},
		{"second host dropped", "GET", fields("Host", "x", "HOST", "y"),
			[]string{"Host: a.test:81"}},
		{"hop-by-hop", "GET", fields("Connection", "keep-alive, X-Hop", "X-Hop", "1", "Keep-Alive", "timeout=5",
			"Proxy-Connection", "keep-alive", "Proxy-Authorization", "Basic eA==", "X-Keep", "2"),
			[]string{"X-Keep: 2", "Host: a.test:81", "Connection: keep-alive"}},
		{"upgrade kept", "GET", fields("Connection", "Upgrade", "Upgrade", "websocket"),
			[]string{"Upgrade: websocket", "Host: a.test:81", "Connection: upgrade"}},
		// RFC 9112 section 6.3: Content-Length goes when Transfer-Encoding is there.
		{"te and cl", "POST", fields("Content-Length", "10", "Transfer-Encoding", "chunked", "content-length", "3"),
			[]string{"Transfer-Encoding: chunked", "Host: a.test:81"}},
		{"cl alone", "POST", fields("Content-Length", "10"),
			[]string{"Content-Length: 10", "Host: a.test:81"}},
		// RFC 9110 section 5.5: bare CR and NUL become SP.
		{"bare cr in a value", "GET", fields("X-A", "foo\rX-Injected: 1"),
			[]string{"X-A: foo X-Injected: 1", "Host: a.test:81"}},
		{"nul in a value", "GET", fields("X-B", "a\x00b"),
			[]string{"X-B: a b", "Host: a.test:81"}},
		{"cr in a name", "GET", fields("X\rTransfer-Encoding", "chunked"),
			[]string{"X Transfer-Encoding: chunked", "Host: a.test:81"}},
		{"order and casing kept", "GET", fields("x-LOWER", "1", "User-Agent", "t", "ACCEPT", "*/*"),
			[]string{"x-LOWER: 1", "User-Agent: t", "ACCEPT: */*", "Host: a.test:81"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			head := &decode.Request{Method: tc.method, Target: "http://a.test:81/p?q", Proto: "HTTP/1.1", Headers: tc.headers}
			got := string(rewriteHead(nil, head, "/p?q", "a.test:81"))
			want := tc.method + " /p?q HTTP/1.1\r\n" + strings.Join(tc.want, "\r\n") + "\r\n\r\n"
			if got != want {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}
}

func TestSplitAbsolute(t *testing.T) {
	for _, tc := range []struct {
		target, authority, path string
		ok                      bool
	}{
		{"http://a.test/x?y", "a.test", "/x?y", true},
		{"http://a.test", "a.test", "/", true},
		{"http://a.test?q=1", "a.test", "/?q=1", true},
		{"http://user:pw@a.test:8/x#frag", "a.test:8", "/x", true},
		{"ws://[::1]:9/s", "[::1]:9", "/s", true},
		{"HTTP://A.test/", "A.test", "/", true},
		{"https://a.test/", "", "", false},
		{"/relative", "", "", false},
		{"ftp://a.test/", "", "", false},
		{"http:///nohost", "", "", false},
	} {
		authority, path, err := splitAbsolute(tc.target)
		if (err == nil) != tc.ok || authority != tc.authority || path != tc.path {
			t.Errorf("splitAbsolute(%q) = %q, %q, %v; want %q, %q, ok=%v", tc.target, authority, path, err, tc.authority, tc.path, tc.ok)
		}
	}
}

func TestTargetAddr(t *testing.T) {
	for _, tc := range []struct{ method, target, want string }{
		{"CONNECT", "a.test:443", "a.test:443"},
		{"GET", "http://a.test/x", "a.test:80"},
		{"GET", "http://a.test:8080/x", "a.test:8080"},
		{"GET", "http://[::1]/x", "[::1]:80"},
		{"GET", "/x", ""},
	} {
		if got := targetAddr(tc.method, tc.target); got != tc.want {
			t.Errorf("targetAddr(%s %s) = %q, want %q", tc.method, tc.target, got, tc.want)
		}
	}
}

// FuzzRewriteHead: whatever fields a client sent, the head frametap sends
// upstream is one well-formed head: field lines of name ":" SP value
// ending in CRLF, with no CR, LF or NUL inside, one empty line at the end,
// and no Content-Length beside a Transfer-Encoding.
func FuzzRewriteHead(f *testing.F) {
	f.Add("http://a.test/x", "Host\x00a\x00Content-Length\x003\x00Transfer-Encoding\x00chunked")
	f.Add("http://u@[::1]:8/?q", "X-A\x00foo\rX-Injected: 1\x00Connection\x00close, X-A")
	f.Add("ws://b/", "Proxy-Connection\x00keep-alive\x00Upgrade\x00websocket\x00Connection\x00Upgrade")
	f.Fuzz(func(t *testing.T, target, flat string) {
		if strings.IndexFunc(target, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			return // the decoder rejects such a request line (RFC 9112 section 3.2)
		}
		authority, path, err := splitAbsolute(target)
		if err != nil {
			return
		}
		parts := strings.Split(flat, "\x00")
		var hs []decode.Header
		for i := 0; i+1 < len(parts); i += 2 {
			hs = append(hs, decode.Header{Name: parts[i], Value: parts[i+1]})
		}
		head := &decode.Request{Method: "POST", Target: target, Proto: "HTTP/1.1", Headers: hs}
		out := string(rewriteHead(nil, head, path, authority))
		body, ok := strings.CutSuffix(out, "\r\n\r\n")
		if !ok || strings.Contains(body, "\r\n\r\n") {
			t.Fatalf("not one head ending in an empty line: %q", out)
		}
		lines := strings.Split(body, "\r\n")
		te, cl := false, false
		for i, line := range lines {
			if strings.ContainsAny(line, "\r\n\x00") {
				t.Fatalf("line %d has a CR, LF or NUL: %q", i, line)
			}
			if i == 0 {
				continue
			}
			name, _, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("line %d is not a field line: %q", i, line)
			}
			te = te || strings.EqualFold(name, "Transfer-Encoding")
			cl = cl || strings.EqualFold(name, "Content-Length")
		}
		if te && cl {
			t.Fatalf("Content-Length beside Transfer-Encoding: %q", out)
		}
	})
}
