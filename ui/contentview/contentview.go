// Package contentview reads WebSocket message payloads as the subprotocol
// their connection negotiated (Sec-WebSocket-Protocol, RFC 6455 section
// 1.9) and describes them for the dashboard's detail: GraphQL over
// WebSocket (graphql-transport-ws and the older graphql-ws), STOMP 1.0 to
// 1.2, MQTT 3.1, 3.1.1 and 5 over WebSocket, and JSON-RPC 2.0, recognised
// by its content whatever the subprotocol.
//
// It reads HTTP bodies by their media type too (body.go): JSON as a list
// of paths, images by type and dimensions, form data, multipart parts.
//
// Views are display-only: they are not capture events, and they never
// replace the message. A payload that does not parse as its subprotocol
// gives a View with Err set, to be shown next to the raw payload.
//
// The package is pure: bytes in, values out. Its functions are safe for
// concurrent use.
package contentview

import (
	"strings"
	"unicode/utf8"
)

// View is a subprotocol's reading of one WebSocket message.
type View struct {
	Protocol string  // the reading: "graphql-transport-ws", "graphql-ws", "stomp", "mqtt", "json-rpc"
	Summary  string  // one line, e.g. "PUBLISH prices/ABC qos=1 id=7"
	Fields   []Field // what the message says, in order; a message of several frames or packets lists each after a "frame" or "packet" field
	// Body is the application payload the message carries (a STOMP body,
	// an MQTT PUBLISH payload), a slice of the message; nil when none.
	Body []byte
	// Err says why the message does not parse as Protocol; Summary and
	// Fields hold what did. The caller shows the raw payload with it.
	Err string
}

// Field is one named value of a View, clipped for display.
type Field struct {
	Name, Value string
}

// Options says what one message cannot tell.
type Options struct {
	// MQTTLevel is the protocol level of the connection's CONNECT packet
	// (3 for MQTT 3.1, 4 for 3.1.1, 5 for 5.0; MQTTLevel finds it): MQTT
	// 5 packets carry properties where 3.1.1 ones carry none. 0 means 4.
	MQTTLevel byte
}

// Protocols maps the subprotocol names a view exists for to the reading.
var Protocols = map[string]string{
	"graphql-transport-ws": "graphql-transport-ws",
	"graphql-ws":           "graphql-ws",
	"v10.stomp":            "stomp",
	"v11.stomp":            "stomp",
	"v12.stomp":            "stomp",
	"stomp":                "stomp",
	"mqtt":                 "mqtt",
	"mqttv3.1":             "mqtt",
}

// Describe reads payload, a whole message, as the subprotocol the
// connection negotiated (the 101's Sec-WebSocket-Protocol; "" when none).
// text says whether it was a text message. ok is false when there is no
// view for it: an unknown subprotocol whose payload is not JSON-RPC.
func Describe(subprotocol string, payload []byte, text bool, opt Options) (v View, ok bool) {
	switch Protocols[strings.ToLower(subprotocol)] {
	case "graphql-transport-ws":
		return GraphQL(payload, true), true
	case "graphql-ws":
		return GraphQL(payload, false), true
	case "stomp":
		version := ""
		if sub := strings.ToLower(subprotocol); len(sub) > 3 && sub[0] == 'v' && sub[3] == '.' {
			version = sub[1:2] + "." + sub[2:3] // v12.stomp: 1.2
		}
		return STOMP(payload, version), true
	case "mqtt":
		v := MQTT(payload, opt.MQTTLevel)
		if text && v.Err == "" {
			// MQTT over WebSocket, section 6.0: "MQTT Control Packets
			// MUST be sent in WebSocket binary data frames."
			v.Err = "MQTT sent in a text message: the spec wants binary ones"
		}
		return v, true
	}
	if v, ok := JSONRPC(payload); ok {
		return v, true
	}
	return View{}, false
}

// fieldMax bounds a field's value: the detail pane shows a line of it.
const fieldMax = 240

// clip makes b a field value: valid UTF-8, at most fieldMax bytes and an
// ellipsis.
func clip(b []byte) string {
	more := len(b) > fieldMax
	if more {
		b = b[:fieldMax]
		for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
			if utf8.RuneStart(b[i]) {
				if !utf8.FullRune(b[i:]) {
					b = b[:i]
				}
				break
			}
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	if len(s) > fieldMax {
		// Invalid bytes became 3-byte replacement characters.
		more = true
		cut := fieldMax
		for !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	if more {
		s += "…"
	}
	return s
}

func (v *View) add(name, value string) {
	v.Fields = append(v.Fields, Field{name, value})
}
