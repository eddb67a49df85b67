package ui

import (
	"strings"
	"testing"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
)

func TestOriginForm(t *testing.T) {
	for _, tc := range []struct{ target, host, want string }{
		{"http://api.test:8080/a?b=1", "api.test:8080", "/a?b=1"},
		{"http://api.test/a", "api.test:80", "/a"},
		{"http://api.test/a", "api.test", "/a"},
		{"https://api.test/a", "api.test:443", "/a"},
		{"http://other.test/a", "api.test:80", "other.test/a"},
		{"http://api.test", "api.test", "/"},
		{"/already", "api.test", "/already"},
		{"*", "api.test", "*"},
		{"http://[::1]:8080/x", "[::1]:8080", "/x"},
	} {
		if got := originForm(tc.target, tc.host); got != tc.want {
			t.Errorf("originForm(%q, %q) = %q, want %q", tc.target, tc.host, got, tc.want)
		}
	}
}

func TestShortType(t *testing.T) {
	for mt, want := range map[string]string{
		"application/json": "json", "application/ld+json": "json", "text/html": "html",
		"application/x-www-form-urlencoded": "www-form-urlencoded", "image/svg+xml": "svg+xml", "": "", "weird": "weird",
	} {
		if got := shortType(mt); got != want {
			t.Errorf("shortType(%q) = %q, want %q", mt, got, want)
		}
	}
}

func TestFitColumns(t *testing.T) {
	specs := exchangesSpecs(0)
	for _, tc := range []struct {
		width int
		want  []int // what the content wants
		path  int   // PATH's width at least
	}{
		// At 80 columns (78 inside the border) a 30-character path shows
		// whole, however wide the other columns want to be.
		{78, []int{7, 1, 6, 30, 4, 12, 16, 18}, 30},
		{78, []int{9, 4, 7, 60, 7, 14, 16, 18}, 30},
		{198, []int{9, 4, 7, 60, 7, 14, 16, 18}, 60},
	} {
		got := fitColumns(tc.width, specs, tc.want)
		sum := len(got) - 1
		for i, w := range got {
			sum += w
			if specs[i].max > 0 && w > specs[i].max || w < min(specs[i].min, tc.want[i]) {
				t.Errorf("width %d: column %d is %d, outside %d..%d", tc.width, i, w, specs[i].min, specs[i].max)
			}
		}
		if got[xcPath] < tc.path || sum > tc.width {
			t.Errorf("width %d: %v (sum %d), want PATH at least %d and the sum within the width", tc.width, got, sum, tc.path)
		}
	}
}

// Under a filter, an exchange whose response arrives later and matches
// joins the view in its place; one that never matches stays out.
func TestFilterExchangeInFlight(t *testing.T) {
	u := newTestUI(t, Config{}, fixture()[:7]) // conn #1's three exchanges
	u.press(tcell.KeyRune, '/')
	u.typeText("~b secret")
	u.press(tcell.KeyEnter, 0)
	mustContain(t, u.text(), "Connections (0 of 1)")
	feed(u.store, []capture.Event{
		{Kind: capture.KindRequest, Conn: 1, Time: at(1500), Seq: 4, Method: "GET", Target: "http://api.test/a", Host: "api.test", Proto: "HTTP/1.1"},
		{Kind: capture.KindRequest, Conn: 1, Time: at(1600), Seq: 5, Method: "GET", Target: "http://api.test/b", Host: "api.test", Proto: "HTTP/1.1"},
	})
	u.refresh()
	feed(u.store, []capture.Event{
		{Kind: capture.KindResponse, Conn: 1, Time: at(1700), Seq: 4, Status: 200, Proto: "HTTP/1.1", BodyLen: 12, Body: []byte("the secret 4")},
		{Kind: capture.KindResponse, Conn: 1, Time: at(1800), Seq: 5, Status: 200, Proto: "HTTP/1.1", BodyLen: 6, Body: []byte("public")},
	})
	u.refresh()
	s := u.text()
	mustContain(t, s, "Exchanges #1 api.test (1 rows)")
	if l := line(u.screen(), " 4 GET "); !strings.Contains(l, "/a") {
		t.Errorf("the matching exchange's row: %q", l)
	}
	mustNotContain(t, s, "/b ")
}
