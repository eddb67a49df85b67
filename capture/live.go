package capture

import "time"

// Live is an optional interface of a Stream that follows a connection
// while its bytes flow, in-process: nothing of it is written to a capture,
// which keeps one request and one response event per exchange. The
// dashboard's Store implements it, to show a response as soon as its head
// arrives and bytes and rates as they are relayed.
//
// The proxy calls it from the connection's goroutines, in wire order,
// under the connection's lock (as it calls Add): an implementation must
// return at once and never wait (the relay never waits on the screen),
// and must not keep ev or its slices beyond the call. The calls are
// protocol-neutral: HTTP/2 streams and Server-Sent Events make the same
// ones, with stream set.
type Live interface {
	// Relayed says that n more bytes from a side ("client" or "server")
	// were relayed, counted as the close event's bytes_from_client and
	// bytes_from_server count them; n may be negative (bytes taken back).
	Relayed(from string, n int64)
	// Head says that the head of a request or response arrived, at ev.Time:
	// ev is the request or response event as it will be recorded, without
	// its body, trailers, decoded fields or timings (BodyLen 0). stream is
	// the HTTP/2 stream, 0 for HTTP/1.x. Interim (1xx) responses come too.
	Head(stream uint32, ev *Event)
	// Body says that n more body bytes of exchange seq (on stream) from a
	// side arrived at t, without the chunked framing.
	Body(from string, seq int, stream uint32, n int64, t time.Time)
}
