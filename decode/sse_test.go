package decode

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

// sseRecorder is an sseSink that writes each event and error as one line,
// so that runs compare as strings, and checks the bounds as it goes.
type sseRecorder struct {
	t       testing.TB
	max     int
	out     []string
	events  []SSEEvent // copies
	errs    []error
	badUTF8 bool // ErrSSEUTF8 came: Data may be longer than on the wire
}

func (r *sseRecorder) sseEvent(ev *SSEEvent) {
	c := *ev
	c.Data, c.ID = bytes.Clone(ev.Data), bytes.Clone(ev.ID)
	r.events = append(r.events, c)
	if !ev.Truncated && !utf8.Valid(ev.Data) {
		r.t.Errorf("event at %d: data %q is not UTF-8", ev.Offset, ev.Data)
	}
	if r.badUTF8 {
		r.out = append(r.out, sseLine(ev))
		return
	}
	if len(ev.Data) > r.max || int64(len(ev.Data)) > ev.DataLen {
		r.t.Errorf("event at %d: kept %d data bytes of %d, bound %d", ev.Offset, len(ev.Data), ev.DataLen, r.max)
	}
	if !ev.Truncated && int64(len(ev.Data)) != ev.DataLen {
		r.t.Errorf("event at %d: %d data bytes of %d, not truncated", ev.Offset, len(ev.Data), ev.DataLen)
	}
	if ev.Len < ev.DataLen {
		r.t.Errorf("event at %d: len %d < data %d", ev.Offset, ev.Len, ev.DataLen)
	}
	r.out = append(r.out, sseLine(ev))
}

func (r *sseRecorder) sseError(err error) {
	r.badUTF8 = r.badUTF8 || errors.Is(err, ErrSSEUTF8)
	r.errs = append(r.errs, err)
	r.out = append(r.out, "error "+sseErrName(err))
}

func sseErrName(err error) string {
	for _, e := range []error{ErrSSETooLarge, ErrSSEUTF8, ErrSSECutShort} {
		if errors.Is(err, e) {
			return e.Error()
		}
	}
	return "unknown: " + err.Error()
}

func sseLine(ev *SSEEvent) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q len=%d off=%d", ev.Event, ev.Data, ev.Len, ev.Offset)
	if ev.HasID {
		fmt.Fprintf(&b, " id=%q", ev.ID)
	}
	if ev.HasRetry {
		fmt.Fprintf(&b, " retry=%d", ev.Retry)
	}
	if ev.Comments > 0 {
		fmt.Fprintf(&b, " comments=%d", ev.Comments)
	}
	if ev.Truncated {
		fmt.Fprintf(&b, " truncated datalen=%d", ev.DataLen)
	}
	return b.String()
}

// sseRun feeds in to a new sseStream in the pieces split gives (the indexes
// where a piece ends), then ends it.
func sseRun(t testing.TB, max int, in []byte, split []int) (*sseStream, *sseRecorder) {
	t.Helper()
	r := &sseRecorder{t: t, max: max}
	s := newSSEStream(max, r)
	prev := 0
	for _, k := range split {
		s.feed(in[prev:k])
		prev = k
	}
	s.feed(in[prev:])
	s.end()
	return s, r
}

// sseSplits are the ways a test feeds an input: whole, in two pieces at
// every point, one byte at a time, and in three pieces at every pair of
// points for short inputs.
func sseSplits(n int) [][]int {
	splits := [][]int{nil}
	for i := 1; i < n; i++ {
		splits = append(splits, []int{i})
	}
	var bytewise []int
	for i := 1; i < n; i++ {
		bytewise = append(bytewise, i)
	}
	splits = append(splits, bytewise)
	if n <= 64 {
		for i := 1; i < n; i++ {
			for j := i + 1; j < n; j++ {
				splits = append(splits, []int{i, j})
			}
		}
	}
	return splits
}

// sseRef is a second reading of WHATWG HTML 9.2.6, written to be obviously
// right rather than fast: the whole input at once, split into lines, with
// the positions of each line kept to give each event its Len.
func sseRef(in []byte) (out []string) {
	pos := 0
	if bytes.HasPrefix(in, sseBOMBytes[:]) {
		pos = 3
	}
	var (
		data, evType, id []byte
		dataSet, hasID   bool
		retry            int64
		hasRetry         bool
		comments         int
		start            = pos
	)
	for pos < len(in) {
		k := bytes.IndexAny(in[pos:], "\r\n")
		if k < 0 {
			break // an unfinished line: discarded with its block
		}
		k += pos
		line := in[pos:k]
		next := k + 1
		if in[k] == '\r' && next < len(in) && in[next] == '\n' {
			next++
		}
		pos = next
		if len(line) == 0 {
			if dataSet {
				ev := SSEEvent{Event: "message", Data: appendUTF8Replaced(nil, data[:len(data)-1]), HasID: hasID, Retry: retry, HasRetry: hasRetry, Comments: comments, Len: int64(next - start), Offset: int64(start)}
				if len(evType) > 0 {
					ev.Event = string(appendUTF8Replaced(nil, evType))
				}
				if hasID {
					ev.ID = appendUTF8Replaced(nil, id)
				}
				out = append(out, sseLine(&ev))
			}
			data, evType, dataSet, hasID, hasRetry, comments = nil, nil, false, false, false, 0
			start = next
			continue
		}
		if line[0] == ':' {
			comments++
			continue
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if found && len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(name) {
		case "event":
			evType = append([]byte(nil), value...)
		case "data":
			data = append(append(data, value...), '\n')
			dataSet = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				id, hasID = append([]byte(nil), value...), true
			}
		case "retry":
			digits := len(value) > 0
			for _, c := range value {
				digits = digits && c >= '0' && c <= '9'
			}
			if digits {
				retry, hasRetry = sseDigits(value, int64(len(value))), true
			}
		}
	}
	return out
}

// sseBOMText is a BOM, for the table.
const sseBOMText = "\xEF\xBB\xBF"

// sseCases are byte fixtures and the events and errors they give, whatever
// the split. TestSSEEventSourceE2E checks the events against a real
// EventSource client.
var sseCases = []struct {
	name string
	in   string
	want []string
}{
	{"one event", "data: hello\n\n", []string{`message "hello" len=13 off=0`}},
	{"two events", "data: a\n\ndata: b\n\n", []string{`message "a" len=9 off=0`, `message "b" len=9 off=9`}},
	{"multi-line data joined with LF", "data: a\ndata: b\ndata\n\n", []string{`message "a\nb\n" len=22 off=0`}},
	{"all fields", "event: tick\nid: 7\nretry: 3000\ndata: x\n\n", []string{`tick "x" len=39 off=0 id="7" retry=3000`}},
	{"comments counted in their block", ": hi\ndata: x\n: there\n\n", []string{`message "x" len=22 off=0 comments=2`}},
	{"keep-alive comment dispatches nothing", ": keep-alive\n\n:\n\ndata: x\n\n", []string{`message "x" len=9 off=17`}},
	{"CRLF", "data: a\r\n\r\ndata: b\r\n\r\n", []string{`message "a" len=11 off=0`, `message "b" len=11 off=11`}},
	{"CR", "data: a\r\rdata: b\r\r", []string{`message "a" len=9 off=0`, `message "b" len=9 off=9`}},
	{"mixed line ends", "data: a\r\n\rdata: b\n\r\ndata: c\r\n", []string{`message "a" len=10 off=0`, `message "b" len=10 off=10`, "error sse event cut short"}},
	{"CR then LF is one line end, LF then CR two", "data: a\n\rdata: b\n\n", []string{`message "a" len=9 off=0`, `message "b" len=9 off=9`}},
	{"BOM", sseBOMText + "data: x\n\n", []string{`message "x" len=9 off=3`}},
	{"second BOM is part of a field name", sseBOMText + sseBOMText + "data: x\n\ndata: y\n\n", []string{`message "y" len=9 off=15`}},
	{"partial BOM is line content", "\xEF\xBBdata: x\n\ndata: y\n\n", []string{"error sse stream not UTF-8", `message "y" len=9 off=11`}},
	{"field without colon", "data\n\n", []string{`message "" len=6 off=0`}},
	{"two empty data lines", "data\ndata\n\n", []string{`message "\n" len=11 off=0`}},
	{"only one space stripped", "data:  two\ndata:none\n\n", []string{`message " two\nnone" len=22 off=0`}},
	{"colon in value", "data: a:b\n\n", []string{`message "a:b" len=11 off=0`}},
	{"retry only dispatches nothing", "retry: 1000\n\ndata: x\n\n", []string{`message "x" len=9 off=13`}},
	{"retry not digits ignored", "retry: 1s\nretry:\nretry: -1\ndata: x\n\n", []string{`message "x" len=36 off=0`}},
	{"retry overflow saturates", "retry: 99999999999999999999\ndata: x\n\n", []string{fmt.Sprintf(`message "x" len=37 off=0 retry=%d`, int64(math.MaxInt64))}},
	{"id with NUL ignored", "id: 1\nid: a\x00b\ndata: x\n\nid: c\x00\ndata: y\n\n", []string{`message "x" len=23 off=0 id="1"`, `message "y" len=16 off=23`}},
	{"empty id is set", "id\ndata: x\n\nid:\ndata: y\n\n", []string{`message "x" len=12 off=0 id=""`, `message "y" len=13 off=12 id=""`}},
	{"id only block dispatches nothing", "id: 5\n\ndata: x\n\n", []string{`message "x" len=9 off=7`}},
	{"event type empty is message", "event:\ndata: x\n\n", []string{`message "x" len=16 off=0`}},
	{"event type resets after dispatch, even without data", "event: a\n\nevent: b\ndata: x\n\ndata: y\n\n", []string{`b "x" len=18 off=10`, `message "y" len=9 off=28`}},
	{"last event field wins", "event: a\nevent: b\ndata: x\n\n", []string{`b "x" len=27 off=0`}},
	{"field names are case-sensitive", "Data: x\nDATA: y\n\n", nil},
	{"space before colon is part of the name", "data : x\n\n", nil},
	{"unknown field ignored", "foo: bar\ndata: x\nfoo\n\n", []string{`message "x" len=22 off=0`}},
	{"unfinished event discarded and reported", "data: x\n\ndata: y\n", []string{`message "x" len=9 off=0`, "error sse event cut short"}},
	{"unfinished data line reported", "data: y", []string{"error sse event cut short"}},
	{"unfinished line without data is not", "data: x\n\nevent: y\n: z", []string{`message "x" len=9 off=0`}},
	{"blank CR at the end dispatches", "data: x\r\r", []string{`message "x" len=9 off=0`}},
	{"invalid UTF-8 replaced", "data: a\xffb\n\n", []string{"error sse stream not UTF-8", "message \"a\uFFFDb\" len=11 off=0"}},
	{"truncated sequence before LF", "event: \xe2\x82\ndata: \xf0\x9f\x98\n\n", []string{"error sse stream not UTF-8", "\uFFFD \"\uFFFD\" len=21 off=0"}},
	{"invalid UTF-8 in a comment is reported", ": \xc0\xaf\ndata: ok\n\n", []string{"error sse stream not UTF-8", `message "ok" len=15 off=0 comments=1`}},
	{"stream ends in a sequence", "data: x\n\n\xe2", []string{`message "x" len=9 off=0`, "error sse stream not UTF-8"}},
	{"UTF-8 kept as sent", "event: prix\ndata: 3 €\n\n", []string{`prix "3 €" len=25 off=0`}},
	{"empty", "", nil},
	{"blank lines only", "\n\r\n\r", nil},
}

func TestSSE(t *testing.T) {
	tests := sseCases
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := []byte(tt.in)
			ref := sseRef(in)
			var wantEvents []string
			for _, l := range tt.want {
				if !strings.HasPrefix(l, "error ") {
					wantEvents = append(wantEvents, l)
				}
			}
			if !slices.Equal(ref, wantEvents) {
				t.Errorf("the reference reading disagrees with the table:\n got %q\nwant %q", ref, wantEvents)
			}
			for _, split := range sseSplits(len(in)) {
				_, r := sseRun(t, 1<<10, in, split)
				if !slices.Equal(r.out, tt.want) {
					t.Fatalf("split %v:\n got %q\nwant %q", split, r.out, tt.want)
				}
			}
		})
	}
}

func TestSSEStats(t *testing.T) {
	in := "\xEF\xBB\xBF: hi\n\nretry: 10\n\ndata: a\n: c\n\nid: 1\n\ndata: b\r\n\r\ndata: cut"
	s, _ := sseRun(t, 1<<10, []byte(in), nil)
	want := SSEStats{Bytes: int64(len(in)), Events: 2, EventBytes: 13 + 11, Comments: 2, Ignored: 3, Retry: 10}
	if s.stats != want {
		t.Errorf("stats %+v, want %+v", s.stats, want)
	}
}

// TestSSEUTF8Replacement checks the WHATWG decoder's replacement against
// the examples of "U+FFFD Substitution of Maximal Subparts" (Unicode
// section 3.9, tables 3-8 to 3-11).
func TestSSEUTF8Replacement(t *testing.T) {
	tests := []struct{ in, want string }{
		{"\x61\xF1\x80\x80\xE1\x80\xC2\x62\x80\x63\x80\xBF\x64", "a\uFFFD\uFFFD\uFFFDb\uFFFDc\uFFFD\uFFFDd"},
		{"\xC0\xAF\xE0\x80\xBF\xF0\x81\x82\x41", "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDA"},
		{"\xED\xA0\x80\xED\xBF\xBF\xED\xAF\x41", "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDA"},
		{"\xF4\x91\x92\x93\xFF\x41\x80\xBF\x42", "\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDA\uFFFD\uFFFDB"},
		{"\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", "\uFFFD\uFFFD\uFFFD\uFFFDA"},
		{"€𝄞é", "€𝄞é"},
		{"\xF4\x8F\xBF\xBF", "\U0010FFFF"},
		{"\xE2\x82", "\uFFFD"},
	}
	for _, tt := range tests {
		if got := string(appendUTF8Replaced(nil, []byte(tt.in))); got != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestSSEBounds feeds lines of 10 MB without a line end: the parser keeps
// no more than its bounds, reports once, and goes on counting.
func TestSSEBounds(t *testing.T) {
	const max = 64
	chunk := bytes.Repeat([]byte("x"), 64<<10)
	for _, lead := range []string{"data: ", ": ", "id: ", "event: ", "retry: ", "foo: ", "dataaaa"} {
		t.Run(lead, func(t *testing.T) {
			r := &sseRecorder{t: t, max: max}
			s := newSSEStream(max, r)
			s.feed([]byte("data: before\n\n" + lead))
			for range 160 { // 10 MiB
				s.feed(chunk)
			}
			if len(r.errs) != 1 || !errors.Is(r.errs[0], ErrSSETooLarge) {
				t.Fatalf("errors %v, want one ErrSSETooLarge", r.errs)
			}
			for _, b := range [][]byte{s.data, s.val, s.evType, s.id} {
				if cap(b) > 2*max+8 {
					t.Errorf("a buffer of %d bytes is kept", cap(b))
				}
			}
			s.feed([]byte("\ndata: after\n\n"))
			s.end()
			last := r.out[len(r.out)-1]
			switch lead {
			case "data: ":
				want := fmt.Sprintf(`message "%s\nafter" len=%d off=14 truncated datalen=%d`, strings.Repeat("x", max), 6+10<<20+1+12+1, 10<<20+6)
				want = strings.Replace(want, `\nafter`, "", 1)
				if last != want {
					t.Errorf("got %s\nwant %s", last, want)
				}
			case "id: ", "event: ":
				if !strings.Contains(last, "truncated") || !strings.Contains(last, strings.Repeat("x", max)) {
					t.Errorf("got %s, want the value cut at %d and truncated", last, max)
				}
			default:
				want := fmt.Sprintf(`message "after" len=%d off=14`, len(lead)+10<<20+1+12+1)
				if lead == ": " {
					want += " comments=1"
				}
				if last != want {
					t.Errorf("got %s\nwant %s", last, want)
				}
			}
		})
	}
}

// TestSSECutAtRune checks that data cut at the bound does not end in half
// a character.
func TestSSECutAtRune(t *testing.T) {
	_, r := sseRun(t, 4, []byte("data: abcé\n\n"), nil)
	want := []string{"error sse line too long", `message "abc" len=13 off=0 truncated datalen=5`}
	if !slices.Equal(r.out, want) {
		t.Errorf("got %q, want %q", r.out, want)
	}
}

func FuzzSSE(f *testing.F) {
	f.Add([]byte("event: tick\nid: 7\nretry: 3000\ndata: x\ndata: y\n\n: c\r\n\r\n"), uint64(1))
	f.Add([]byte("\xEF\xBB\xBFdata: a\r\rdata\n\n"), uint64(2))
	f.Add([]byte("data: \xe2\x82\nid: \x00\n\n"), uint64(3))
	f.Add([]byte("retry: 12\n\ndata:  z\r\n\r"), uint64(4))
	f.Add([]byte("0000000000\x80"), uint64(1)) // two errors in one line, in either order
	f.Fuzz(func(t *testing.T, in []byte, seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed>>7))
		var split []int
		for i := 1; i < len(in); i++ {
			if rng.IntN(4) == 0 {
				split = append(split, i)
			}
		}
		// With room to keep everything, the parser agrees with the
		// reference reading, whatever the split.
		s, r := sseRun(t, len(in)+1, in, split)
		var got []string
		for _, l := range r.out {
			if !strings.HasPrefix(l, "error ") {
				got = append(got, l)
			}
		}
		if want := sseRef(in); !slices.Equal(got, want) {
			t.Fatalf("split %v:\n got %q\nwant %q", split, got, want)
		}
		if s.stats.Bytes != int64(len(in)) || s.stats.EventBytes > s.stats.Bytes {
			t.Fatalf("stats %+v for %d bytes", s.stats, len(in))
		}
		seen := map[string]bool{}
		for _, err := range r.errs {
			if seen[sseErrName(err)] {
				t.Fatalf("%s reported twice", sseErrName(err))
			}
			seen[sseErrName(err)] = true
		}
		if seen[ErrSSEUTF8.Error()] == utf8.Valid(in) {
			t.Fatalf("UTF-8 reported %v for valid=%v", seen[ErrSSEUTF8.Error()], utf8.Valid(in))
		}
		// With a small bound, the split still does not matter, and
		// nothing past the bounds is kept.
		const max = 8
		s1, r1 := sseRun(t, max, in, nil)
		_, r2 := sseRun(t, max, in, split)
		if !slices.Equal(sseSortErrors(r1.out), sseSortErrors(r2.out)) {
			t.Fatalf("bound %d, split %v:\n got %q\nwant %q", max, split, r2.out, r1.out)
		}
		if len(s1.data) > max || len(s1.val) > max || len(s1.id) > max || len(s1.evType) > max {
			t.Fatalf("kept %d, %d, %d, %d bytes with a bound of %d", len(s1.data), len(s1.val), len(s1.id), len(s1.evType), max)
		}
	})
}

// sseSortErrors sorts each run of errors between events: a line too long
// and a byte that is not UTF-8 in one line are found in an order that
// depends on where the pieces were cut.
func sseSortErrors(out []string) []string {
	out = append([]string(nil), out...)
	for i := 0; i < len(out); {
		j := i
		for j < len(out) && strings.HasPrefix(out[j], "error ") {
			j++
		}
		slices.Sort(out[i:j])
		i = max(j, i+1)
	}
	return out
}

// sseBenchStream is a price feed: the shape of a typical SSE body.
func sseBenchStream(events int) []byte {
	var b bytes.Buffer
	for i := range events {
		fmt.Fprintf(&b, "event: price\nid: %d\ndata: {\"sym\":\"ABC\",\"price\":%d.25,\"seq\":%d}\n\n", i, 100+i%50, i)
		if i%16 == 0 {
			b.WriteString(": keep-alive\n\n")
		}
	}
	return b.Bytes()
}

type sseCount struct{ events, errs int }

func (c *sseCount) sseEvent(*SSEEvent) { c.events++ }
func (c *sseCount) sseError(error)     { c.errs++ }

func BenchmarkSSE(b *testing.B) {
	const events = 4096
	in := sseBenchStream(events)
	c := &sseCount{}
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		s := newSSEStream(DefaultMaxBody, c)
		for p := in; len(p) > 0; {
			k := min(len(p), 1460) // a TCP segment's worth at a time
			s.feed(p[:k])
			p = p[k:]
		}
		s.end()
	}
	if c.events != b.N*events || c.errs != 0 {
		b.Fatalf("%d events, %d errors for %d runs", c.events, c.errs, b.N)
	}
	b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
}

// TestSSEAllocs: parsing events allocates nothing once the buffers have
// grown, whatever the chunking.
func TestSSEAllocs(t *testing.T) {
	in := sseBenchStream(64)
	c := &sseCount{}
	s := newSSEStream(DefaultMaxBody, c)
	s.feed(in)
	allocs := testing.AllocsPerRun(20, func() {
		for p := in; len(p) > 0; {
			k := min(len(p), 100)
			s.feed(p[:k])
			p = p[k:]
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per %d events", allocs, 64)
	}
}
