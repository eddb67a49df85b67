package filter

import (
	"errors"
	"fmt"
	"testing"
	"unicode/utf8"

	"github.com/frametap/frametap/capture"
)

// FuzzParse checks that Parse never panics, that its errors carry a column
// inside the expression, and that a parsed expression's canonical form
// parses to a filter with the same canonical form and the same matches.
func FuzzParse(f *testing.F) {
	for _, tt := range matchTests {
		f.Add(tt.expr)
	}
	for _, s := range []string{
		"~d (foo", `~b "a\"b" | !(~q ~s)`, "~u /v(1|2)/ & ~jq '.a[0]=\"x y\"'", "~len 4xx", "((((~e))))",
		"~b don't", "x(", "~jq .a.b[3]=null", `"'"`, "~op data !~fin", "a b c | d e", "~d ",
	} {
		f.Add(s)
	}
	fx := fixture()
	evs := make([]*capture.Event, len(fx))
	for i := range fx {
		evs[i] = &fx[i].ev
	}
	f.Fuzz(func(t *testing.T, expr string) {
		p, err := Parse(expr)
		if err != nil {
			var fe *Error
			if !errors.As(err, &fe) {
				t.Fatalf("Parse(%q): error %T %v, want *Error", expr, err, err)
			}
			if n := utf8.RuneCountInString(expr); fe.Col < 1 || fe.Col > n+1 {
				t.Fatalf("Parse(%q): column %d outside 1-%d: %v", expr, fe.Col, n+1, err)
			}
			return
		}
		s := p.String()
		q, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q) is %q, which does not parse: %v", expr, s, err)
		}
		if q.String() != s {
			t.Fatalf("Parse(%q) is %q, which parses to %q", expr, s, q.String())
		}
		if a, b := fmt.Sprint(p.Select(evs)), fmt.Sprint(q.Select(evs)); a != b {
			t.Fatalf("%q and its canonical form %q select differently:\n%s\n%s", expr, s, a, b)
		}
		m := p.NewMatcher()
		for _, ev := range evs {
			m.Match(ev)
		}
	})
}

// FuzzContent checks that the payload readers (jq paths, Socket.IO names)
// never panic and stay in bounds on any payload.
func FuzzContent(f *testing.F) {
	f.Add(".a[0].b=1", []byte(`{"a":[{"b":1}]}`))
	f.Add(`.["x"]="y"`, []byte(`{"x":"\ud83d\ude00y"}`))
	f.Add(".", []byte(`42["chat",{"a":1}]`))
	f.Add(".n=1e3", []byte(`{"n":1000}`))
	f.Add(".s", []byte(`451-/nsp,12["ev\u0041"]`))
	f.Fuzz(func(t *testing.T, path string, payload []byte) {
		var scratch []byte
		if p, err := parseJQ(path); err == nil {
			p.match(payload, &scratch)
		}
		if name, ok := sioEventName(payload, &scratch); ok && len(name) > len(payload) {
			t.Fatalf("Socket.IO name %q longer than its payload %q", name, payload)
		}
	})
}
