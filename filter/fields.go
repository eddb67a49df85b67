package filter

import "github.com/frametap/frametap/capture"

// Kinds that other issues add to the capture format. Events of these kinds
// already match by Kind, since capture.Kind is a string; replace these
// constants by capture's once it declares them.
const (
	kindH2Frame capture.Kind = "h2frame" // HTTP/2 frame header (issue 9)
	kindSSE     capture.Kind = "sse"     // one Server-Sent Event (issue 10)
	kindChunk   capture.Kind = "chunk"   // one line or chunk of a streamed response (issue 10)
	kindEIO     capture.Kind = "eio"     // one Engine.IO packet (issue 10)
	// KindMeta is capture.KindMeta: the first event of a capture written
	// through an Output.
	KindMeta = capture.KindMeta
)

// The accessors below read fields that capture.Event does not have yet.
// Each is to be wired when its field exists; until then it returns the
// zero value, and the atoms that use it match what the existing fields
// allow (see each).

// streamOf returns the HTTP/2 stream of ev, 0 when none. To be wired: the
// "stream" field of request, response, upgrade, frame, message, sse and
// h2frame events (issue 9). Until then exchanges are found by seq, and the
// WebSocket events of a connection belong to its last upgrade.
func streamOf(ev *capture.Event) uint32 { return 0 }

// sseData returns the "data" of an sse event (issue 10): ~b, ~bs and ~jq
// look inside SSE events.
func sseData(ev *capture.Event) []byte { return ev.Payload }

// chunkData returns the "text"/"data" of a chunk event (issue 10), as
// sseData.
func chunkData(ev *capture.Event) []byte { return ev.Payload }

// eioEventName returns the Socket.IO "event" name of an eio event. To be
// wired (issue 10): until then ~sio matches the WebSocket messages that
// carry Socket.IO events (sioEventName), not the eio events.
func eioEventName(ev *capture.Event) string { return "" }

// eioArgs returns the "args" (JSON) of an eio event. To be wired
// (issue 10), as sseData.
func eioArgs(ev *capture.Event) []byte { return nil }

// resetOf returns the "reset" of an HTTP/2 response ended by RST_STREAM,
// "" otherwise. To be wired (issue 9): ~e matches such responses then.
func resetOf(ev *capture.Event) string { return "" }

// setMetaFilter sets the expression a meta event records: its "filter".
func setMetaFilter(ev *capture.Event, expr string) { ev.Filter = expr }
