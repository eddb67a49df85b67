// Package filter is frametap's filter language: one expression syntax for
// the dashboard's "/", --filter on headless output and on what -w writes,
// and the view and export commands. It is pure: events in, verdicts out; no
// network, no UI. It depends on capture only, for the event model.
//
// # Syntax
//
// The syntax is mitmproxy's, so its users already know it. An expression
// is made of atoms joined by operators:
//
//	!X      not X; binds tightest
//	X & Y   X and Y
//	X Y     X and Y too: juxtaposition is "&" and binds like it
//	X | Y   X or Y; binds loosest
//	( X )   grouping
//
// so "~ws ~op text | ~e" is "(~ws & ~op text) | ~e". An atom is "~" and a
// name, and some take one argument: ~d example\.com, ~len >1000. A word
// that is not an atom's argument is a regex for ~u, as in mitmproxy
// ("/api/" alone is "~u /api/").
//
// Arguments are words: they end at a space, or at a ")", "&" or "|" that
// closes no parenthesis opened inside the word (so "~u /v(1|2)/" is one
// regex). A word cannot start with "(", "!" or "~", which are operators
// and atoms there. Quote an argument with "..." or '...' to put anything
// in it;
// inside quotes, \", \' and \\ stand for the character, and any other
// backslash stays as written, so "\d+" is the regex \d+. A quote inside
// a word opens a section that runs to the matching quote and is kept with
// its quotes: ~jq .name="Ada L" is one argument.
//
// Regexes are Go's (RE2 syntax) and case-insensitive; start one with
// (?-i), quoted, to change that: ~b "(?-i)Error". They match anywhere in the text unless anchored.
//
// A bad expression is an *Error that carries the column, e.g.
// `filter: unbalanced "(" at column 4` for "~d (foo".
//
// # Atoms
//
// Help lists every atom with an example. What each looks at, per event
// kind (the capture format is docs/capture-format.md):
//
// Connection atoms hold for every event of a connection: ~websocket (an
// upgrade to WebSocket, or WebSocket frames, were seen), ~http (an HTTP
// request or response), ~h2 (HTTP/2: an HTTP/2.0 exchange, an h2frame
// event, or ALPN h2), ~sse (a text/event-stream response, or sse events),
// ~tls (frametap terminated TLS: a tls event, or https/wss), ~conn N (the
// connection number), ~src REGEX (the client's ip:port, from open).
//
// Exchange atoms are properties of an HTTP exchange (a request and its
// response): ~d REGEX (the request's "host": its authority, the Host
// header), ~u REGEX (the request target as sent, or the URL
// scheme://host/target rebuilt from it), ~m REGEX (the method), ~c N (the
// response status), ~h, ~hq, ~hs REGEX (a header or trailer line
// "Name: value" of the request or response, the request, the response),
// ~dst REGEX (the upstream host:port). They hold for every event of the
// exchange: its request, response and upgrade, and the traffic it
// started: a WebSocket's frames and messages belong to the exchange that
// upgraded, SSE events and chunks to their response's. An event outside
// any exchange (open, tls, error, close) takes them from its connection:
// it matches when some exchange of the connection does (and ~dst also
// when the open names a matching server).
//
// Event atoms look at the event itself:
//
//   - ~q, ~s: request events, response events; ~all: every event.
//   - ~e: error events, and a close with "err".
//   - ~wq, ~ws: messages the client, the server sent: WebSocket frame and
//     message events with that "from" (and eio events; ~ws also sse
//     events).
//   - ~op NAME: frames and messages by opcode: text, binary, ping, pong,
//     close, continuation (a continuation frame takes its message's op; an
//     orphan one is "continuation"), or data (text|binary) or control
//     (ping|pong|close).
//   - ~fin: frames with FIN set; messages sent in one frame. So !~fin is
//     the fragments of fragmented messages, and those messages.
//   - ~rsv1: frames with RSV1 set; compressed messages (RFC 7692).
//   - ~masked: masked frames; messages whose frames were masked.
//   - ~len N: frame and message "len" (messages: after inflating), and
//     the "len" of sse, chunk and h2frame events.
//   - ~code N: close messages by status code, and their close frames.
//   - ~b, ~bq, ~bs REGEX: the content of an event: request and response
//     bodies, message payloads (a frame: its message's), a close's reason,
//     SSE data, chunks; ~bq only what the client sent, ~bs only what the
//     server sent.
//   - ~jq PATH=VALUE: the content is JSON and the value at PATH equals
//     VALUE; ~jq PATH: the value at PATH exists. PATH is jq's: ".type",
//     ".data.items[0].id", ."odd key", .["odd key"], "." (the whole
//     value). VALUE is a JSON scalar, compared by type: a string ("order",
//     or a word that is not JSON: order), a number (7 equals 7.0), true,
//     false or null. Arrays and objects are not compared.
//   - ~sio REGEX: Socket.IO events by name: WebSocket text messages that
//     carry an EVENT or BINARY_EVENT packet (42["chat",...]), their
//     frames, and eio events.
//
// Numbers (N) are N, >N, <N, >=N, <=N, N-M (inclusive), or digits with
// trailing x's: ~c 4xx is ~c 400-499.
//
// # What an event is judged with
//
// A message atom selects messages and their frames: a frame takes its
// message's content (~b, ~bq, ~bs, ~jq, ~sio, ~code) but its own header
// bits (~fin, ~rsv1, ~masked, ~len). Connection atoms select all of a
// connection's events. What "all" means depends on when the verdict is
// given, since the evidence may come after the event (the request that
// later upgrades is a WebSocket connection's event):
//
// Whole capture (Index, Select; for view, export and the dashboard): every
// event is judged with everything known of its connection, exchange and
// message, including what came later. ~websocket selects the handshake
// request too, ~c 404 the request of a 404, ~b x the frames of a
// message containing x.
//
// Streaming (Matcher): each event is judged when it arrives, with what is
// known so far: connection atoms hold from their evidence on, a request
// does not know its response, a frame does not know its message.
//
// Writing (Output; for headless output and -w): as streaming, except that
// a request is held back until its response and a frame until its
// message when the filter needs them, so whole exchanges and messages are
// kept; see Output.
//
// Matcher and Index keep per-connection context, bounded as each says.
package filter
