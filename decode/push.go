package decode

import (
	"errors"
	"fmt"
	"strings"
)

// Streaming responses (issue 10): a body that is a stream of messages
// rather than one document is decoded as it arrives, and each message is
// handed to the Handler's Push, instead of the body being kept until it
// ends. Which bodies stream:
//
//   - text/event-stream: Server-Sent Events (WHATWG HTML section 9.2.6),
//     parsed by an sseStream;
//   - line-delimited JSON (application/x-ndjson, application/jsonl,
//     application/json-seq, application/stream+json, application/
//     x-json-stream): one Chunk per line;
//   - any other chunked HTTP/1.1 response that Push.StillOpen says is
//     streaming (frametap: still open --long-poll after its head), and an
//     event stream or line-delimited body with a content coding (the
//     decoder cannot see its lines): one Chunk per HTTP chunk.
//
// Over HTTP/2 the first two stream alike, once the stream's request was
// delivered (a GET's is, at its HEADERS); chunks need HTTP/1.1 chunked
// framing.

// Streaming says how a response's body was decoded as it streamed.
type Streaming uint8

const (
	NotStreaming Streaming = iota // the body is kept and delivered with the response
	StreamSSE                     // text/event-stream: Push.SSE for each event
	StreamLines                   // line-delimited: Push.Chunk for each line
	StreamChunks                  // Push.Chunk for each HTTP chunk
)

func (s Streaming) String() string {
	switch s {
	case StreamSSE:
		return "sse"
	case StreamLines:
		return "lines"
	case StreamChunks:
		return "chunks"
	}
	return "none"
}

// ErrStreamLine reports a line of a line-delimited stream longer than the
// decoder keeps (Config.MaxBody): its Chunk is Truncated. Like the
// errors of an event stream, it is reported once per body.
var ErrStreamLine = errors.New("streamed line too long")

// maxH2Streaming bounds the HTTP/2 streams of one connection decoded as
// streaming at once (each keeps up to Config.MaxBody of a message); past
// it a stream's body is kept as any other.
const maxH2Streaming = 8

// Chunk is one line of a line-delimited streaming body, or one HTTP chunk
// of another streaming body. Data is valid only during the call.
type Chunk struct {
	Seq       int
	Stream    uint32 // HTTP/2 stream; 0 for HTTP/1.x
	Len       int64  // bytes of the body it took: a line with its line end, a chunk's data
	Data      []byte // the first Config.MaxBody bytes: a line without its line end (LF or CRLF)
	Truncated bool   // Data is shorter than the line or chunk
}

// Push is an optional interface of a Handler that takes the messages of
// streaming responses as they arrive. NewConn looks for it once; without
// it, no body streams. Its methods are called like Handler's, with slices
// valid only during the call. The streaming Response still comes through
// Handler.Response when its body ends, with Streaming set, no Body, and
// the counts of what it carried.
type Push interface {
	// StreamHead says that a response streams, with its head (Body nil,
	// Streaming set): at its head for an event stream or line-delimited
	// body, at the chunk StillOpen said yes to for others.
	StreamHead(*Response)
	// SSE delivers one dispatched event of an event stream.
	SSE(seq int, stream uint32, ev *SSEEvent)
	// Chunk delivers a line or chunk.
	Chunk(*Chunk)
	// StillOpen asks, at the start of each chunk of a chunked HTTP/1.1
	// response that does not stream by its type, whether it streams from
	// now on. The decoder has no clock: the caller's answer says whether
	// the response's head came long enough ago.
	StillOpen(seq int, stream uint32) bool
}

// streamingOf says how a response with these headers streams by its
// type, before anyone asks StillOpen.
func streamingOf(hs []Header) Streaming {
	var typ string
	coded := false
	for _, h := range hs {
		switch {
		case len(h.Name) == 12 && strings.EqualFold(h.Name, "Content-Type"):
			typ, _, _ = strings.Cut(h.Value, ";")
			typ = strings.ToLower(strings.TrimSpace(typ))
		case len(h.Name) == 16 && strings.EqualFold(h.Name, "Content-Encoding"):
			v := strings.TrimSpace(h.Value)
			coded = coded || v != "" && !strings.EqualFold(v, "identity")
		}
	}
	var k Streaming
	switch typ {
	case "text/event-stream":
		k = StreamSSE
	case "application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines",
		"application/json-seq", "application/stream+json", "application/x-json-stream":
		k = StreamLines
	default:
		return NotStreaming
	}
	if coded {
		return StreamChunks
	}
	return k
}

// pushStream decodes one streaming body. It keeps at most max bytes of a
// message (an event's data may grow by U+FFFD replacing invalid UTF-8), and
// reports each kind of error at most once per body: a line too long, bytes
// that are not UTF-8, an event cut short (unless the line too long was
// it). It is not safe for concurrent use.
type pushStream struct {
	h      Push
	report func(error) // to Handler.Error, with the exchange said
	kind   Streaming
	seq    int
	stream uint32
	max    int

	sse      *sseStream
	buf      []byte // the line or chunk so far: its first max bytes
	n        int64  // its length
	said     bool   // an error was reported
	long     bool   // ErrSSETooLarge was reported
	events   int64
	comments int64
	chunks   int64
	chunk    Chunk
}

// start readies p for a new body.
func (p *pushStream) start(kind Streaming, seq int, stream uint32, max int) {
	p.kind, p.seq, p.stream, p.max = kind, seq, stream, max
	p.buf, p.n = p.buf[:0], 0
	p.said, p.long = false, false
	p.events, p.comments, p.chunks = 0, 0, 0
	p.sse = nil
	if kind == StreamSSE {
		p.sse = newSSEStream(max, p)
	}
}

// feed takes body bytes (the transfer coding removed).
func (p *pushStream) feed(b []byte) {
	switch p.kind {
	case StreamSSE:
		p.sse.feed(b)
	case StreamLines:
		for len(b) > 0 {
			i := indexFrom(b, 0, '\n')
			if i == len(b) {
				p.add(b)
				return
			}
			p.add(b[:i+1])
			p.cut()
			b = b[i+1:]
		}
	case StreamChunks:
		p.add(b)
	}
}

// add takes the next bytes of a line or chunk.
func (p *pushStream) add(b []byte) {
	if room := p.max - len(p.buf); room > 0 {
		k := min(room, len(b))
		p.buf = grow(p.buf, k, p.max)
		p.buf = append(p.buf, b[:k]...)
	}
	p.n += int64(len(b))
	if p.kind == StreamLines && p.n > int64(p.max) && !p.said {
		p.sseError(fmt.Errorf("%w: a line longer than %d bytes: it is counted, its first %d bytes are kept", ErrStreamLine, p.max, p.max))
	}
}

// cut delivers the line or chunk read so far, if any.
func (p *pushStream) cut() {
	if p.n == 0 {
		return
	}
	data := p.buf
	if p.kind == StreamLines && int64(len(data)) == p.n {
		// A line's end is not its data.
		if k := len(data); k > 0 && data[k-1] == '\n' {
			data = data[:k-1]
			if k > 1 && data[k-2] == '\r' {
				data = data[:k-2]
			}
		}
	}
	p.chunk = Chunk{Seq: p.seq, Stream: p.stream, Len: p.n, Data: data, Truncated: p.n > int64(len(p.buf))}
	p.chunks++
	p.h.Chunk(&p.chunk)
	p.chunk.Data = nil
	p.buf, p.n = p.buf[:0], 0
}

// end says the body ended (or was cut): what is left is delivered, and the
// response gets the counts.
func (p *pushStream) end(r *Response) {
	switch p.kind {
	case StreamSSE:
		p.sse.end()
		p.events, p.comments = p.sse.stats.Events, p.sse.stats.Comments
	default:
		p.cut()
	}
	r.Streaming = p.kind
	r.Events, r.Comments, r.Chunks = p.events, p.comments, p.chunks
	r.Body, r.Truncated = nil, false
	p.sse = nil
	if cap(p.buf) > retainMax {
		p.buf = nil
	}
	p.kind = NotStreaming
}

// The sseSink methods.

func (p *pushStream) sseEvent(ev *SSEEvent) { p.h.SSE(p.seq, p.stream, ev) }

func (p *pushStream) sseError(err error) {
	// The parser reports each cause once. A stream that ends in a line
	// too long to keep ends in its event, too: that is the same problem.
	if p.said && errors.Is(err, ErrSSECutShort) && p.long {
		return
	}
	p.long = p.long || errors.Is(err, ErrSSETooLarge)
	p.said = true
	what := fmt.Sprintf("response %d", p.seq)
	if p.stream != 0 {
		what = fmt.Sprintf("stream %d (exchange %d)", p.stream, p.seq)
	}
	p.report(fmt.Errorf("%s: %w (bytes relayed unchanged; reported once for this body)", what, err))
}
