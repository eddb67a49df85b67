package filter

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestParse checks what expressions parse to, through their canonical
// form: every atom and operator, precedence, juxtaposition and quoting.
func TestParse(t *testing.T) {
	tests := []struct{ in, want string }{
		// Every atom.
		{"~websocket", "~websocket"},
		{"~http", "~http"},
		{"~h2", "~h2"},
		{"~sse", "~sse"},
		{"~tls", "~tls"},
		{`~d example\.com`, `~d example\.com`},
		{"~u /chat", "~u /chat"},
		{"~m GET", "~m GET"},
		{"~c 404", "~c 404"},
		{"~h content-type", "~h content-type"},
		{"~hq host", "~hq host"},
		{"~hs server", "~hs server"},
		{"~b hello", "~b hello"},
		{"~bq hello", "~bq hello"},
		{"~bs hello", "~bs hello"},
		{"~e", "~e"},
		{"~conn 7", "~conn 7"},
		{"~src 127.0.0.1", "~src 127.0.0.1"},
		{"~dst :443", "~dst :443"},
		{"~wq", "~wq"},
		{"~ws", "~ws"},
		{"~op text", "~op text"},
		{"~op PING", "~op ping"},
		{"~op data", "~op data"},
		{"~fin", "~fin"},
		{"~rsv1", "~rsv1"},
		{"~masked", "~masked"},
		{"~len >100", "~len >100"},
		{"~len <100", "~len <100"},
		{"~len 10-20", "~len 10-20"},
		{"~len 5", "~len 5"},
		{"~len >=5", "~len >4"},
		{"~len <=5", "~len <6"},
		{"~len >=0", "~len >=0"},
		{"~code 1000", "~code 1000"},
		{"~c 4xx", "~c 400-499"},
		{"~c 40X", "~c 400-409"},
		{"~sio chat", "~sio chat"},
		{"~jq .type=order", "~jq .type=order"},
		{"~jq .data.items[0].id=7", "~jq .data.items[0].id=7"},
		{"~q", "~q"},
		{"~s", "~s"},
		{"~all", "~all"},
		// A bare word is ~u.
		{"example", "~u example"},
		{"/api/v1", "~u /api/v1"},
		// Operators and precedence: ! over &, & over |, juxtaposition as &.
		{"!~q", "!~q"},
		{"! ~q", "!~q"},
		{"!!~q", "!!~q"},
		{"~q & ~s", "~q & ~s"},
		{"~q ~s", "~q & ~s"},
		{"~q | ~s", "~q | ~s"},
		{"~q ~s | ~e", "~q & ~s | ~e"},
		{"~e | ~q ~s", "~e | ~q & ~s"},
		{"~q & ~s | ~e & ~wq", "~q & ~s | ~e & ~wq"},
		{"~q (~s | ~e)", "~q & (~s | ~e)"},
		{"!(~q | ~s)", "!(~q | ~s)"},
		{"!~q & ~s", "!~q & ~s"},
		{"!(~q ~s)", "!(~q & ~s)"},
		{"((~q))", "~q"},
		{"(~q & ~s) & ~e", "~q & ~s & ~e"},
		{"~q | (~s | ~e)", "~q | ~s | ~e"},
		{"~q&~s|~e", "~q & ~s | ~e"},
		{"(~q|~s)~e", "(~q | ~s) & ~e"},
		{"~d foo|~d bar", "~d foo | ~d bar"},
		{"~d foo&~d bar", "~d foo & ~d bar"},
		{"(~d foo)", "~d foo"},
		// An argument may hold parentheses it opens itself.
		{"~u /v(1|2)/", `~u "/v(1|2)/"`},
		{"(~u /v(1|2)/ | ~e)", `~u "/v(1|2)/" | ~e`},
		// Quoting.
		{`~b "hello world"`, `~b "hello world"`},
		{`~b 'hello world'`, `~b "hello world"`},
		{`~b "say \"hi\""`, `~b "say \"hi\""`},
		{`~b 'it\'s'`, `~b "it's"`},
		{`~b "a\\b"`, `~b a\b`},
		{`~b "\d+"`, `~b \d+`},
		{`~b "\d \\ \""`, `~b "\\d \\ \""`},
		{`~b \d+`, `~b \d+`},
		{`~b "a | b"`, `~b "a | b"`},
		{`~b "[(]x"`, `~b "[(]x"`},
		{`~b ""`, `~b ""`},
		{`~d "~x"`, `~d "~x"`},
		{`"hello"`, `~u hello`},
		{`~jq .name="Ada L"`, `~jq ".name=\"Ada L\""`},
		{`~jq '.name="Ada L"'`, `~jq ".name=\"Ada L\""`},
		{`~b don"t stop"`, `~b "don\"t stop\""`},
		{"~b héllo", "~b héllo"},
		// Whitespace of every kind.
		{"\t~q\n~s ", "~q & ~s"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, got, tt.want)
		}
		g, err := Parse(f.String())
		if err != nil {
			t.Errorf("Parse(%q) of the canonical form of %q: %v", f.String(), tt.in, err)
		} else if g.String() != f.String() {
			t.Errorf("canonical form of %q does not parse back: %q, then %q", tt.in, f.String(), g.String())
		}
		if f.Source() != tt.in {
			t.Errorf("Source() = %q, want %q", f.Source(), tt.in)
		}
	}
}

// TestParseArgs checks the values arguments parse to.
func TestParseArgs(t *testing.T) {
	atomOf := func(expr string) *atom {
		t.Helper()
		f, err := Parse(expr)
		if err != nil {
			t.Fatalf("Parse(%q): %v", expr, err)
		}
		return f.root.atom
	}
	for _, tt := range []struct {
		expr   string
		lo, hi int64
	}{
		{"~len 7", 7, 7}, {"~len >7", 8, 1<<63 - 1}, {"~len <7", 0, 6}, {"~len >=7", 7, 1<<63 - 1},
		{"~len <=7", 0, 7}, {"~len 3-9", 3, 9}, {"~c 5xx", 500, 599}, {"~c 2XX", 200, 299}, {"~conn 0", 0, 0},
	} {
		if a := atomOf(tt.expr); a.num.lo != tt.lo || a.num.hi != tt.hi {
			t.Errorf("%s: range %d-%d, want %d-%d", tt.expr, a.num.lo, a.num.hi, tt.lo, tt.hi)
		}
	}
	if a := atomOf(`~b 'a\'b\\.c\d'`); a.arg != `a'b\.c\d` {
		t.Errorf(`quoted argument %q, want a'b\.c\d`, a.arg)
	}
	if a := atomOf("~op control"); a.ops != opPing|opPong|opClose {
		t.Errorf("~op control: %b", a.ops)
	}
	if !atomOf("~b HeLLo").re.MatchString("say hello") {
		t.Error("regexes should ignore case")
	}
	if atomOf(`~b "(?-i)HeLLo"`).re.MatchString("say hello") {
		t.Error("(?-i) should make a regex case-sensitive")
	}
}

// TestParseErrors checks the message and column of every kind of bad
// expression.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
		col  int
	}{
		{"~d (foo", `filter: unbalanced "(" at column 4`, 4},
		{"(~q", `filter: unbalanced "(" at column 1`, 1},
		{"((~q)", `filter: unbalanced "(" at column 1`, 1},
		{"(~q) (~s", `filter: unbalanced "(" at column 6`, 6},
		{"~q)", `filter: unbalanced ")" at column 3`, 3},
		{"~q ) (", `filter: unbalanced ")" at column 4`, 4},
		{"", "filter: empty expression", 1},
		{"   ", "filter: empty expression", 4},
		{"()", `filter: empty parentheses at column 1`, 1},
		{"~q ( )", `filter: empty parentheses at column 4`, 4},
		{"~x", `filter: unknown atom "~x" at column 1`, 1},
		{"~q ~foo", `filter: unknown atom "~foo" at column 4`, 4},
		{"~", `filter: unknown atom "~" at column 1`, 1},
		{"~D foo", `filter: unknown atom "~D" at column 1`, 1},
		{"~d", `filter: ~d needs a regex at column 3`, 3},
		{"~d ", `filter: ~d needs a regex at column 4`, 4},
		{"~d ~q", `filter: ~d needs a regex at column 4`, 4},
		{"~d )", `filter: unbalanced ")" at column 4`, 4},
		{"(~d)", `filter: ~d needs a regex at column 4`, 4},
		{"~c", `filter: ~c needs a number or range at column 3`, 3},
		{"~op", `filter: ~op needs an opcode name at column 4`, 4},
		{"~jq & ~q", `filter: ~jq needs a jq path at column 5`, 5},
		{"~b foo(", `filter: bad regex "foo(": missing closing ) at column 4`, 4},
		{"~b '*x'", `filter: bad regex "*x": missing argument to repetition operator at column 4`, 4},
		{"x[", `filter: bad regex "x[": missing closing ] at column 1`, 1},
		{`~u "a\.q" ~b x(?P<y`, `filter: bad regex "x(?P<y": invalid named capture at column 14`, 14},
		{"~c abc", `filter: bad number "abc" for ~c: want digits at column 4`, 4},
		{"~c -5", `filter: bad number "-5" for ~c: want digits at column 4`, 4},
		{"~len 9-3", `filter: bad number "9-3" for ~len: 9 is above 3 at column 6`, 6},
		{"~len <0", `filter: bad number "<0" for ~len: nothing is below 0 at column 6`, 6},
		{"~len 99999999999999999999", `filter: bad number "99999999999999999999" for ~len: too large at column 6`, 6},
		{"~len >", `filter: bad number ">" for ~len: want digits at column 6`, 6},
		{"~code 70000", `filter: bad number "70000" for ~code: close codes are 0-65535 at column 7`, 7},
		{"~op txt", `filter: unknown op "txt" (want text, binary, ping, pong, close, continuation, data or control) at column 5`, 5},
		{"~jq type=x", `filter: bad jq path "type=x": a path starts with "." at column 5`, 5},
		{"~jq .a[x]", `filter: bad jq path ".a[x]": want an index (0, 1, ...) or a quoted key in "[...]" at column 5`, 5},
		{"~jq .a=", `filter: bad jq path ".a=": no value after "=" (write "" for the empty string) at column 5`, 5},
		{"~jq .a={}", `filter: bad jq path ".a={}": only strings, numbers, true, false and null are compared at column 5`, 5},
		{"~jq .a..b", `filter: bad jq path ".a..b": a key is missing after "." at column 5`, 5},
		{"~q &", `filter: trailing "&" at column 4`, 4},
		{"~q |", `filter: trailing "|" at column 4`, 4},
		{"~q !", `filter: trailing "!" at column 4`, 4},
		{"(~q |)", `filter: trailing "|" at column 5`, 5},
		{"(~q !)", `filter: trailing "!" at column 5`, 5},
		{"& ~q", `filter: "&" needs an expression before it at column 1`, 1},
		{"| ~q", `filter: "|" needs an expression before it at column 1`, 1},
		{"~q & | ~s", `filter: "|" needs an expression before it at column 6`, 6},
		{"~q || ~s", `filter: "|" needs an expression before it at column 5`, 5},
		{"(& ~q)", `filter: "&" needs an expression before it at column 2`, 2},
		{`~b "abc`, `filter: unterminated quote at column 4`, 4},
		{`~b 'abc"`, `filter: unterminated quote at column 4`, 4},
		{`~b don't`, `filter: unterminated quote at column 7`, 7},
		{`é ~b "x`, `filter: unterminated quote at column 6`, 6},
		{"~b héllo (", `filter: unbalanced "(" at column 10`, 10},
	}
	for _, tt := range tests {
		f, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %q, want error %q", tt.in, f.String(), tt.want)
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("Parse(%q): error %T, want *Error", tt.in, err)
			continue
		}
		if err.Error() != tt.want || fe.Col != tt.col {
			t.Errorf("Parse(%q): %q (column %d), want %q (column %d)", tt.in, err, fe.Col, tt.want, tt.col)
		}
	}
}

// TestTooManyAtoms checks the bound on exchange atoms.
func TestTooManyAtoms(t *testing.T) {
	expr := strings.Repeat("~d x | ", maxBits) + "~d y"
	_, err := Parse(expr)
	if err == nil || !strings.Contains(err.Error(), "more than 64") {
		t.Fatalf("Parse of %d ~d atoms: %v, want an error", maxBits+1, err)
	}
	if _, err := Parse(strings.Repeat("~d x | ", maxBits-1) + "~d y"); err != nil {
		t.Fatalf("Parse of %d ~d atoms: %v", maxBits, err)
	}
}

// TestDepth checks the bound on nesting, and that long flat expressions
// parse in linear time (20,000 atoms would take seconds if quadratic).
func TestDepth(t *testing.T) {
	ok := strings.Repeat("(", maxDepth) + "~q" + strings.Repeat(")", maxDepth)
	if _, err := Parse(ok); err != nil {
		t.Errorf("%d parentheses: %v", maxDepth, err)
	}
	deep := "~s | " + strings.Repeat("(", maxDepth+1) + "~q" + strings.Repeat(")", maxDepth+1)
	want := fmt.Sprintf("filter: nested deeper than %d at column %d", maxDepth, 6+maxDepth)
	if _, err := Parse(deep); err == nil || err.Error() != want {
		t.Errorf("%d parentheses: %v, want %s", maxDepth+1, err, want)
	}
	if _, err := Parse(strings.Repeat("!", maxDepth+1) + "~q"); err == nil {
		t.Errorf("%d \"!\": no error", maxDepth+1)
	}
	f, err := Parse(strings.Repeat("~q ", 20000) + "| " + strings.Repeat("~s & ", 20000) + "~e")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.root.kids); f.root.kind != nOr || n != 2 || len(f.root.kids[0].kids) != 20000 || len(f.root.kids[1].kids) != 20001 {
		t.Errorf("flat expression parsed to kind %d with %d kids", f.root.kind, n)
	}
}

// TestHelp checks that Help names every atom and that its examples parse.
func TestHelp(t *testing.T) {
	for _, s := range specs {
		if !strings.Contains(Help, "  "+s.name+" ") {
			t.Errorf("Help does not list %s", s.name)
		}
		if !strings.Contains(s.example, s.name) {
			t.Errorf("the example of %s, %q, does not use it", s.name, s.example)
		}
		if _, err := Parse(s.example); err != nil {
			t.Errorf("the example of %s: %v", s.name, err)
		}
	}
	for i, line := range strings.Split(Help, "\n") {
		if n := len([]rune(line)); n > 78 {
			t.Errorf("Help line %d is %d characters wide: %q", i+1, n, line)
		}
	}
	_, after, _ := strings.Cut(Help, "Examples\n")
	for _, line := range strings.Split(strings.TrimSpace(after), "\n") {
		expr, _, _ := strings.Cut(strings.TrimSpace(line), "  ")
		if _, err := Parse(expr); err != nil {
			t.Errorf("Help example %q: %v", expr, err)
		}
	}
}
