package proxy

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"testing"
)

// handshakeRun is how a handshake over some bytes ended: the replies in
// order, the request, the error, and how many bytes it consumed.
type handshakeRun struct {
	replies [][]byte
	req     *socksRequest
	err     error
	used    int
}

// runHandshake drives a handshake over in the way socksFront does: each
// step gets exactly the bytes it asked for, no more.
func runHandshake(t testing.TB, auth *Credentials, in []byte) handshakeRun {
	replies, req, used, err := runHandshakeSteps(t, auth, in)
	return handshakeRun{replies, req, err, used}
}

func runHandshakeSteps(t testing.TB, auth *Credentials, in []byte) (replies [][]byte, req *socksRequest, used int, err error) {
	h := socksHandshake{auth: auth}
	have := 0
	for range 16 { // greeting, auth, request: a handful of steps
		st := h.step(in[used : used+have])
		if st.need > 0 {
			if st.need <= have || st.need > socksMaxMessage {
				t.Fatalf("step asked for %d bytes with %d in hand (max %d)", st.need, have, socksMaxMessage)
			}
			if used+st.need > len(in) {
				return replies, nil, used + have, nil // the client has not sent enough
			}
			have = st.need
			continue
		}
		if st.n <= 0 || st.n > have {
			t.Fatalf("step took %d of %d bytes", st.n, have)
		}
		if st.n != have {
			t.Fatalf("step took %d bytes of the %d it asked for", st.n, have)
		}
		used += st.n
		have = 0
		if st.reply != nil {
			replies = append(replies, st.reply)
		}
		if st.err != nil || st.req != nil {
			return replies, st.req, used, st.err
		}
	}
	t.Fatal("handshake made no end in 16 steps")
	return
}

// unhex reads hex with spaces between bytes, for vectors.
func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Byte vectors of RFC 1928 and RFC 1929 messages and their answers.
func TestSOCKSHandshakeVectors(t *testing.T) {
	alice := &Credentials{User: "alice", Password: "s3cret"}
	userPass := func(u, p string) string {
		return fmt.Sprintf("01 %02x %x %02x %x", len(u), u, len(p), p)
	}
	ok := "05 00 00 01 00000000 0000"
	for _, tc := range []struct {
		name    string
		auth    *Credentials
		in      string
		replies []string // hex, in order
		addr    string   // the request's
		err     string   // part of the error; "" for none
	}{
		{"connect IPv4", nil, "05 01 00  05 01 00 01 7f000001 0050", []string{"05 00"}, "127.0.0.1:80", ""},
		{"connect IPv6", nil, "05 01 00  05 01 00 04 00000000000000000000000000000001 01bb", []string{"05 00"}, "[::1]:443", ""},
		{"connect domain", nil, "05 02 02 00  05 01 00 03 09 6c6f63616c686f7374 1f90", []string{"05 00"}, "localhost:8080", ""},
		{"domain that is an IPv6 literal", nil, "05 01 00  05 01 00 03 03 3a3a31 0050", []string{"05 00"}, "[::1]:80", ""},
		{"auth", alice, "05 02 00 02  " + userPass("alice", "s3cret") + "  05 01 00 01 7f000001 0050", []string{"05 02", "01 00"}, "127.0.0.1:80", ""},
		{"wrong password", alice, "05 02 00 02  " + userPass("alice", "guess"), []string{"05 02", "01 01"}, "", `authentication failed for user "alice"`},
		{"wrong user", alice, "05 01 02  " + userPass("bob", "s3cret"), []string{"05 02", "01 01"}, "", `user "bob"`},
		{"empty credentials", alice, "05 01 02  01 00 00", []string{"05 02", "01 01"}, "", "wrong username or password"},
		{"bad auth version", alice, "05 01 02  05 01 61 01 62", []string{"05 02", "01 01"}, "", "version 0x05"},
		{"no auth offered, auth required", alice, "05 01 00", []string{"05 ff"}, "", "offers no authentication"},
		{"only auth offered, none required", nil, "05 01 02", []string{"05 ff"}, "", "it offers username/password"},
		{"no methods at all", nil, "05 00", []string{"05 ff"}, "", "none at all"},
		{"http instead", nil, "47 45 54 20", nil, "", "not a SOCKS5 greeting"},
		{"garbage", nil, "00 01", nil, "", "0x00"},
		{"socks4", nil, "04 01 0050 7f000001 00", []string{"00 5b 0000 00000000"}, "", "SOCKS4"},
		{"bind", nil, "05 01 00  05 02 00 01 7f000001 0050", []string{"05 00", "05 07 00 01 00000000 0000"}, "127.0.0.1:80", "BIND 127.0.0.1:80 is not supported"},
		{"udp associate", nil, "05 01 00  05 03 00 01 00000000 0000", []string{"05 00", "05 07 00 01 00000000 0000"}, "0.0.0.0:0", "UDP ASSOCIATE"},
		{"unknown command", nil, "05 01 00  05 09 00 01 7f000001 0050", []string{"05 00", "05 07 00 01 00000000 0000"}, "127.0.0.1:80", "command 0x09"},
		{"unknown address type", nil, "05 01 00  05 01 00 08 7f000001 0050", []string{"05 00", "05 08 00 01 00000000 0000"}, "", "address type 0x08"},
		{"domain of length 0", nil, "05 01 00  05 01 00 03 00 0050", []string{"05 00", "05 01 00 01 00000000 0000"}, "", "length 0"},
		{"not a host name", nil, "05 01 00  05 01 00 03 05 612f623a63 0050", []string{"05 00", "05 04 00 01 00000000 0000"}, "", `"a/b:c"`},
		{"request version", nil, "05 01 00  04 01 00 01 7f000001 0050", []string{"05 00", "05 01 00 01 00000000 0000"}, "", "request of version 0x04"},
		{"truncated request", nil, "05 01 00  05 01 00 01 7f00", []string{"05 00"}, "", ""},
		{"truncated greeting", nil, "05 03 00", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := unhex(tc.in)
			r := runHandshake(t, tc.auth, in)
			replies, req, err := r.replies, r.req, r.err
			var got []string
			for _, r := range replies {
				got = append(got, hex.EncodeToString(r))
			}
			var want []string
			for _, r := range tc.replies {
				want = append(want, strings.ReplaceAll(r, " ", ""))
			}
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("replies %v, want %v", got, want)
			}
			if gotAddr := ""; req != nil {
				if gotAddr = req.addr; gotAddr != tc.addr {
					t.Errorf("request for %q, want %q", gotAddr, tc.addr)
				}
			} else if tc.addr != "" {
				t.Errorf("no request, want one for %q", tc.addr)
			}
			switch {
			case tc.err == "" && err != nil:
				t.Errorf("error %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one saying %q", err, tc.err)
			}
		})
	}
	if got := hex.EncodeToString(socksReplyTo(socksSucceeded, nil)); got != strings.ReplaceAll(ok, " ", "") {
		t.Errorf("success reply %s", got)
	}
	v6 := &net.TCPAddr{IP: net.ParseIP("::1"), Port: 443}
	if got := hex.EncodeToString(socksReplyTo(socksSucceeded, v6)); got != "050000040000000000000000000000000000000101bb" {
		t.Errorf("reply bound to [::1]:443: %s", got)
	}
	v4 := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 80}
	if got := hex.EncodeToString(socksReplyTo(socksSucceeded, v4)); got != "050000017f0000010050" {
		t.Errorf("reply bound to 127.0.0.1:80 (a 16-byte IP): %s", got)
	}
}

// FuzzSOCKS5 feeds arbitrary bytes to the handshake, with and without
// required credentials: it must never panic, never ask for more than a
// message can hold, consume exactly what it asked for, reply only in the
// shapes RFC 1928 and RFC 1929 give, and end with a request only for a
// host:port it can dial.
func FuzzSOCKS5(f *testing.F) {
	for _, s := range []string{
		"05 01 00  05 01 00 01 7f000001 0050",
		"05 01 00  05 01 00 04 00000000000000000000000000000001 01bb",
		"05 02 00 02  01 05 616c696365 06 733363726574  05 01 00 03 09 6c6f63616c686f7374 1f90",
		"05 01 00  05 01 00 03 00 0050",
		"05 01 00  05 02 00 08 7f000001 0050",
		"47 45 54 20 2f 20",
		"04 01 0050 7f000001 00",
	} {
		f.Add(unhex(s), false)
		f.Add(unhex(s), true)
	}
	f.Fuzz(func(t *testing.T, in []byte, withAuth bool) {
		var auth *Credentials
		if withAuth {
			auth = &Credentials{User: "alice", Password: "s3cret"}
		}
		r := runHandshake(t, auth, in)
		replies, req, err, used := r.replies, r.req, r.err, r.used
		if used > len(in) {
			t.Fatalf("consumed %d of %d bytes", used, len(in))
		}
		for _, r := range replies {
			switch {
			case len(r) == 2 && (r[0] == socksVersion || r[0] == socksAuthVersion):
			case len(r) == 8 && r[0] == 0 && r[1] == 0x5b: // SOCKS4 rejection
			case len(r) == 10 && r[0] == socksVersion && r[3] == socksAtypIPv4:
			case len(r) == 22 && r[0] == socksVersion && r[3] == socksAtypIPv6:
			default:
				t.Fatalf("malformed reply % x", r)
			}
		}
		if req != nil {
			host, port, serr := net.SplitHostPort(req.addr)
			if serr != nil || host == "" || port == "" || len(host) > 255 {
				t.Fatalf("request for %q", req.addr)
			}
			if err == nil && req.cmd != socksCmdConnect {
				t.Fatalf("command 0x%02x accepted", req.cmd)
			}
		}
		if err == nil && req != nil && withAuth && !bytes.Contains(in, []byte("alice")) {
			t.Fatalf("a request got through without the credentials: % x", in)
		}
		// A handshake that ended ends the same way with more bytes
		// behind: a step never reads past the message it asked for.
		if err == nil && req == nil {
			return
		}
		r2 := runHandshake(t, auth, append(bytes.Clone(in), 0xAA, 0xBB))
		replies2, req2, err2, used2 := r2.replies, r2.req, r2.err, r2.used
		if (err == nil) != (err2 == nil) || (req == nil) != (req2 == nil) || req != nil && req.addr != req2.addr || len(replies2) != len(replies) || used2 != used {
			t.Fatalf("with two more bytes: %v %v %v after %d bytes, was %v %v %v after %d", replies2, req2, err2, used2, replies, req, err, used)
		}
	})
}
