package capture

import (
	"encoding/json"
	"fmt"
	"time"
)

// This file reads the capture format back (Reader decodes each line with
// it).

// wireEvent is an Event as the capture format spells it, for encoding/json.
type wireEvent struct {
	Kind Kind      `json:"kind"`
	Conn uint64    `json:"conn"`
	Time time.Time `json:"t"`
	From string    `json:"from"`

	Client string `json:"client"`
	Server string `json:"server"`
	Mode   string `json:"mode"`
	Listen string `json:"listen"` // open, issue 12

	BytesFromClient int64  `json:"bytes_from_client"`
	BytesFromServer int64  `json:"bytes_from_server"`
	Err             string `json:"err"`
	WSClosedBy      string `json:"ws_closed_by"`
	WSCloseClean    *bool  `json:"ws_close_clean"`

	Seq        int      `json:"seq"`
	Method     string   `json:"method"`
	Target     string   `json:"target"`
	Host       string   `json:"host"`
	Proto      string   `json:"proto"`
	Status     int      `json:"status"`
	StatusText string   `json:"status_text"`
	Headers    []Header `json:"headers"`
	Trailers   []Header `json:"trailers"`
	BodyLen    int64    `json:"body_len"`
	Body       *string  `json:"body"`
	BodyB64    []byte   `json:"body_b64"` // encoding/json decodes standard base64

	Protocol    string `json:"protocol"`
	Subprotocol string `json:"subprotocol"`
	Extensions  string `json:"extensions"`
	AcceptOK    bool   `json:"accept_ok"`

	Fin    bool  `json:"fin"`
	RSV    uint8 `json:"rsv"`
	Opcode uint8 `json:"opcode"`
	Masked bool  `json:"masked"`
	Len    int64 `json:"len"`

	Op         string          `json:"op"`
	Frames     int             `json:"frames"`
	WireLen    int64           `json:"wire_len"`
	Compressed bool            `json:"compressed"`
	Text       *string         `json:"text"`
	Data       json.RawMessage `json:"data"` // base64; a string in an sse event (decodeData)
	// "data" as the scanner read it (json_scan.go): decoded already
	scanData    []byte
	scannedData bool
	Code        json.RawMessage `json:"code"` // a number (message close), or a string (h2frame)
	Reason      string          `json:"reason"`

	Truncated bool      `json:"truncated"`
	Msg       string    `json:"msg"`
	Lost      int64     `json:"lost"`
	Since     time.Time `json:"since"`

	Scheme   string `json:"scheme"`
	Side     string `json:"side"`
	SNI      string `json:"sni"`
	ALPN     string `json:"alpn"`
	Version  string `json:"version"`
	Cipher   string `json:"cipher"`
	Subject  string `json:"subject"`
	Issuer   string `json:"issuer"`
	Verified bool   `json:"verified"`

	// HTTP/2
	Stream     uint32    `json:"stream"`
	Pushed     bool      `json:"pushed"`
	Reset      string    `json:"reset"`
	Type       string    `json:"type"`
	Flags      uint8     `json:"flags"`
	Settings   []Setting `json:"settings"`
	LastStream uint32    `json:"last_stream"`
	Increment  uint32    `json:"increment"`
	Promised   uint32    `json:"promised"`
	Ack        bool      `json:"ack"`
	H2Streams  *int      `json:"h2_streams"`
	H2MaxOpen  int       `json:"h2_max_open"`
	// Issue 14.
	Filter   string `json:"filter"`
	Injected bool   `json:"injected"`
	wireHTTP        // readable bodies and timings (json_http.go)
	wirePush        // issue 10: sse, chunk, stream_end, streaming, push (json_push.go)
}

// UnmarshalJSON sets e from one capture-format object: "body" or
// "body_b64" become Body, "text" or "data" become Payload, and Time is in
// UTC. Empty slices are left nil. Unknown fields are ignored and an unknown
// "kind" is kept as it is.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if !w.scan(b) { // json_scan.go: the lines frametap writes, fast; the others here
		slow := new(wireEvent) // not &w: w would be on the heap for every line
		if err := json.Unmarshal(b, slow); err != nil {
			return err
		}
		w = *slow
	}
	if w.Kind == "" {
		return errNoKind
	}
	*e = Event{
		Kind: w.Kind, Conn: w.Conn, Time: w.Time.UTC(), From: w.From,
		Client: w.Client, Server: w.Server, Mode: w.Mode, Listen: w.Listen,
		BytesFromClient: w.BytesFromClient, BytesFromServer: w.BytesFromServer,
		Err: w.Err, WebSocket: w.WSCloseClean != nil, WSClosedBy: w.WSClosedBy,
		Seq: w.Seq, Method: w.Method, Target: w.Target, Host: w.Host, Proto: w.Proto,
		Status: w.Status, StatusText: w.StatusText,
		Headers: nilIfEmpty(w.Headers), Trailers: nilIfEmpty(w.Trailers), BodyLen: w.BodyLen,
		Protocol: w.Protocol, Subprotocol: w.Subprotocol, Extensions: w.Extensions, AcceptOK: w.AcceptOK,
		Fin: w.Fin, RSV: w.RSV, Opcode: w.Opcode, Masked: w.Masked, Len: w.Len,
		Op: w.Op, Frames: w.Frames, WireLen: w.WireLen, Compressed: w.Compressed,
		Reason:    w.Reason,
		Truncated: w.Truncated, Msg: w.Msg, Lost: w.Lost, Since: w.Since.UTC(),
		Scheme: w.Scheme, Side: w.Side, SNI: w.SNI, ALPN: w.ALPN, Version: w.Version, Cipher: w.Cipher,
		Subject: w.Subject, Issuer: w.Issuer, Verified: w.Verified,
		Filter: w.Filter, Injected: w.Injected,
	}
	if w.WSCloseClean != nil {
		e.WSCloseClean = *w.WSCloseClean
	}
	if err := e.unmarshalCode(w.Code); err != nil {
		return err
	}
	e.Stream, e.Pushed, e.Reset = w.Stream, w.Pushed, w.Reset
	e.FrameType, e.Flags, e.Settings = w.Type, w.Flags, nilIfEmpty(w.Settings)
	e.LastStream, e.Increment, e.Promised, e.Ack = w.LastStream, w.Increment, w.Promised, w.Ack
	if w.H2Streams != nil {
		e.H2, e.H2Streams, e.H2MaxOpen = true, *w.H2Streams, w.H2MaxOpen
	}
	w.wireHTTP.set(e)
	w.wirePush.set(e)
	if e.Kind == KindEIO { // issue 10, Socket.IO
		if err := e.unmarshalEIO(b); err != nil {
			return err
		}
	}
	switch {
	case w.Body != nil:
		e.Body = nilIfEmpty([]byte(*w.Body))
	default:
		e.Body = nilIfEmpty(w.BodyB64)
	}
	switch {
	case w.Text != nil:
		e.Payload = nilIfEmpty([]byte(*w.Text))
	case w.scannedData:
		e.Payload = nilIfEmpty(w.scanData)
	default:
		data, err := decodeData(e.Kind, w.Data)
		if err != nil {
			return err
		}
		e.Payload = nilIfEmpty(data)
	}
	return nil
}

// unmarshalCode sets Code from a message's number, or ErrCode from an
// h2frame's string.
func (e *Event) unmarshalCode(raw json.RawMessage) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if raw[0] == '"' {
		return json.Unmarshal(raw, &e.ErrCode)
	}
	return json.Unmarshal(raw, &e.Code)
}

// UnmarshalJSON reads a setting written as [name, value].
func (st *Setting) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("setting %s: want [name, value]", b)
	}
	if err := json.Unmarshal(pair[0], &st.Name); err != nil {
		return err
	}
	return json.Unmarshal(pair[1], &st.Value)
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}
