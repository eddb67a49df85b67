package filter

import (
	"testing"

	"github.com/frametap/frametap/capture"
)

// matchTests list, per expression, the events of fixture() it selects over
// the whole capture (Select), and streaming (Matcher) where that differs:
// streaming judges each event with what came before it only.
var matchTests = []struct {
	expr   string
	whole  string
	stream string // "" when the same as whole
}{
	// Connection atoms.
	{"~websocket", "c1.*", "c1.resp2 c1.upg c1.f* c1.m* c1.close"},
	{"~http", "c1.* c2.* c3.*", without("c1.* c2.* c3.*", "c1.open", "c2.open", "c3.open", "c3.tls")},
	{"~h2", "c3.*", without("c3.*", "c3.open")},
	{"~sse", "c3.*", "c3.resp c3.sse c3.h2f c3.close"},
	{"~tls", "c2.* c3.*", "c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close " + without("c3.*", "c3.open")},
	{"~conn 2", "c2.*", ""},
	{"~conn 2-3", "c2.* c3.*", ""},
	{"~conn >3", "", ""},
	{`~src 127\.0\.0\.1:5002`, "c2.*", ""},
	{`~src ::1`, "c3.*", ""},

	// Exchange atoms: the exchange's events, the WebSocket it started, and
	// the connection's events outside exchanges.
	{"~d example", "c1.*", without("c1.*", "c1.open")},
	{`~d ^api\.test`, "c2.*", without("c2.*", "c2.open")},
	{"~u /chat", without("c1.*", "c1.req1", "c1.resp1"), without("c1.*", "c1.open", "c1.req1", "c1.resp1")},
	{"/chat", without("c1.*", "c1.req1", "c1.resp1"), without("c1.*", "c1.open", "c1.req1", "c1.resp1")},
	{`~u ^http://example\.com/$`, "c1.open c1.req1 c1.resp1 c1.close", "c1.req1 c1.resp1 c1.close"},
	{`~u ^https://api\.test/v1/login\?`, "c2.open c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close", "c2.req2 c2.resp2 c2.err c2.close"},
	{`~u ^/v1/`, "c2.open c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close", "c2.req2 c2.resp2 c2.err c2.close"},
	{"~u ^api.test:443$", without("c2.*", "c2.req2", "c2.resp2"), without("c2.*", "c2.open", "c2.req2", "c2.resp2")},
	{"~m post", "c2.open c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close", "c2.req2 c2.resp2 c2.err c2.close"},
	{"~m ^connect$", without("c2.*", "c2.req2", "c2.resp2"), without("c2.*", "c2.open", "c2.req2", "c2.resp2")},
	{"~c 401", "c2.open c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close", "c2.resp2 c2.err c2.close"},
	{"~c 4xx", "c2.open c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close", "c2.resp2 c2.err c2.close"},
	{"~c 101", without("c1.*", "c1.req1", "c1.resp1"), without("c1.*", "c1.open", "c1.req1", "c1.req2", "c1.resp1")},
	{"~c 200", "c1.open c1.req1 c1.resp1 c1.close " + without("c2.*", "c2.req2", "c2.resp2") + " c3.*",
		"c1.resp1 c1.close c2.resp1 c2.tls1 c2.tls2 c2.err c2.close c3.resp c3.sse c3.h2f c3.close"},
	{"~hq ^authorization:", "c2.open c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close", "c2.req2 c2.resp2 c2.err c2.close"},
	{"~hs set-cookie", "c2.open c2.tls1 c2.tls2 c2.req2 c2.resp2 c2.err c2.close", "c2.resp2 c2.err c2.close"},
	{"~hq set-cookie", "", ""},
	{`~h "^upgrade: websocket$"`, without("c1.*", "c1.req1", "c1.resp1"), without("c1.*", "c1.open", "c1.req1", "c1.resp1")},
	{`~h "^content-type: text/event"`, "c3.*", "c3.resp c3.sse c3.h2f c3.close"},
	{"~dst ^api.test:443$", "c2.*", without("c2.*", "c2.open")},
	{"~dst example.com:80", "c1.*", ""},
	{"~dst push", "c3.*", ""},

	// Event atoms.
	{"~q", "c1.req1 c1.req2 c2.req1 c2.req2 c3.req", ""},
	{"~s", "c1.resp1 c1.resp2 c2.resp1 c2.resp2 c3.resp", ""},
	{"~all", "c1.* c2.* c3.*", ""},
	{"~e", "c2.err c2.close", ""},
	{"~b chat", "c1.resp1 c1.f2 c1.f4 c1.m3", "c1.resp1 c1.m3"},
	{"~b bye", "c1.f5 c1.m4", "c1.m4"},
	{"~b ^$", "c1.req1 c1.req2 c1.resp2 c1.f3 c1.m2 c1.f6 c1.m5 c2.req1 c2.resp1 c3.req c3.resp", "c1.req1 c1.req2 c1.resp2 c1.m2 c1.m5 c2.req1 c2.resp1 c3.req c3.resp"},
	{"~bq password", "c2.req2", ""},
	{"~bq chat", "", ""},
	{"~bs chat", "c1.resp1 c1.f2 c1.f4 c1.m3", "c1.resp1 c1.m3"},
	{"~bs denied", "c2.resp2", ""},
	{"~bs bye", "", ""},
	{"~wq", "c1.f1 c1.m1 c1.f5 c1.m4", ""},
	{"~ws", "c1.f2 c1.f3 c1.m2 c1.f4 c1.m3 c1.f6 c1.m5 c3.sse", ""},
	{"~op text", "c1.f1 c1.m1 c1.f2 c1.f4 c1.m3", ""},
	{"~op ping", "c1.f3 c1.m2", ""},
	{"~op control", "c1.f3 c1.m2 c1.f5 c1.m4 c1.f6 c1.m5", ""},
	{"~op data", "c1.f1 c1.m1 c1.f2 c1.f4 c1.m3", ""},
	{"~op continuation", "", ""},
	{"~op binary", "", ""},
	{"~fin", "c1.f1 c1.m1 c1.f3 c1.m2 c1.f4 c1.f5 c1.m4 c1.f6 c1.m5", ""},
	{"~op data !~fin", "c1.f2 c1.m3", ""},
	{"~rsv1", "c1.f1 c1.m1", ""},
	{"~masked", "c1.f1 c1.m1 c1.f5 c1.m4", ""},
	{"~len >20", "c1.f1 c1.m1 c1.f4 c1.m3", ""},
	{"~len 5-9", "c1.f5 c1.m4 c3.h2f", ""},
	{"~len <1", "c1.f3 c1.m2", ""},
	{"~len 20", "c3.sse", ""},
	{"~code 1000", "c1.f5 c1.m4", "c1.m4"},
	{"~code 1002", "c1.f6 c1.m5", "c1.m5"},
	{"~code 1xxx", "c1.f5 c1.m4 c1.f6 c1.m5", "c1.m4 c1.m5"},
	{"~sio ^chat$", "c1.f2 c1.f4 c1.m3", "c1.m3"},
	{"~sio CHAT", "c1.f2 c1.f4 c1.m3", "c1.m3"},
	{"~sio ^ch$", "", ""},
	{"~jq .type=order", "", ""},
	{"~jq .type=Order", "c1.f1 c1.m1", "c1.m1"},
	{`~jq '.type="Order"'`, "c1.f1 c1.m1", "c1.m1"},
	{"~jq .x.type=order", "c1.f1 c1.m1", "c1.m1"},
	{"~jq .items[0].id=7", "c1.f1 c1.m1", "c1.m1"},
	{"~jq .items[0].id=7.0", "c1.f1 c1.m1", "c1.m1"},
	{`~jq .items[0].id="7"`, "", ""},
	{"~jq .items[1].id=7", "", ""},
	{"~jq .qty=3", "c1.f1 c1.m1", "c1.m1"},
	{"~jq .ok=false", "c2.resp2", ""},
	{"~jq .ok", "c2.resp2", ""},
	{"~jq .error=denied", "c2.resp2", ""},
	{"~jq .user=ada", "c2.req2", ""},
	{`~jq '.["user"]=ada'`, "c2.req2", ""},
	{"~jq .", "c1.f1 c1.m1 c2.req2 c2.resp2", "c1.m1 c2.req2 c2.resp2"},

	// Operators.
	{"~websocket ~wq ~op text", "c1.f1 c1.m1", ""},
	{"~websocket & ~wq & ~op text", "c1.f1 c1.m1", ""},
	{"~q !~websocket", "c2.req1 c2.req2 c3.req", "c1.req1 c1.req2 c2.req1 c2.req2 c3.req"},
	{"~q | ~e", "c1.req1 c1.req2 c2.req1 c2.req2 c3.req c2.err c2.close", ""},
	{"~e | ~q ~m get", "c1.req1 c1.req2 c3.req c2.err c2.close", ""},
	{"(~e | ~q) ~m get", "c1.req1 c1.req2 c3.req", ""},
	{"!(~e | ~q) ~conn 2", "c2.open c2.resp1 c2.tls1 c2.tls2 c2.resp2", ""},
	{"!!~e", "c2.err c2.close", ""},
	{`~d example\.com ~c 2xx`, "c1.open c1.req1 c1.resp1 c1.close", "c1.resp1 c1.close"},
}

// TestMatch runs every expression over the fixture in both ways.
func TestMatch(t *testing.T) {
	fx := fixture()
	evs := make([]*capture.Event, len(fx))
	for i := range fx {
		evs[i] = &fx[i].ev
	}
	for _, tt := range matchTests {
		f, err := Parse(tt.expr)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		want := expand(tt.whole)
		if got := labels(fx, f.Select(evs)); got != want {
			t.Errorf("Select %q:\n got %s\nwant %s", tt.expr, got, want)
		}
		wantStream := want
		if tt.stream != "" {
			wantStream = expand(tt.stream)
		}
		m := f.NewMatcher()
		sel := make([]bool, len(evs))
		for i, ev := range evs {
			sel[i] = m.Match(ev)
		}
		if got := labels(fx, sel); got != wantStream {
			t.Errorf("Matcher %q:\n got %s\nwant %s", tt.expr, got, wantStream)
		}
		if len(m.conns) != 0 {
			t.Errorf("Matcher %q keeps %d connections after their close", tt.expr, len(m.conns))
		}
		// The canonical form selects the same.
		g := MustParse(f.String())
		if a, b := labels(fx, f.Select(evs)), labels(fx, g.Select(evs)); a != b {
			t.Errorf("%q selects %s but its canonical form %q selects %s", tt.expr, a, f.String(), b)
		}
	}
}

// TestMatchAtomsCovered checks that matchTests use every atom.
func TestMatchAtomsCovered(t *testing.T) {
	used := map[string]bool{}
	for _, tt := range matchTests {
		f := MustParse(tt.expr)
		for _, a := range f.atoms {
			used[a.spec.name] = true
		}
	}
	for _, s := range specs {
		if !used[s.name] {
			t.Errorf("no match test uses %s", s.name)
		}
	}
}
