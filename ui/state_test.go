package ui

import (
	"strings"
	"testing"
)

func TestApplyConnections(t *testing.T) {
	st := NewStore(0)
	feed(st, fixture())
	s := newState()
	evs, first := st.Since(0)
	for k, ev := range evs {
		s.apply(first+k, ev)
	}
	if got, want := len(s.conns), 2; got != want {
		t.Fatalf("conns: got %d, want %d", got, want)
	}
	now := at(2000)
	for _, tc := range []struct {
		c    *conn
		want []string
	}{
		// An open HTTP connection with every request answered is idle
		// (issue 13: its STATE read "http").
		{s.byID[1], []string{"#1", "127.0.0.1:50312", "api.test", "http", "idle", "3", "0↑ 0↓", "", "2s"}},
		{s.byID[2], []string{"#2", "127.0.0.1:50314", "chat.test", "ws", "closed", "1", "3↑ 2↓", "629 B↑ 518 B↓", "1s"}},
	} {
		for col, want := range tc.want {
			if want == "" {
				continue
			}
			if got := connCell(tc.c, col, now); got != want {
				t.Errorf("conn #%d column %s: got %q, want %q", tc.c.id, connHeader[col], got, want)
			}
		}
	}
	if got := connCell(s.byID[1], 7, now); !strings.HasPrefix(got, "~") {
		t.Errorf("open connection's bytes %q should be marked as an estimate", got)
	}
	if got, want := s.open, 1; got != want {
		t.Errorf("open: got %d, want %d", got, want)
	}
	// Frames are not timeline rows: #2 has 19 events, 13 rows.
	if got, want := len(s.byID[2].rows), 13; got != want {
		t.Errorf("#2 rows: got %d, want %d", got, want)
	}
}

func TestSummary(t *testing.T) {
	st := NewStore(0)
	feed(st, fixture())
	s := newState()
	evs, _ := st.Since(0)
	for k, ev := range evs {
		s.apply(k, ev)
	}
	for _, tc := range []struct {
		id   uint64
		want []string
	}{
		{1, []string{
			"3 requests on 1 TCP connection, one at a time (keep-alive)",
			"overhead: HTTP headers 3",
		}},
		{2, []string{
			"CONNECT tunnel to chat.test: 1 request on 1 TCP connection, then upgraded to WebSocket",
			"WebSocket: 2 messages pushed by the server, 1 sent by the client (+2 control: ping/pong/close)",
			"WS frame headers 28 B · payload 43 B",
			"1 error",
		}},
	} {
		got := strings.Join(s.byID[tc.id].summary(), "\n")
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("#%d summary lacks %q:\n%s", tc.id, w, got)
			}
		}
	}
	// A tunnel with nothing decoded yet shows as a tunnel.
	s2 := newState()
	for i, ev := range evs[7:10] {
		s2.apply(i, ev)
	}
	if got := s2.byID[2].state; got != stateTunnel {
		t.Errorf("after CONNECT's 200: state %q, want %q", got, stateTunnel)
	}
}

func TestFrameHeaderLen(t *testing.T) {
	for _, tc := range []struct {
		n      int64
		masked bool
		want   int64
	}{
		{0, false, 2}, {125, false, 2}, {126, false, 4}, {65535, true, 8}, {65536, false, 10}, {65536, true, 14},
	} {
		if got := frameHeaderLen(tc.n, tc.masked); got != tc.want {
			t.Errorf("frameHeaderLen(%d, %v): got %d, want %d", tc.n, tc.masked, got, tc.want)
		}
	}
}
