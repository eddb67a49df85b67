package ui

import (
	"fmt"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/ui/contentview"
	"github.com/rivo/tview"
)

// This file reads a WebSocket message as the subprotocol its connection
// negotiated (issue 10: GraphQL over WebSocket, STOMP, MQTT, and JSON-RPC
// 2.0 whatever the subprotocol), for the message's detail. A view is never
// the message: the payload is shown below it as it came, and a message
// that does not parse as its subprotocol says why.

// messageView renders the view of message ev of c, or "" when there is
// none (a control message, an unknown subprotocol that is not JSON-RPC).
func (u *UI) messageView(c *conn, ev *capture.Event) string {
	if ev.Kind != capture.KindMessage || (ev.Op != "text" && ev.Op != "binary") || len(ev.Payload) == 0 {
		return ""
	}
	opt := contentview.Options{}
	if contentview.Protocols[strings.ToLower(c.subprotocol)] == "mqtt" {
		opt.MQTTLevel = u.mqttLevel(c)
	}
	v, ok := contentview.Describe(c.subprotocol, ev.Payload, ev.Op == "text", opt)
	if !ok {
		return ""
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n[::b]%s[::-] %s\n", tview.Escape(v.Protocol), tview.Escape(v.Summary))
	if v.Err != "" {
		fmt.Fprintf(&sb, "[red]not %s: %s[-]\n", tview.Escape(v.Protocol), tview.Escape(v.Err))
	}
	writeFields(&sb, v.Fields, "  ")
	if len(v.Body) > 0 {
		fmt.Fprintf(&sb, "[yellow]body[-]  %s\n", tview.Escape(glimpse(v.Body, 200)))
	}
	return sb.String()
}

// mqttLevel is the protocol level of c's MQTT CONNECT: its first client
// message (0, MQTT 3.1.1's reading, when it is not held).
func (u *UI) mqttLevel(c *conn) byte {
	for _, i := range c.rows {
		ev := u.store.At(i)
		if ev == nil || ev.Kind != capture.KindMessage || ev.From != "client" {
			continue
		}
		level, _ := contentview.MQTTLevel(ev.Payload)
		return level
	}
	return 0
}
