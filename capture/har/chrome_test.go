package har

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
)

// This file holds Chrome DevTools' HAR importer as rules a test can apply:
// front_end/models/har/HARFormat.ts, which throws on what it cannot take,
// and Importer.ts, which decides what a request becomes (read at commit
// 35f5a01 of devtools-frontend, and in the bundle Chromium 156 serves at
// /devtools/models/har/har.js). A HAR that passes loads in DevTools'
// Network panel, WebSocket messages in the Messages tab.

// chromeResourceTypes are the names Common.ResourceType.fromName knows;
// any other _resourceType is ignored and the type guessed from the MIME
// type, which never gives "websocket".
var chromeResourceTypes = map[string]bool{
	"xhr": true, "fetch": true, "eventsource": true, "websocket": true, "webtransport": true, "wasm": true,
	"manifest": true, "document": true, "stylesheet": true, "image": true, "media": true, "font": true,
	"script": true, "texttrack": true, "signed-exchange": true, "ping": true, "csp-violation-report": true,
	"other": true, "preflight": true, "fedcm": true, "prefetch": true,
}

// chromeImport reports the first rule of Chrome's importer that the HAR
// breaks, or "" when it loads; it returns, per entry, how many WebSocket
// messages the Messages tab would list.
func chromeImport(b []byte) (shown []int, problem string) {
	var root any
	if err := json.Unmarshal(b, &root); err != nil {
		return nil, "JSON.parse: " + err.Error()
	}
	// HARBase: "First parameter is expected to be an object".
	obj := func(v any, what string) (map[string]any, string) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, what + ": First parameter is expected to be an object"
		}
		return m, ""
	}
	// safeNumber(m, key): Number(undefined) is NaN, Number(null) is 0.
	safeNumber := func(m map[string]any, key, what string) string {
		v, present := m[key]
		if _, ok := jsNumber(v); !present || !ok {
			return what + ": Casting to number results in NaN"
		}
		return ""
	}
	optionalNumber := func(m map[string]any, key, what string) string {
		if _, present := m[key]; !present {
			return ""
		}
		return safeNumber(m, key, what)
	}
	r, p := obj(root, "root")
	if p != "" {
		return nil, p
	}
	log, p := obj(r["log"], "log")
	if p != "" {
		return nil, p
	}
	if _, p := obj(log["creator"], "log.creator"); p != "" {
		return nil, p
	}
	entries, ok := log["entries"].([]any)
	if !ok {
		return nil, "log.entries is expected to be an array"
	}
	if pages, ok := log["pages"].([]any); ok {
		for i, pg := range pages {
			m, p := obj(pg, fmt.Sprintf("pages[%d]", i))
			if p != "" {
				return nil, p
			}
			if !safeDate(m["startedDateTime"]) {
				return nil, fmt.Sprintf("pages[%d]: Invalid date format", i)
			}
			if _, p := obj(m["pageTimings"], "pageTimings"); p != "" {
				return nil, p
			}
		}
	}
	for i, ev := range entries {
		at := fmt.Sprintf("entries[%d]", i)
		e, p := obj(ev, at)
		if p != "" {
			return nil, p
		}
		if !safeDate(e["startedDateTime"]) {
			return nil, at + ".startedDateTime: Invalid date format"
		}
		if p := safeNumber(e, "time", at+".time"); p != "" {
			return nil, p
		}
		req, p := obj(e["request"], at+".request")
		if p != "" {
			return nil, p
		}
		for _, f := range []string{"headersSize", "bodySize"} {
			if p := safeNumber(req, f, at+".request."+f); p != "" {
				return nil, p
			}
		}
		for _, list := range []string{"headers", "cookies", "queryString"} {
			if v, ok := req[list]; ok {
				if _, isArr := v.([]any); !isArr {
					return nil, at + ".request." + list + " is not an array (it would be dropped)"
				}
			}
		}
		resp, p := obj(e["response"], at+".response")
		if p != "" {
			return nil, p
		}
		for _, f := range []string{"status", "headersSize", "bodySize"} {
			if p := safeNumber(resp, f, at+".response."+f); p != "" {
				return nil, p
			}
		}
		if p := optionalNumber(resp, "_transferSize", at+".response._transferSize"); p != "" {
			return nil, p
		}
		content, p := obj(resp["content"], at+".response.content")
		if p != "" {
			return nil, p
		}
		if p := safeNumber(content, "size", at+".response.content.size"); p != "" {
			return nil, p
		}
		if p := optionalNumber(content, "compression", at+".response.content.compression"); p != "" {
			return nil, p
		}
		if enc, ok := content["encoding"]; ok && enc != "base64" {
			return nil, at + ".response.content.encoding: only base64 is decoded"
		}
		// Importer.ts: protocol = response.httpVersion.toLowerCase().
		if _, ok := resp["httpVersion"].(string); !ok {
			return nil, at + ".response.httpVersion is not a string (toLowerCase throws)"
		}
		timings, p := obj(e["timings"], at+".timings")
		if p != "" {
			return nil, p
		}
		for _, f := range []string{"send", "wait", "receive"} {
			if p := safeNumber(timings, f, at+".timings."+f); p != "" {
				return nil, p
			}
		}
		for _, f := range []string{"blocked", "dns", "connect", "ssl"} {
			if p := optionalNumber(timings, f, at+".timings."+f); p != "" {
				return nil, p
			}
		}
		// setRemoteAddress(serverIPAddress, Number(connection) || 80).
		if c, ok := e["connection"]; ok {
			s, isStr := c.(string)
			n, err := strconv.Atoi(s)
			if !isStr || err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Sprintf("%s.connection %v is not the server's port", at, c)
			}
		}
		rt, _ := e["_resourceType"].(string)
		if rt != "" && !chromeResourceTypes[rt] {
			return nil, fmt.Sprintf("%s._resourceType %q is not a Chrome resource type", at, rt)
		}
		// importWebSocketMessages: not an array is ignored; a message
		// that is not an object drops them all.
		n := 0
		if msgs, ok := e["_webSocketMessages"].([]any); ok {
			if rt != "websocket" {
				return nil, at + " has _webSocketMessages but _resourceType is not websocket: no Messages tab"
			}
			for j, mv := range msgs {
				m, ok := mv.(map[string]any)
				if !ok {
					return nil, fmt.Sprintf("%s._webSocketMessages[%d] is not an object: every message is dropped", at, j)
				}
				// Importer.ts skips a message with no time, opcode or
				// data, or a type that is not a WebSocketFrameType.
				t, okT := m["time"]
				op, okO := m["opcode"]
				_, okD := m["data"].(string)
				typ, _ := m["type"].(string)
				if !okT || !okO || !okD || typ != "send" && typ != "receive" && typ != "error" {
					continue
				}
				if _, ok := jsNumber(t); !ok {
					continue
				}
				if _, ok := jsNumber(op); !ok {
					continue
				}
				n++
			}
		}
		shown = append(shown, n)
	}
	return shown, ""
}

// jsNumber is JavaScript's Number(v), and whether it is not NaN.
func jsNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, !math.IsNaN(x)
	case bool:
		return map[bool]float64{true: 1}[x], true
	case nil:
		return 0, true // Number(null)
	case string:
		s := strings.TrimSpace(x)
		if s == "" {
			return 0, true
		}
		f, err := strconv.ParseFloat(s, 64)
		return f, err == nil
	}
	return 0, false
}

// safeDate is HARBase.safeDate: new Date(v) is not NaN. Go's RFC 3339
// parser stands in for JavaScript's Date parser on the ISO 8601 strings
// HAR uses.
func safeDate(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	_, err := time.Parse(time.RFC3339Nano, s)
	return err == nil
}

// requireChromeImport fails t unless Chrome's importer takes the HAR and
// shows every WebSocket message of every entry.
func requireChromeImport(t *testing.T, b []byte) {
	t.Helper()
	shown, problem := chromeImport(b)
	if problem != "" {
		t.Fatalf("Chrome DevTools' importer: %s", problem)
	}
	var h struct {
		Log struct {
			Entries []struct {
				Messages []any `json:"_webSocketMessages"`
			} `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &h); err != nil {
		t.Fatal(err)
	}
	for i, e := range h.Log.Entries {
		if shown[i] != len(e.Messages) {
			t.Errorf("entry %d: Chrome's importer would show %d of its %d WebSocket messages", i, shown[i], len(e.Messages))
		}
	}
}

// TestChromeImportRules checks the rules themselves on HARs that break
// one each: a test that cannot fail proves nothing.
func TestChromeImportRules(t *testing.T) {
	good := `{"log":{"version":"1.2","creator":{"name":"x","version":"1"},"pages":[],"entries":[` +
		`{"startedDateTime":"2026-01-02T03:04:05.123Z","time":1,"request":{"method":"GET","url":"ws://h/","httpVersion":"HTTP/1.1","headers":[],"queryString":[],"cookies":[],"headersSize":-1,"bodySize":0},` +
		`"response":{"status":101,"statusText":"","httpVersion":"HTTP/1.1","headers":[],"cookies":[],"content":{"size":0,"mimeType":"x-unknown"},"redirectURL":"","headersSize":-1,"bodySize":0},` +
		`"cache":{},"timings":{"send":0,"wait":1,"receive":0},"connection":"80","_resourceType":"websocket",` +
		`"_webSocketMessages":[{"type":"send","time":1767323045.5,"opcode":1,"data":"hi"}]}]}}`
	if shown, p := chromeImport([]byte(good)); p != "" || len(shown) != 1 || shown[0] != 1 {
		t.Fatalf("the good HAR: %v %q", shown, p)
	}
	for _, tc := range []struct{ name, from, to string }{
		{"bad date", `"2026-01-02T03:04:05.123Z"`, `"yesterday"`},
		{"time NaN", `"time":1`, `"time":"soon"`},
		{"no response", `"response":{`, `"response":7,"x":{`},
		{"connection a number", `"connection":"80"`, `"connection":80`},
		{"connection an id", `"connection":"80"`, `"connection":"abc"`},
		{"resource type", `"_resourceType":"websocket"`, `"_resourceType":"socket"`},
		{"messages without websocket", `"_resourceType":"websocket"`, `"_resourceType":"fetch"`},
		{"message not an object", `[{"type":"send"`, `[1,{"type":"send"`},
		{"no send", `"send":0,`, ``},
	} {
		bad := strings.Replace(good, tc.from, tc.to, 1)
		if bad == good {
			t.Fatalf("%s: the replacement did not apply", tc.name)
		}
		if _, p := chromeImport([]byte(bad)); p == "" {
			t.Errorf("%s: the importer rules accept it", tc.name)
		}
	}
	// Messages Chrome skips are counted out, not failures.
	for _, bad := range []string{`"type":"sent"`, `"opcode":"x"`} {
		b := strings.Replace(good, map[bool]string{true: `"type":"send"`, false: `"opcode":1`}[strings.HasPrefix(bad, `"type"`)], bad, 1)
		if shown, p := chromeImport([]byte(b)); p != "" || shown[0] != 0 {
			t.Errorf("%s: shown %v, %q; want the message skipped", bad, shown, p)
		}
	}
}
