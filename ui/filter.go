package ui

import (
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/filter"
)

// This file is the dashboard's filter (the / key): an expression of the
// filter language (package filter, the same as --filter, view --filter and
// export --filter), judged over the events the dashboard holds with
// everything known of their connection, exchange and message (a
// filter.Index), as it grows. A connection is shown when one of its events
// matches (frames included); in it, the rows that match: an exchange when
// its request or its response matches, a message, an error, an event.
//
// It stays incremental on live traffic: each new event is added to the
// index and judged once. What an event is judged with can change after
// it (the upgrade that makes a connection ~websocket comes after its
// request; a response after its request; a message after its frames):
// a connection is judged anew, all its events, only when the index's Gen
// of it changes, which a connection's evidence allows a few times in its
// life; a request is judged again until its exchange's final response;
// frames again when their message comes. The index keeps 16 bytes per
// event; it is rebuilt from the events the store holds once those it
// dropped outnumber them, so it is bounded as the store is.
//
// A word alone means ~u, as in mitmproxy and everywhere else the language
// is used (issue 14): "/api/" keeps the exchanges whose URL has /api/.

// viewFilter is the filter the dashboard applies: an expression and its
// index over the events from base on.
type viewFilter struct {
	expr *filter.Filter
	idx  *filter.Index
	base int
	at   func(i int) *capture.Event
}

// newViewFilter returns the filter for what the user typed: nil for
// nothing (no filter), or the parse error, a *filter.Error that says
// where. Its index starts at event from.
func newViewFilter(src string, at func(int) *capture.Event, from int) (*viewFilter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, nil
	}
	f, err := filter.Parse(src)
	if err != nil {
		return nil, err
	}
	v := &viewFilter{expr: f, at: at}
	v.restart(from)
	return v, nil
}

// restart empties the index: its next event is from.
func (v *viewFilter) restart(from int) {
	v.idx, v.base = v.expr.NewIndex(from, v.at), from
}

// add adds event i. When i does not follow the last event added (events
// were dropped before they were applied), the index restarts at i and add
// reports false: what the dropped events said is lost, and every
// connection must be judged anew.
func (v *viewFilter) add(i int, ev *capture.Event) bool {
	ok := true
	if i != v.idx.Len() {
		v.restart(i)
		ok = false
	}
	v.idx.Add(ev)
	return ok
}

// match reports whether event i matches (false for -1).
func (v *viewFilter) match(i int) bool { return i >= 0 && v.idx.Match(i) }

// source is what the user typed, for the prompt to edit.
func (v *viewFilter) source() string { return v.expr.Source() }

// String describes the filter for the status line.
func (v *viewFilter) String() string { return v.expr.Source() }

// maxFrameWait bounds the frames of a direction a connection remembers
// until their message comes, to judge them with it.
const maxFrameWait = 16

// filterMarks is what a connection keeps for the filter.
type filterMarks struct {
	gen     uint64   // the index's Gen of the connection when last judged
	judged  uint64   // counts the times it was judged anew; views rescan when it changes
	stale   bool     // to be judged anew (listed in state.stale)
	frameAt [4][]int // per direction and class (data, control), frames awaiting their message
}

// judge takes in event i of c, just applied, under the filter.
func (s *state) judge(c *conn, i int, ev *capture.Event) {
	f := s.filter
	if !f.add(i, ev) {
		s.staleAll()
	}
	if g := f.idx.Gen(i); g != c.fm.gen {
		c.fm.gen = g
		s.markStale(c)
	}
	if c.fm.stale {
		return // judged anew when the batch is applied
	}
	switch ev.Kind {
	case capture.KindRequest, capture.KindResponse:
		if x := c.exchangeOf(ev.Seq, false); x != nil {
			x.matched = f.match(x.req) || f.match(x.resp)
		}
	case capture.KindFrame:
		d := &c.fm.frameAt[frameClass(ev)]
		if len(*d) < maxFrameWait {
			*d = append(*d, i)
		}
	case capture.KindMessage:
		d := &c.fm.frameAt[frameClass(ev)]
		for _, k := range *d {
			c.matched = c.matched || f.match(k)
		}
		*d = (*d)[:0]
	}
	c.matched = c.matched || f.match(i)
}

// frameClass is where a frame or message waits in filterMarks.frameAt: by
// direction, and data apart from control (a control message comes between
// the frames of a data message).
func frameClass(ev *capture.Event) int {
	k := 0
	if ev.From == "server" {
		k = 2
	}
	if ev.Kind == capture.KindFrame && ev.Opcode >= 8 || ev.Kind == capture.KindMessage && (ev.Op == "ping" || ev.Op == "pong" || ev.Op == "close") {
		k++
	}
	return k
}

func (s *state) markStale(c *conn) {
	if !c.fm.stale {
		c.fm.stale = true
		s.stale = append(s.stale, c)
	}
}

func (s *state) staleAll() {
	for _, c := range s.conns {
		s.markStale(c)
	}
}

// settle judges anew the connections whose context changed, once the
// events of a refresh are applied: every event of theirs.
func (s *state) settle(st *Store) {
	for _, c := range s.stale {
		c.fm.stale = false
		if s.filter != nil {
			s.rejudge(c, st)
		}
	}
	clear(s.stale)
	s.stale = s.stale[:0]
}

// rejudge judges every event of c the store holds.
func (s *state) rejudge(c *conn, st *Store) {
	f := s.filter
	c.fm.judged++
	c.fm.frameAt = [4][]int{}
	c.matched = false
	for _, x := range c.xs {
		x.matched = f.match(x.req) || f.match(x.resp)
		c.matched = c.matched || x.matched
	}
	for _, i := range c.all {
		if c.matched {
			break
		}
		c.matched = f.match(i)
	}
	if len(c.all) > 0 {
		c.fm.gen = f.idx.Gen(c.all[len(c.all)-1])
	}
}

// setFilter applies f (nil: no filter) to every connection, with an index
// of the events the store holds, from base to the last applied.
func (s *state) setFilter(f *viewFilter, st *Store) {
	s.filter = f
	if f != nil {
		f.restart(st.Base())
		for i := f.base; i < s.applied; i++ {
			if ev := st.At(i); ev != nil {
				f.add(i, ev)
			}
		}
	}
	for _, c := range s.conns {
		c.matched = false
		c.fm.frameAt = [4][]int{}
		for _, x := range c.xs {
			x.matched = false
		}
		if f != nil {
			s.markStale(c)
		} else {
			c.fm.judged++
		}
	}
	s.settle(st)
}

// trimFilter rebuilds the index from the events the store holds (from
// base) once the events before base outnumber them: the index is then
// bounded as the store is, and rebuilding costs, amortised, one event per
// event dropped.
func (s *state) trimFilter(base int, st *Store) {
	if f := s.filter; f != nil && base-f.base > s.applied-base {
		s.setFilter(f, st)
	}
}

// matchRow reports whether the filter (which is set) shows row r of c.
func (s *state) matchRow(r xrow) bool {
	if r.ex != nil {
		return r.ex.matched
	}
	return s.filter.match(r.ev)
}

// headerValues returns the values of the fields named name.
func headerValues(hs []capture.Header, name string) []string {
	var vs []string
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			vs = append(vs, h[1])
		}
	}
	return vs
}
