package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
)

// TestE2ESocketIO runs a real Socket.IO 4 server and client (Node, npm
// packages in decode/testdata/node, the peers of decode's own Socket.IO
// test, installed by .ci/run) through the built
// frametap, in reverse and regular mode (the client's connections are
// CONNECT tunnels then), and checks the capture's eio events against what
// both peers logged, in order and per direction: events with their
// arguments (binary attachments put back in place of their placeholders),
// acks, namespaces, connects and disconnects; the sid that ties each
// session's polling requests and its WebSocket; the upgrade probe, then
// the upgrade. The first session uses the default transports (long-polling,
// then the upgrade to WebSocket); the second is polling only, so that its
// binary attachments travel as base64.
func TestE2ESocketIO(t *testing.T) {
	requireE2E(t)
	dir, err := filepath.Abs(filepath.Join("..", "..", "decode", "testdata", "node"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("Socket.IO peers missing (npm ci --prefix decode/testdata/node): %v", err)
	}
	for _, mode := range modes {
		t.Run(mode, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			srv := exec.CommandContext(ctx, "node", "server.js")
			srv.Dir = dir
			srv.Stderr = os.Stderr
			stdin, err := srv.StdinPipe()
			if err != nil {
				t.Fatal(err)
			}
			stdout, err := srv.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Process.Kill()
			lines := bufio.NewScanner(stdout)
			if !lines.Scan() {
				t.Fatalf("server said nothing: %v", lines.Err())
			}
			var hello struct{ Port int }
			if err := json.Unmarshal(lines.Bytes(), &hello); err != nil || hello.Port == 0 {
				t.Fatalf("server's first line %q: %v", lines.Bytes(), err)
			}
			var srvLog []sioLog
			srvDone := make(chan struct{})
			go func() {
				defer close(srvDone)
				for lines.Scan() {
					srvLog = append(srvLog, parseSIOLog(t, lines.Bytes()))
				}
			}()

			serverAddr := fmt.Sprintf("127.0.0.1:%d", hello.Port)
			tp := startTap(t, tapMode(mode, serverAddr))
			args := []string{"client.js", strings.TrimPrefix(tp.addr, "127.0.0.1:")}
			if mode == "regular" {
				args = []string{"client.js", fmt.Sprint(hello.Port), tp.addr}
			}
			cl := exec.CommandContext(ctx, "node", args...)
			cl.Dir = dir
			cl.Stderr = os.Stderr
			out, err := cl.Output()
			if err != nil {
				t.Fatalf("client: %v\n%s", err, out)
			}
			var clLog []sioLog
			for l := range bytes.Lines(out) {
				clLog = append(clLog, parseSIOLog(t, l))
			}
			stdin.Close()
			<-srvDone
			srv.Wait()
			evs := tp.stop()
			for _, ev := range evs {
				if ev.Kind == capture.KindError && ev.Conn != 0 {
					t.Errorf("error event: conn %d %s: %s", ev.Conn, ev.From, ev.Msg)
				}
			}
			sessions := sioSessions(t, evs)
			if len(sessions) != 2 {
				t.Fatalf("%d sessions in the capture, want 2 (one upgraded, one polling only)", len(sessions))
			}
			for sid, s := range sessions {
				t.Run(sid, func(t *testing.T) {
					checkSIOSession(t, sid, s, filterSIOLog(srvLog, sid), filterSIOLog(clLog, sid))
				})
			}
		})
	}
}

// sioLog is one line a Node peer logged (decode/testdata/node/common.js).
type sioLog struct {
	Engine, SID, Transport, Connect, Disconnect, Reason, Nsp string
	Recv, Sent, AckRecv, AckSent, Upgraded, Connected        string
	Args                                                     json.RawMessage
	Ack                                                      bool
	Fail                                                     string
}

func parseSIOLog(t *testing.T, line []byte) sioLog {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(line, &raw); err != nil {
		t.Errorf("peer log line %q: %v", line, err)
		return sioLog{}
	}
	str := func(k string) string {
		var s string
		json.Unmarshal(raw[k], &s)
		return s
	}
	l := sioLog{Engine: str("engine"), SID: str("sid"), Transport: str("transport"), Connect: str("connect"),
		Disconnect: str("disconnect"), Reason: str("reason"), Nsp: str("nsp"), Recv: str("recv"), Sent: str("sent"),
		AckRecv: str("ack_recv"), AckSent: str("ack_sent"), Upgraded: str("upgraded"), Connected: str("connected"),
		Args: raw["args"], Fail: str("fail")}
	json.Unmarshal(raw["ack"], &l.Ack)
	if l.Fail != "" {
		t.Errorf("peer failed: %s", l.Fail)
	}
	return l
}

func filterSIOLog(logs []sioLog, sid string) (out []sioLog) {
	for _, l := range logs {
		if l.SID == sid {
			out = append(out, l)
		}
	}
	return out
}

// sioSession is what the capture says of one Engine.IO session: its
// packets in a few words, and its Socket.IO packets, per side.
type sioSession struct {
	open    string         // the sid the open packet named
	eio     [2][]string    // "transport type text" per packet; 0 client, 1 server
	sio     [2][]sioPacket // complete Socket.IO packets, attachments in place
	pending [2]*sioPacket  // a binary packet waiting for its attachments
}

// sioPacket is a Socket.IO packet of the capture with its attachments put
// back in place of their placeholders, as {"$bin": base64}, the way the
// peers log them.
type sioPacket struct {
	typ, nsp, event string
	hasAck          bool
	args            any
	attachments     [][]byte
	want            int
}

// sioSessions reads the capture's eio events by sid, in capture order.
func sioSessions(t *testing.T, evs []capture.Event) map[string]*sioSession {
	sessions := map[string]*sioSession{}
	for _, ev := range evs {
		if ev.Kind != capture.KindEIO {
			continue
		}
		x := ev.EIO
		if x.SID == "" {
			t.Errorf("eio event without a sid: %+v", x)
			continue
		}
		s := sessions[x.SID]
		if s == nil {
			s = &sioSession{}
			sessions[x.SID] = s
		}
		side := 0
		if ev.From == "server" {
			side = 1
		}
		text := string(ev.Payload)
		if x.Binary {
			text = base64.StdEncoding.EncodeToString(ev.Payload)
		}
		if x.Type == "open" {
			var h struct{ SID string }
			json.Unmarshal(ev.Payload, &h)
			s.open = h.SID
		}
		s.eio[side] = append(s.eio[side], strings.TrimSpace(x.Transport+" "+x.Type+" "+text))
		switch {
		case x.Type != "message":
		case x.Binary:
			d := s.pending[side]
			if d == nil || x.Attachment != len(d.attachments)+1 {
				t.Errorf("%s: attachment %d with no binary packet owed it", ev.From, x.Attachment)
				continue
			}
			d.attachments = append(d.attachments, bytes.Clone(ev.Payload))
			if len(d.attachments) == d.want {
				d.args = sioFill(d.args, d.attachments)
				s.sio[side] = append(s.sio[side], *d)
				s.pending[side] = nil
			}
		default:
			d := &sioPacket{typ: x.SIOType, nsp: x.Nsp, event: x.Event, hasAck: x.HasAck, want: x.Attachments}
			if x.Args != nil {
				if err := json.Unmarshal(x.Args, &d.args); err != nil {
					t.Errorf("args %s: %v", x.Args, err)
				}
			}
			if d.want > 0 {
				s.pending[side] = d
				continue
			}
			s.sio[side] = append(s.sio[side], *d)
		}
	}
	return sessions
}

// sioFill puts each attachment in the place of its placeholder.
func sioFill(v any, att [][]byte) any {
	switch v := v.(type) {
	case []any:
		for i := range v {
			v[i] = sioFill(v[i], att)
		}
	case map[string]any:
		if v["_placeholder"] == true {
			num, _ := v["num"].(float64)
			if int(num) < len(att) {
				return map[string]any{"$bin": base64.StdEncoding.EncodeToString(att[int(num)])}
			}
		}
		for k := range v {
			v[k] = sioFill(v[k], att)
		}
	}
	return v
}

// canon re-encodes JSON so that equal values compare equal as strings.
func canon(t *testing.T, v any) string {
	if raw, ok := v.(json.RawMessage); ok {
		if raw == nil {
			return "null"
		}
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkSIOSession(t *testing.T, sid string, s *sioSession, srvLog, clLog []sioLog) {
	if s.open != sid {
		t.Errorf("open packet sid %q", s.open)
	}
	upgraded := false
	for _, l := range srvLog {
		upgraded = upgraded || l.Engine == "upgrade" && l.Transport == "websocket"
	}
	t.Logf("client packets: %q", s.eio[0])
	t.Logf("server packets: %q", s.eio[1])
	if upgraded {
		// engine.io-protocol v4, "Upgrade": 2probe, 3probe, then 5.
		want := []string{"websocket ping probe", "websocket upgrade"}
		if got := sioFirstWS(s.eio[0], 2); !slices.Equal(got, want) {
			t.Errorf("client's first WebSocket packets %q, want %q", got, want)
		}
		if got := sioFirstWS(s.eio[1], 1); !slices.Equal(got, []string{"websocket pong probe"}) {
			t.Errorf("server's first WebSocket packet %q, want the probe's pong", got)
		}
	} else if got := sioFirstWS(s.eio[0], 1); len(got) > 0 {
		t.Errorf("polling-only session sent %q over a WebSocket", got)
	}
	if len(s.eio[0]) == 0 || s.eio[0][0] != "polling message" {
		t.Errorf("client's first packets %q, want the CONNECT over polling first", s.eio[0])
	}

	type item struct{ what, nsp, name, args string }
	decoded := func(side int) (events, acks, connects, disconnects []item) {
		for _, d := range s.sio[side] {
			switch d.typ {
			case "EVENT", "BINARY_EVENT":
				events = append(events, item{fmt.Sprint(d.hasAck), d.nsp, d.event, canon(t, d.args)})
			case "ACK", "BINARY_ACK":
				acks = append(acks, item{"", d.nsp, "", canon(t, d.args)})
			case "CONNECT":
				connects = append(connects, item{"", d.nsp, "", ""})
			case "DISCONNECT":
				disconnects = append(disconnects, item{"", d.nsp, "", ""})
			}
		}
		return
	}
	logged := func(logs []sioLog, sent bool) (events, acks, connects, disconnects []item) {
		for _, l := range logs {
			switch {
			case sent && l.Sent != "", !sent && l.Recv != "":
				events = append(events, item{fmt.Sprint(l.Ack), l.Nsp, l.Sent + l.Recv, canon(t, l.Args)})
			case sent && l.AckSent != "":
				acks = append(acks, item{"", l.AckSent, "", canon(t, l.Args)})
			case !sent && l.AckRecv != "":
				acks = append(acks, item{"", l.AckRecv, "", canon(t, l.Args)})
			case l.Connect != "":
				connects = append(connects, item{"", l.Connect, "", ""})
			case l.Disconnect != "" && (l.Reason == "" || l.Reason == "client namespace disconnect"):
				disconnects = append(disconnects, item{"", l.Disconnect, "", ""})
			}
		}
		return
	}
	same := func(what string, got, want []item) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s:\n captured %v\n   logged %v", what, got, want)
		}
	}
	ce, ca, cc, cd := decoded(0)
	re, ra, rc, rd := logged(srvLog, false)
	same("client events, as the server received them", ce, re)
	same("client acks, as the server received them", ca, ra)
	same("client connects, as the server received them", cc, rc)
	same("client disconnects, as the server received them", cd, rd)
	se, sa, _, sd := logged(clLog, true)
	same("client events, as the client sent them", ce, se)
	same("client acks, as the client sent them", ca, sa)
	same("client disconnects, as the client made them", cd, sd)

	ve, va, vc, _ := decoded(1)
	we, wa, _, _ := logged(clLog, false)
	same("server events, as the client received them", ve, we)
	same("server acks, as the client received them", va, wa)
	xe, xa, _, _ := logged(srvLog, true)
	same("server events, as the server sent them", ve, xe)
	same("server acks, as the server sent them", va, xa)
	same("server's answers to connects", vc, rc)

	binary := 0
	for side := range s.sio {
		for _, d := range s.sio[side] {
			binary += len(d.attachments)
		}
		if s.pending[side] != nil {
			t.Errorf("side %d: a binary packet's attachments never came", side)
		}
	}
	if binary == 0 {
		t.Errorf("no binary attachments captured")
	}
}

// sioFirstWS is the first n WebSocket packets of a side.
func sioFirstWS(pks []string, n int) (out []string) {
	for _, p := range pks {
		if strings.HasPrefix(p, "websocket ") && len(out) < n {
			out = append(out, p)
		}
	}
	return out
}
