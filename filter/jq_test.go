package filter

import (
	"strings"
	"testing"
)

// TestJQ checks paths and value comparison over JSON payloads.
func TestJQ(t *testing.T) {
	tests := []struct {
		path, json string
		want       bool
	}{
		{".type=order", `{"type":"order"}`, true},
		{".type=order", ` { "type" : "order" } `, true},
		{".type=order", `{"type":"Order"}`, false},
		{".type=order", `{"a":{"type":"order"}}`, false},
		{".type=order", `{"a":1,"b":[1,{"c":"}"}],"type":"order"}`, true},
		{".type=order", `{"t\u0079pe":"ord\u0065r"}`, true},
		{`.type="a\"b"`, `{"type":"a\"b"}`, true},
		{".type=\"\"", `{"type":""}`, true},
		{".type=order", `{"type":"order"`, true}, // cut short after the value
		{".type=order", `{"type":"ord`, false},   // cut inside it
		{".type=order", `{"type":order}`, false}, // not JSON
		{".type=order", `["type","order"]`, false},
		{".n=7", `{"n":7}`, true},
		{".n=7", `{"n":7.0}`, true},
		{".n=7", `{"n":0.7e1}`, true},
		{".n=7", `{"n":"7"}`, false},
		{`.n="7"`, `{"n":7}`, false},
		{".n=-1.5", `{"n":-15e-1}`, true},
		{".n=7", `{"n":07}`, false},
		{".b=true", `{"b":true}`, true},
		{".b=true", `{"b":"true"}`, false},
		{`.b="true"`, `{"b":"true"}`, true},
		{".b=false", `{"b":false}`, true},
		{".b=null", `{"b":null}`, true},
		{".b", `{"b":null}`, true},
		{".b", `{"a":null}`, false},
		{".a.b.c=1", `{"a":{"b":{"c":1}}}`, true},
		{".a[2]=x", `{"a":["v","w","x"]}`, true},
		{".a[3]=x", `{"a":["v","w","x"]}`, false},
		{".a[0][1]=2", `{"a":[[1,2]]}`, true},
		{".[1]=2", `[1,2]`, true},
		{".[0].id=7", `[{"id":7}]`, true},
		{`."odd key"=1`, `{"odd key":1}`, true},
		{`.["odd.key"]=1`, `{"odd.key":1}`, true},
		{`.["a]b"]=1`, `{"a]b":1}`, true},
		{".é=ü", `{"é":"ü"}`, true},
		{".e=\U0001F600", `{"e":"\ud83d\ude00"}`, true},
		{".=5", `5`, true},
		{". = 5", ` 5 `, true},
		{".=5", `5x`, false},
		{".", `42["chat"]`, false},
		{".", ``, false},
		{".", `{}`, true},
		{".a", `{}`, false},
		{".a", `[]`, false},
		{".a=1", `{"a":1,}`, true},
		{".b=1", `{"a":1,}`, false},
	}
	for _, tt := range tests {
		p, err := parseJQ(tt.path)
		if err != nil {
			t.Errorf("parseJQ(%q): %v", tt.path, err)
			continue
		}
		var scratch []byte
		if got := p.match([]byte(tt.json), &scratch); got != tt.want {
			t.Errorf("~jq %s on %s = %v, want %v", tt.path, tt.json, got, tt.want)
		}
	}
}

// TestJQDeep checks that deep nesting costs no stack: skipping is a loop.
func TestJQDeep(t *testing.T) {
	deep := `{"a":` + strings.Repeat("[", 1<<20) + strings.Repeat("]", 1<<20) + `,"b":1}`
	p, _ := parseJQ(".b=1")
	var scratch []byte
	if !p.match([]byte(deep), &scratch) {
		t.Error(".b=1 not found after a deeply nested value")
	}
	p, _ = parseJQ(".a")
	if !p.match([]byte(deep), &scratch) {
		t.Error(".a not found")
	}
}

// TestSocketIOName checks the Socket.IO event names read from messages.
func TestSocketIOName(t *testing.T) {
	tests := []struct{ payload, want string }{
		{`42["chat",{"text":"hi"}]`, "chat"},
		{`42["chat"]`, "chat"},
		{`42[ "chat" ]`, "chat"},
		{`42/admin,["kick","bob"]`, "kick"},
		{`4217["ask",1]`, "ask"},
		{`42/admin,17["ask",1]`, "ask"},
		{`451-["upload",{"_placeholder":true,"num":0}]`, "upload"},
		{`451-/files,3["upload",{}]`, "upload"},
		{`42["a\"b\u0063"]`, `a"bc`},
		{`43["chat"]`, ""},      // ACK: no name
		{`40`, ""},              // CONNECT
		{`2`, ""},               // Engine.IO ping
		{`42[1,2]`, ""},         // no name
		{`42["chat`, ""},        // cut short
		{`45-["x"]`, ""},        // BINARY_EVENT without a count
		{`42/admin["x"]`, ""},   // namespace without ","
		{`{"type":"chat"}`, ""}, // not Socket.IO
		{`42chat`, ""},          // no array
		{"", ""},
	}
	for _, tt := range tests {
		var scratch []byte
		name, ok := sioEventName([]byte(tt.payload), &scratch)
		if got := string(name); ok != (tt.want != "") || got != tt.want {
			t.Errorf("sioEventName(%q) = %q, %v; want %q", tt.payload, got, ok, tt.want)
		}
	}
}
