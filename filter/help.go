package filter

import (
	"fmt"
	"strings"
)

// Help is the filter language's reference for people, as `frametap help
// filters` and the dashboard's "?" page print it: the operators, then each
// atom with what it matches and one example. Lines are at most 78
// characters wide.
var Help = help()

func help() string {
	var b strings.Builder
	b.WriteString(`Filter expressions (mitmproxy's syntax; regexes ignore case)

  !X     not X                   X & Y   X and Y (also: X Y)
  X | Y  X or Y                  ( X )   grouping
  A word alone is a regex for ~u. Quote arguments with "..." or '...'.
  N: 5, >5, <5, >=5, <=5, 5-9, 4xx (400-499).
  OP: text binary ping pong close continuation data control.
  PATH=V: jq path and JSON scalar: .type=order .items[0].id=7 .ok=true

Connection atoms: every event of a connection that
`)
	section := func(s scope, heading string) {
		if heading != "" {
			b.WriteString("\n" + heading + "\n")
		}
		for _, sp := range specs {
			if sp.scope != s {
				continue
			}
			name := sp.name
			switch sp.arg {
			case argRegex:
				name += " REGEX"
			case argNum:
				name += " N"
			case argOp:
				name += " OP"
			case argJQ:
				name += " PATH=V"
			}
			fmt.Fprintf(&b, "  %-12s %-24s %s\n", name, sp.example, sp.help)
		}
	}
	section(scopeConn, "")
	section(scopeExchange, "Exchange atoms: a request, its response, the WebSocket or SSE it\nstarted (other events: any exchange of the connection), whose")
	section(scopeEvent, "Event atoms: the event itself (a frame takes its message's payload)")
	b.WriteString(`
Examples
  ~websocket ~wq ~op text          text messages clients sent
  ~d api\.example ~c 5xx           server errors of one host
  ~jq .type=order !~jq .qty=0      JSON messages of one type, but not these
  ~u /socket.io/ ~sio ^chat        one Socket.IO event
  ~code 1002 | ~e                  protocol errors
`)
	return b.String()
}
