package proxy

import (
	"encoding/binary"
	"io"
	"net/netip"
	"strings"
	"syscall"
	"testing"

	"github.com/frametap/frametap/capture"
)

// A client that dials a transparent listener itself, not redirected to it
// by a firewall rule, has no other destination: frametap says so and
// closes it rather than relaying it to itself. (The redirected case runs
// in a network namespace of its own: TestTransparentE2E in cmd/frametap.)
func TestTransparentNotRedirected(t *testing.T) {
	tp := startTap(t, Config{Mode: Transparent})
	rc := dialRaw(t, tp.addr)
	rc.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if b, _ := io.ReadAll(rc.br); len(b) != 0 {
		t.Errorf("the client got %q", b)
	}
	tp.waitClosed()
	evs := tp.stop()
	errs := errorsOf(evs)
	if len(errs) != 1 || !strings.HasPrefix(errs[0], "client: transparent mode: ") ||
		!strings.Contains(errs[0], "original destination is unknown") && !strings.Contains(errs[0], "dialed frametap's listener") {
		t.Errorf("errors %q", errs)
	}
	if open := kinds(evs, 1, capture.KindOpen); len(open) != 1 || open[0].Mode != "transparent" || open[0].Listen != tp.addr {
		t.Errorf("open %+v", open)
	}
}

// SO_ORIGINAL_DST answers a sockaddr_in or a sockaddr_in6.
func TestParseSockaddr(t *testing.T) {
	var in4, in6 [28]byte
	binary.NativeEndian.PutUint16(in4[0:], syscall.AF_INET)
	binary.BigEndian.PutUint16(in4[2:], 80)
	copy(in4[4:], []byte{127, 0, 0, 5})
	binary.NativeEndian.PutUint16(in6[0:], syscall.AF_INET6)
	binary.BigEndian.PutUint16(in6[2:], 443)
	copy(in6[8:], netip.MustParseAddr("fd00::5").AsSlice())
	for sa, want := range map[*[28]byte]string{&in4: "127.0.0.5:80", &in6: "[fd00::5]:443"} {
		got, err := parseSockaddr(sa[:])
		if err != nil || got.String() != want {
			t.Errorf("parseSockaddr = %v, %v; want %s", got, err, want)
		}
	}
	if _, err := parseSockaddr(make([]byte, 28)); err == nil {
		t.Error("family 0 accepted")
	}
}
