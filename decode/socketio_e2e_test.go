package decode

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSocketIOE2E runs a real Socket.IO 4 server and client (Node, npm
// packages in testdata/node) through a plain TCP tee on loopback that feeds
// both directions of every connection to a Conn, then decodes the polling
// bodies and WebSocket messages with the Engine.IO and Socket.IO decoders
// and checks them against what both peers logged: events with their
// arguments (binary ones too), acks, namespaces, disconnects, the session
// id that ties the polling requests and the WebSocket, and the upgrade.
func TestSocketIOE2E(t *testing.T) {
	if os.Getenv("FRAMETAP_E2E") != "1" {
		t.Skip("FRAMETAP_E2E=1 runs the real-peer tests")
	}
	dir := filepath.Join("testdata", "node")
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("Socket.IO peers missing (npm ci --prefix decode/testdata/node): %v", err)
	}
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

	tee := startSIOTee(t, fmt.Sprintf("127.0.0.1:%d", hello.Port))
	cl := exec.CommandContext(ctx, "node", "client.js", fmt.Sprint(tee.port()))
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
	recs := tee.stop()

	sessions := decodeSIOTrace(t, recs)
	if len(sessions) != 2 {
		t.Fatalf("%d sessions decoded, want 2 (one upgraded, one polling only)", len(sessions))
	}
	for sid, s := range sessions {
		t.Run(sid, func(t *testing.T) {
			checkSIOSession(t, sid, s, filterSIOLog(srvLog, sid), filterSIOLog(clLog, sid))
		})
	}
}

// sioLog is one line a Node peer logged (testdata/node/common.js).
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
		t.Fatalf("peer log line %q: %v", line, err)
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
		t.Fatalf("peer failed: %s", l.Fail)
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

// sioRecord is one thing a Conn decoded, in the order the tee fed it.
type sioRecord struct {
	conn    int
	kind    string // request, response, upgrade, message, error
	side    Side
	seq     int
	method  string
	target  string
	status  int
	opcode  uint8
	payload []byte
	err     error
}

// sioTee relays loopback TCP connections to a server and feeds both
// directions of each to its own Conn, all under one lock, so that records
// are in the order the bytes went through.
type sioTee struct {
	t    *testing.T
	ln   net.Listener
	to   string
	mu   sync.Mutex
	recs []sioRecord
	wg   sync.WaitGroup
}

func startSIOTee(t *testing.T, to string) *sioTee {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tee := &sioTee{t: t, ln: ln, to: to}
	tee.wg.Add(1)
	go tee.accept()
	return tee
}

func (tee *sioTee) port() int { return tee.ln.Addr().(*net.TCPAddr).Port }

func (tee *sioTee) accept() {
	defer tee.wg.Done()
	for n := 1; ; n++ {
		c, err := tee.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp", tee.to)
		if err != nil {
			tee.t.Errorf("dial the server: %v", err)
			c.Close()
			continue
		}
		dc := NewConn(Config{}, &sioTeeHandler{tee: tee, conn: n})
		tee.wg.Add(2)
		go tee.copy(dc, Client, up.(*net.TCPConn), c.(*net.TCPConn))
		go tee.copy(dc, Server, c.(*net.TCPConn), up.(*net.TCPConn))
	}
}

func (tee *sioTee) copy(dc *Conn, from Side, dst, src *net.TCPConn) {
	defer tee.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			tee.mu.Lock()
			dc.Feed(from, buf[:n])
			tee.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	tee.mu.Lock()
	dc.End(from)
	tee.mu.Unlock()
	dst.CloseWrite()
	src.CloseRead()
}

func (tee *sioTee) stop() []sioRecord {
	tee.ln.Close()
	tee.wg.Wait()
	return tee.recs
}

type sioTeeHandler struct {
	tee  *sioTee
	conn int
}

func (h *sioTeeHandler) add(r sioRecord) {
	r.conn = h.conn
	h.tee.recs = append(h.tee.recs, r)
}

func (h *sioTeeHandler) Request(r *Request) {
	h.add(sioRecord{kind: "request", side: Client, seq: r.Seq, method: r.Method, target: r.Target, payload: bytes.Clone(r.Body)})
}
func (h *sioTeeHandler) Response(r *Response) {
	h.add(sioRecord{kind: "response", side: Server, seq: r.Seq, status: r.Status, payload: bytes.Clone(r.Body)})
}
func (h *sioTeeHandler) Upgrade(u *Upgrade) { h.add(sioRecord{kind: "upgrade", seq: u.Seq}) }
func (h *sioTeeHandler) Frame(Side, *Frame) {}
func (h *sioTeeHandler) Message(s Side, m *Message) {
	h.add(sioRecord{kind: "message", side: s, opcode: m.Opcode, payload: bytes.Clone(m.Payload)})
}
func (h *sioTeeHandler) Error(s Side, err error) { h.add(sioRecord{kind: "error", side: s, err: err}) }

// sioSession is what was decoded of one Engine.IO session.
type sioSession struct {
	open    EIOHandshake
	eio     [2][]string // "transport type data" per packet, by side
	sio     [2][]sioDecoded
	streams [2]SIOStream
	pending [2]*sioDecoded // a binary packet waiting for its attachments
}

// sioDecoded is a Socket.IO packet with its attachments put back in place
// of their placeholders, as {"$bin": base64}, the way the peers log them.
type sioDecoded struct {
	pk          SIOPacket
	args        any
	attachments [][]byte
}

// decodeSIOTrace decodes the records as frametap will: polling bodies by
// the request's target, WebSocket messages of an upgraded Engine.IO
// request, packets tied to their session by sid.
func decodeSIOTrace(t *testing.T, recs []sioRecord) map[string]*sioSession {
	type key struct{ conn, seq int }
	reqs := map[key]sioRecord{}
	wsSID := map[int]string{} // an upgraded connection's session
	sessions := map[string]*sioSession{}
	session := func(sid string) *sioSession {
		if sessions[sid] == nil {
			sessions[sid] = &sioSession{}
		}
		return sessions[sid]
	}
	for _, r := range recs {
		switch r.kind {
		case "error":
			t.Errorf("conn %d: %s: %v", r.conn, r.side, r.err)
		case "request":
			reqs[key{r.conn, r.seq}] = r
			tg, ok := ParseEIOTarget(r.target, "")
			if !ok || r.method != "POST" {
				continue
			}
			pks, err := ParseEIOPayload(r.payload, tg.EIO)
			if err != nil {
				t.Errorf("POST %s: %v", r.target, err)
			}
			for _, p := range pks {
				session(tg.SID).packet(t, Client, "polling", p)
			}
		case "response":
			q := reqs[key{r.conn, r.seq}]
			tg, ok := ParseEIOTarget(q.target, "")
			if !ok || q.method != "GET" || r.status != 200 {
				continue
			}
			if tg.Transport != "polling" {
				t.Errorf("GET %s answered %d", q.target, r.status)
				continue
			}
			pks, err := ParseEIOPayload(r.payload, tg.EIO)
			if err != nil {
				t.Errorf("GET %s: %v", q.target, err)
			}
			sid := tg.SID
			if sid == "" && len(pks) > 0 && pks[0].Type == EIOOpen {
				h, err := ParseEIOOpen(pks[0].Data)
				if err != nil {
					t.Errorf("open: %v", err)
				}
				sid = h.SID
				session(sid).open = h
			}
			for _, p := range pks {
				session(sid).packet(t, Server, "polling", p)
			}
		case "upgrade":
			q := reqs[key{r.conn, r.seq}]
			tg, ok := ParseEIOTarget(q.target, "")
			if !ok || tg.Transport != "websocket" || tg.SID == "" {
				t.Errorf("upgrade of %s: not an Engine.IO WebSocket of a session", q.target)
				continue
			}
			wsSID[r.conn] = tg.SID
		case "message":
			sid, ok := wsSID[r.conn]
			if !ok || r.opcode > 2 {
				continue
			}
			p, err := ParseEIOMessage(r.payload, r.opcode == 2, 4)
			if err != nil {
				t.Errorf("%s WebSocket message %q: %v", r.side, r.payload, err)
			}
			session(sid).packet(t, r.side, "websocket", p)
		}
	}
	for sid, s := range sessions {
		for side := range s.streams {
			if err := s.streams[side].End(); err != nil {
				t.Errorf("session %s, %s: %v", sid, Side(side), err)
			}
		}
	}
	return sessions
}

func (s *sioSession) packet(t *testing.T, from Side, transport string, p EIOPacket) {
	data := string(p.Data)
	if p.Binary {
		data = base64.StdEncoding.EncodeToString(p.Data)
	}
	s.eio[from] = append(s.eio[from], fmt.Sprintf("%s %s %s", transport, p.Type, data))
	if p.Type != EIOMessage {
		return
	}
	if p.Binary {
		n, of, err := s.streams[from].Binary()
		if err != nil {
			t.Errorf("%s: %v", from, err)
			return
		}
		d := s.pending[from]
		d.attachments = append(d.attachments, bytes.Clone(p.Data))
		if n == of {
			d.args = sioFill(d.args, d.attachments)
			s.sio[from] = append(s.sio[from], *d)
			s.pending[from] = nil
		}
		return
	}
	pk, err := s.streams[from].Text(p.Data)
	if err != nil {
		t.Errorf("%s: Socket.IO packet %q: %v", from, p.Data, err)
	}
	d := &sioDecoded{pk: pk}
	d.pk.Data, d.pk.Args = bytes.Clone(pk.Data), bytes.Clone(pk.Args)
	if pk.Args != nil {
		if err := json.Unmarshal(pk.Args, &d.args); err != nil {
			t.Errorf("args %s: %v", pk.Args, err)
		}
	}
	if pk.Attachments > 0 {
		s.pending[from] = d
		return
	}
	s.sio[from] = append(s.sio[from], *d)
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
			return map[string]any{"$bin": base64.StdEncoding.EncodeToString(att[int(num)])}
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
	if s.open.SID != sid {
		t.Errorf("open packet sid %q", s.open.SID)
	}
	upgraded := false
	for _, l := range srvLog {
		upgraded = upgraded || l.Engine == "upgrade" && l.Transport == "websocket"
	}
	t.Logf("client packets: %q", s.eio[Client])
	t.Logf("server packets: %q", s.eio[Server])
	if upgraded {
		// engine.io-protocol v4, "Upgrade": 2probe, 3probe, then 5.
		want := []string{"websocket ping probe", "websocket upgrade "}
		if got := sioFirstWS(s.eio[Client], 2); !slices.Equal(got, want) {
			t.Errorf("client's first WebSocket packets %q, want %q", got, want)
		}
		if got := sioFirstWS(s.eio[Server], 1); !slices.Equal(got, []string{"websocket pong probe"}) {
			t.Errorf("server's first WebSocket packet %q, want the probe's pong", got)
		}
	} else if got := sioFirstWS(s.eio[Client], 1); len(got) > 0 {
		t.Errorf("polling-only session sent %q over a WebSocket", got)
	}
	if !strings.HasPrefix(s.eio[Client][0], "polling message 0") {
		t.Errorf("client's first packet %q, want the CONNECT over polling", s.eio[Client][0])
	}

	// What each side sent, as decoded, against what the receiver and the
	// sender logged.
	type item struct{ what, nsp, name, args string }
	decoded := func(from Side) (events, acks, connects, disconnects []item) {
		for _, d := range s.sio[from] {
			switch d.pk.Type {
			case SIOEvent, SIOBinaryEvent:
				events = append(events, item{fmt.Sprint(d.pk.HasAck), d.pk.Nsp, d.pk.Event, canon(t, d.args)})
			case SIOAck, SIOBinaryAck:
				acks = append(acks, item{"", d.pk.Nsp, "", canon(t, d.args)})
			case SIOConnect:
				connects = append(connects, item{"", d.pk.Nsp, "", ""})
			case SIODisconnect:
				disconnects = append(disconnects, item{"", d.pk.Nsp, "", ""})
			}
		}
		return
	}
	logged := func(logs []sioLog, sent bool) (events, acks, connects, disconnects []item) {
		for _, l := range logs {
			switch {
			case sent && l.Sent != "", !sent && l.Recv != "":
				name := l.Sent + l.Recv
				events = append(events, item{fmt.Sprint(l.Ack), l.Nsp, name, canon(t, l.Args)})
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
			t.Errorf("%s:\n decoded %v\n  logged %v", what, got, want)
		}
	}
	ce, ca, cc, cd := decoded(Client)
	re, ra, rc, rd := logged(srvLog, false)
	same("client events, as the server received them", ce, re)
	same("client acks, as the server received them", ca, ra)
	same("client connects, as the server received them", cc, rc)
	same("client disconnects, as the server received them", cd, rd)
	se, sa, _, _ := logged(clLog, true)
	same("client events, as the client sent them", ce, se)
	same("client acks, as the client sent them", ca, sa)
	_, _, _, sd := logged(clLog, true)
	same("client disconnects, as the client made them", cd, sd)

	ve, va, vc, _ := decoded(Server)
	we, wa, _, _ := logged(clLog, false)
	same("server events, as the client received them", ve, we)
	same("server acks, as the client received them", va, wa)
	xe, xa, _, _ := logged(srvLog, true)
	same("server events, as the server sent them", ve, xe)
	same("server acks, as the server sent them", va, xa)
	same("server's answers to connects", vc, rc)

	binary := 0
	for _, d := range append(s.sio[Client], s.sio[Server]...) {
		binary += d.pk.Attachments
	}
	if binary == 0 {
		t.Errorf("no binary attachments decoded")
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
