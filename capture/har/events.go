package har

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// Summary says what Events made of a HAR.
type Summary struct {
	Entries  int // entries shown
	Conns    int // connections they were grouped into
	Messages int // WebSocket messages shown
	Skipped  int // entries and messages left out (see Note)
	// Note is the text of the note event: what the HAR held, how its
	// entries were grouped, and what a HAR cannot tell.
	Note string
}

// Mode is the "mode" of the open events Events makes: the connections
// come from a HAR file, not from a proxy.
const Mode = "har"

// NoClient is the "client" of the open events Events makes: a HAR does not
// say where its requests came from.
const NoClient = "(not in HAR)"

// group is the entries of one connection.
type group struct {
	key     string
	id      uint64
	entries []int // indices into File.Entries, in the order they started
	start   time.Time
}

// Events turns a HAR into capture events, in the order a capture would
// have them, for the dashboard and the headless printer; name is the
// file's name for the note. The first event is the note: an error event
// on connection 0 (where a capture's gap events go) that says what the
// HAR held and what a HAR cannot tell.
//
// Entries are grouped into connections by _connectionId (Chrome,
// frametap); by connection when the HAR is an older Chrome's, which wrote
// the connection id there (current Chrome and Firefox write the server's
// port, which many connections share); and otherwise each entry is a
// connection of its own. An entry's seq is its _seq (frametap), else its
// place on its connection. An entry with a date that does not parse, or a
// message Chrome's importer would skip (no time, opcode or data, or a type
// other than send, receive or error), is left out and counted in the note.
func (f *File) Events(name string) ([]*capture.Event, Summary) {
	var sum Summary
	var skippedEntries, skippedMsgs int
	starts := make([]time.Time, len(f.Entries))
	hasConnID := false
	for i := range f.Entries {
		if id := f.Entries[i].ConnectionID; id.Set && id.V != "" && id.V != "0" {
			hasConnID = true
		}
		t, err := parseDate(f.Entries[i].StartedDateTime)
		if err != nil {
			starts[i] = time.Time{}
			continue
		}
		starts[i] = t
	}
	oldChrome := !hasConnID && f.Creator.Name == "WebInspector"

	// Group the entries into connections.
	groups := map[string]*group{}
	var order []*group
	idx := make([]int, 0, len(f.Entries))
	for i := range f.Entries {
		if starts[i].IsZero() {
			skippedEntries++
			continue
		}
		idx = append(idx, i)
	}
	slices.SortStableFunc(idx, func(a, b int) int { return starts[a].Compare(starts[b]) })
	for _, i := range idx {
		e := &f.Entries[i]
		key := "entry:" + strconv.Itoa(i)
		switch {
		case e.ConnectionID.Set && e.ConnectionID.V != "" && e.ConnectionID.V != "0":
			key = "id:" + e.ConnectionID.V
		case oldChrome && e.Connection.Set && e.Connection.V != "":
			key = "id:" + e.Connection.V
		}
		g := groups[key]
		if g == nil {
			g = &group{key: key, start: starts[i]}
			groups[key] = g
			order = append(order, g)
		}
		g.entries = append(g.entries, i)
	}
	// Connection ids: a numeric _connectionId is kept (so a HAR frametap
	// wrote shows its connections under their numbers), others counted
	// on from the largest.
	used := map[uint64]bool{}
	for _, g := range order {
		if n, err := strconv.ParseUint(strings.TrimPrefix(g.key, "id:"), 10, 64); err == nil && strings.HasPrefix(g.key, "id:") && n > 0 && !used[n] {
			g.id = n
			used[n] = true
		}
	}
	next := uint64(0)
	for n := range used {
		next = max(next, n)
	}
	for _, g := range order {
		if g.id == 0 {
			next++
			g.id = next
		}
	}

	var evs []*capture.Event
	for _, g := range order {
		cb := connBuilder{f: f, g: g, starts: starts, connIsPort: !oldChrome}
		cb.build()
		evs = append(evs, cb.evs...)
		skippedMsgs += cb.skipped
		sum.Messages += cb.messages
		sum.Entries += len(g.entries)
	}
	sum.Conns = len(order)
	sum.Skipped = skippedEntries + skippedMsgs
	// Connections interleave by time; each one's events stay in order
	// (their times never go back).
	slices.SortStableFunc(evs, func(a, b *capture.Event) int { return a.Time.Compare(b.Time) })

	sum.Note = f.note(name, sum, hasConnID, oldChrome, skippedEntries, skippedMsgs)
	noteAt := time.Time{}
	if len(evs) > 0 {
		noteAt = evs[0].Time
	}
	return append([]*capture.Event{{Kind: capture.KindError, Time: noteAt, Msg: sum.Note}}, evs...), sum
}

// note says what the HAR held and what it cannot tell.
func (f *File) note(name string, sum Summary, hasConnID, oldChrome bool, skippedEntries, skippedMsgs int) string {
	writer := strings.TrimSpace(f.Creator.Name + " " + f.Creator.Version)
	if writer == "" {
		writer = "an unnamed writer"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "HAR file %s, written by %s: %s", name, writer, plural(sum.Entries, "entry", "entries"))
	if sum.Messages > 0 {
		fmt.Fprintf(&b, " and %s", plural(sum.Messages, "WebSocket message", "WebSocket messages"))
	}
	fmt.Fprintf(&b, ", shown as %s", plural(sum.Conns, "connection", "connections"))
	switch {
	case hasConnID:
		b.WriteString(" (grouped by _connectionId; entries without one are a connection each)")
	case oldChrome:
		b.WriteString(" (grouped by connection, where this older Chrome wrote its connection id)")
	default:
		b.WriteString(" (one per entry: this HAR has no _connectionId, and its connection field, a port, does not tell connections apart)")
	}
	if skippedEntries > 0 {
		fmt.Fprintf(&b, "; %s left out: no startedDateTime that parses", plural(skippedEntries, "entry", "entries"))
	}
	if skippedMsgs > 0 {
		fmt.Fprintf(&b, "; %s left out: no time, opcode or data, or a type other than send, receive or error (Chrome's importer skips them too)", plural(skippedMsgs, "WebSocket message", "WebSocket messages"))
	}
	b.WriteString(". A HAR cannot tell what a capture does: the WebSocket frames (messages show 0 frames unless frametap wrote the HAR), the TCP connections beyond connection ids, each exchange's place on its connection (seq counts entries unless the HAR has _seq), the bytes on the wire (close events say 0), when connections opened and closed (the first and last entry's times stand in), and the exact bodies (browsers write them decoded, after Content-Encoding, and may leave them out).")
	return b.String()
}

// plural returns n and the noun that agrees with it: "1 entry", "2 entries".
func plural[N int | int64](n N, one, many string) string {
	return strconv.FormatInt(int64(n), 10) + " " + agree(n, one, many)
}

// agree returns one when n is 1, else many.
func agree[N int | int64](n N, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
