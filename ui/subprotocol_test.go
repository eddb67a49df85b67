package ui

import (
	"strings"
	"testing"

	"github.com/frametap/frametap/capture"
)

// A WebSocket message's detail reads it as its connection's subprotocol,
// above the payload as it came; one that does not parse says why.
func TestMessageViews(t *testing.T) {
	mqttConnect := []byte{0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0x3c, 0, 1, 'a'}
	mqttPublish := []byte{0x30, 0x0a, 0, 6, 'p', 'r', 'i', 'c', 'e', 's', '4', '2'}
	for _, tc := range []struct {
		name, sub string
		msgs      []capture.Event // the last is the one shown
		want      []string
		not       []string
	}{
		{"stomp", "v12.stomp", []capture.Event{{From: "client", Op: "text", Payload: []byte("SEND\ndestination:/queue/a\n\nhello\x00")}},
			[]string{"stomp", "SEND", "/queue/a", "payload"}, []string{"not stomp"}},
		{"stomp broken", "v12.stomp", []capture.Event{{From: "client", Op: "text", Payload: []byte("SEND\ndestination:/queue/a\n\nno NUL")}},
			[]string{"not stomp", "payload", "no NUL"}, nil},
		{"graphql-transport-ws", "graphql-transport-ws", []capture.Event{{From: "client", Op: "text", Payload: []byte(`{"id":"1","type":"subscribe","payload":{"query":"subscription { prices }"}}`)}},
			[]string{"graphql-transport-ws", "subscribe", "prices"}, []string{"not graphql"}},
		{"mqtt", "mqtt", []capture.Event{{From: "client", Op: "binary", Payload: mqttConnect}, {From: "server", Op: "binary", Payload: mqttPublish}},
			[]string{"mqtt", "PUBLISH", "prices"}, []string{"not mqtt"}},
		{"json-rpc without a subprotocol", "", []capture.Event{{From: "client", Op: "text", Payload: []byte(`{"jsonrpc":"2.0","method":"subscribe","params":["BTC"],"id":7}`)}},
			[]string{"json-rpc", "subscribe"}, nil},
		{"plain text", "", []capture.Event{{From: "client", Op: "text", Payload: []byte("hello")}},
			[]string{"payload", "hello"}, []string{"json-rpc", "stomp"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs := []capture.Event{
				{Kind: capture.KindOpen, Conn: 5, Time: at(0), Client: "127.0.0.1:5"},
				{Kind: capture.KindRequest, Conn: 5, Time: at(1), Seq: 1, Method: "GET", Target: "/ws", Host: "mq.test", Proto: "HTTP/1.1"},
				{Kind: capture.KindResponse, Conn: 5, Time: at(2), Seq: 1, Status: 101, Proto: "HTTP/1.1"},
				{Kind: capture.KindUpgrade, Conn: 5, Time: at(2), Seq: 1, Protocol: "websocket", Subprotocol: tc.sub},
			}
			for k, m := range tc.msgs {
				m.Kind, m.Conn, m.Time, m.Frames, m.Len = capture.KindMessage, 5, at(3+k), 1, int64(len(m.Payload))
				evs = append(evs, m)
			}
			u := newTestUI(t, Config{}, evs)
			c := u.st.byID[5]
			if c == nil {
				t.Fatal("no connection #5")
			}
			d := u.eventDetail(c, len(evs)-1)
			for _, w := range tc.want {
				if !strings.Contains(d, w) {
					t.Errorf("detail lacks %q:\n%s", w, d)
				}
			}
			for _, w := range tc.not {
				if strings.Contains(d, w) {
					t.Errorf("detail has %q:\n%s", w, d)
				}
			}
			if v, p := strings.Index(d, tc.want[0]), strings.Index(d, "payload"); tc.sub != "" && v > p {
				t.Errorf("the view comes after the payload:\n%s", d)
			}
		})
	}
}
