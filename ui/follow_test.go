package ui

import (
	"testing"

	"github.com/frametap/frametap/capture"
)

// Selecting a connection whose timeline the filter leaves empty does not
// turn follow off: the next connection to match is followed (the demo's
// tmux test, under the race detector, filtered "websocket" before the
// newest WebSocket connection came, and stayed on an older one).
func TestFollowSurvivesAnEmptyTimeline(t *testing.T) {
	u := newTestUI(t, Config{}, fixture())
	u.applyFilter("~websocket !~q !~s !~wq !~ws !~e") // #2's events that are no row of its exchanges view
	if len(u.connView) != 1 || u.tlConn == nil || u.tlConn.id != 2 || u.rowCount() != 0 {
		t.Fatalf("the filter shows %d connections, the timeline of %v with %d rows; want #2 with none", len(u.connView), u.tlConn, u.rowCount())
	}
	if !u.follow {
		t.Fatal("follow turned off by selecting a connection with an empty timeline")
	}
	st := u.store.Stream()
	for _, ev := range []capture.Event{
		{Kind: capture.KindOpen, Conn: 3, Time: at(1500), Client: "127.0.0.1:50400", Mode: "regular"},
		{Kind: capture.KindUpgrade, Conn: 3, Time: at(1501), Seq: 1, Protocol: "websocket"},
	} {
		st.Add(&ev)
	}
	st.Flush()
	u.refresh()
	if u.tlConn == nil || u.tlConn.id != 3 {
		t.Errorf("follow did not select the new matching connection #3: the timeline shows %v", u.tlConn)
	}
}
