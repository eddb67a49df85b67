package filter

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/frametap/frametap/capture"
)

// TestIndexLive checks that an Index answers with what has been added so
// far and changes its answer as later events bring evidence: the
// handshake request of a WebSocket is selected by ~websocket once the
// upgrade is added, a frame by ~b once its message is.
func TestIndexLive(t *testing.T) {
	fx := fixture()
	evs := make([]*capture.Event, len(fx))
	pos := map[string]int{}
	for i := range fx {
		evs[i] = &fx[i].ev
		pos[fx[i].label] = i
	}
	for _, tt := range []struct {
		expr, event, evidence string
	}{
		{"~websocket", "c1.req2", "c1.resp2"},
		{"~websocket", "c1.open", "c1.resp2"},
		{"~b chat", "c1.f2", "c1.m3"},
		{"~c 401", "c2.req2", "c2.resp2"},
		{"~m post", "c2.tls1", "c2.req2"},
		{"~sse", "c3.req", "c3.resp"},
	} {
		x := MustParse(tt.expr).NewIndex(0, func(i int) *capture.Event { return evs[i] })
		for i, ev := range evs {
			x.Add(ev)
			if i < pos[tt.event] {
				continue
			}
			got, want := x.Match(pos[tt.event]), i >= pos[tt.evidence]
			if got != want {
				t.Errorf("%s: %s after adding %s: Match %v, want %v", tt.expr, tt.event, fx[i].label, got, want)
			}
		}
	}
}

// TestIndexBaseAndGone checks indices outside the Index and events its
// function no longer returns.
func TestIndexBaseAndGone(t *testing.T) {
	evs := map[int]*capture.Event{
		100: {Kind: capture.KindOpen, Conn: 1},
		101: {Kind: capture.KindRequest, Conn: 1, Seq: 1, Method: "GET", Target: "/"},
	}
	x := MustParse("~all").NewIndex(100, func(i int) *capture.Event { return evs[i] })
	x.Add(evs[100])
	x.Add(evs[101])
	if x.Len() != 102 {
		t.Fatalf("Len %d, want 102", x.Len())
	}
	for i, want := range map[int]bool{99: false, 100: true, 101: true, 102: false, -1: false} {
		if got := x.Match(i); got != want {
			t.Errorf("Match(%d) = %v, want %v", i, got, want)
		}
	}
	delete(evs, 100)
	if x.Match(100) {
		t.Error("Match of an event that is gone is true")
	}
}

// TestConnNumberReused checks a capture appended by two runs of frametap,
// which number their connections from 1 each: the second run's conn 1 is
// a connection of its own.
func TestConnNumberReused(t *testing.T) {
	evs := []*capture.Event{
		{Kind: capture.KindOpen, Conn: 1},
		{Kind: capture.KindUpgrade, Conn: 1, Protocol: "websocket"},
		{Kind: capture.KindClose, Conn: 1, WebSocket: true},
		{Kind: capture.KindOpen, Conn: 1},
		{Kind: capture.KindRequest, Conn: 1, Seq: 1, Method: "GET", Target: "/"},
		{Kind: capture.KindClose, Conn: 1},
	}
	want := []bool{true, true, true, false, false, false}
	f := MustParse("~websocket")
	if got := f.Select(evs); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Select: %v, want %v", got, want)
	}
	m := f.NewMatcher()
	for i, ev := range evs {
		if got := m.Match(ev); got != (want[i] && i > 0) {
			t.Errorf("Matcher, event %d: %v", i, got)
		}
	}
}

// TestIndexFarSeq checks that a seq far beyond a connection's others (a
// damaged capture) does not make the Index grow to it, and still pairs.
func TestIndexFarSeq(t *testing.T) {
	evs := []*capture.Event{
		{Kind: capture.KindOpen, Conn: 1},
		{Kind: capture.KindRequest, Conn: 1, Seq: 1 << 30, Target: "/far"},
		{Kind: capture.KindResponse, Conn: 1, Seq: 1 << 30, Status: 200},
		{Kind: capture.KindRequest, Conn: 1, Seq: 9, Target: "/near"},
		{Kind: capture.KindResponse, Conn: 1, Seq: 9, Status: 200},
	}
	got := MustParse("~u /far").Select(evs)
	if fmt.Sprint(got) != "[true true true false false]" {
		t.Errorf("Select: %v", got)
	}
}

// TestMatcherBounded checks that a Matcher forgets closed connections, and
// that a connection with more exchanges than it remembers at once judges
// the forgotten ones without their facts instead of growing.
func TestMatcherBounded(t *testing.T) {
	f := MustParse("~u ^/keep | ~c 404")
	m := f.NewMatcher()
	for c := uint64(1); c <= 10000; c++ {
		m.Match(&capture.Event{Kind: capture.KindOpen, Conn: c})
		m.Match(&capture.Event{Kind: capture.KindRequest, Conn: c, Seq: 1, Target: "/keep"})
		if c%2 == 0 {
			m.Match(&capture.Event{Kind: capture.KindClose, Conn: c})
		}
	}
	if len(m.conns) != 5000 || len(m.free) > maxFree {
		t.Errorf("%d connections kept, %d free; want 5000 and at most %d", len(m.conns), len(m.free), maxFree)
	}

	// 100 pipelined requests, then their responses: the first ones are
	// forgotten by the time their responses come.
	m.Match(&capture.Event{Kind: capture.KindOpen, Conn: 99999})
	for seq := 1; seq <= 100; seq++ {
		m.Match(&capture.Event{Kind: capture.KindRequest, Conn: 99999, Seq: seq, Target: "/keep"})
	}
	var matched []int
	for seq := 1; seq <= 100; seq++ {
		if m.Match(&capture.Event{Kind: capture.KindResponse, Conn: 99999, Seq: seq, Status: 200}) {
			matched = append(matched, seq)
		}
	}
	// The slots hold requests 85-100. The response to request 1 takes
	// the slot of the least recently used, 85; the responses to 2-84 then
	// take the slot of a finished exchange, the previous response's. So
	// 86-100 are judged with their requests, the others on their own facts
	// (200, not 404).
	if fmt.Sprint(matched) != fmt.Sprint(seqs(86, 100)) {
		t.Errorf("responses matched: %v, want 86-100", matched)
	}
	// An exchange in flight is remembered.
	m.Match(&capture.Event{Kind: capture.KindRequest, Conn: 99999, Seq: 101, Target: "/keep"})
	if !m.Match(&capture.Event{Kind: capture.KindResponse, Conn: 99999, Seq: 101, Status: 200}) {
		t.Error("the response of a remembered exchange does not match ~u of its request")
	}
}

func seqs(from, to int) []int {
	var s []int
	for i := from; i <= to; i++ {
		s = append(s, i)
	}
	return s
}

// TestDeps keeps filter free of the network, the UI and frametap's other
// packages but capture.
func TestDeps(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command:", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		switch {
		case dep == "net" || strings.HasPrefix(dep, "net/"),
			strings.Contains(dep, "tview"), strings.Contains(dep, "tcell"),
			strings.HasPrefix(dep, "github.com/frametap/frametap/") &&
				dep != "github.com/frametap/frametap/capture" && dep != "github.com/frametap/frametap/filter":
			t.Errorf("filter depends on %s", dep)
		}
	}
}

// TestIndexGen checks the promise a live view relies on: while Gen of an
// event's connection stays the same, the verdict on an event that is not
// a request, a response or a frame does not change as events are added;
// and each connection has its own Gen.
func TestIndexGen(t *testing.T) {
	fx := fixture()
	evs := make([]*capture.Event, len(fx))
	for i := range fx {
		evs[i] = &fx[i].ev
	}
	for _, expr := range []string{"~websocket", "!~websocket", "~d example", "~c 401", "~m post | ~e", "~sse", "~tls ~wq", "~h upgrade", "~src 127", "~dst 443", "~all"} {
		x := MustParse(expr).NewIndex(0, func(i int) *capture.Event { return evs[i] })
		var gens []uint64
		var verdicts []bool
		for i, ev := range evs {
			x.Add(ev)
			gens, verdicts = append(gens, 0), append(verdicts, false)
			for j := 0; j <= i; j++ {
				g, v := x.Gen(j), x.Match(j)
				switch k := evs[j].Kind; {
				case j == i:
				case k == capture.KindRequest || k == capture.KindResponse || k == capture.KindFrame:
				case g == gens[j] && v != verdicts[j]:
					t.Errorf("%s: %s (event %d) changed its verdict to %v after adding %s, with the same Gen", expr, fx[j].label, j, v, fx[i].label)
				}
				gens[j], verdicts[j] = g, v
			}
		}
		seen := map[uint64]uint64{}
		for j, ev := range evs {
			if c, ok := seen[x.Gen(j)]; ok && c != ev.Conn {
				t.Errorf("%s: connections %d and %d share Gen %d", expr, c, ev.Conn, x.Gen(j))
			}
			seen[x.Gen(j)] = ev.Conn
		}
		if x.Gen(len(evs)) != 0 || x.Gen(-1) != 0 {
			t.Errorf("%s: Gen of an event not added is not 0", expr)
		}
	}
}
