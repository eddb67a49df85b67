package har

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// MaxFileSize bounds the HAR Read takes in, after inflating a compressed
// one (a small .zhar can inflate to any size): a HAR is one JSON document,
// read whole, and browsers write bodies into it.
const MaxFileSize = 1 << 30

// File is a HAR as Read finds it: what every writer agrees on, and the
// custom fields of Chrome DevTools, HTTP Toolkit and frametap, read
// leniently (a number written as a string, a null where a number belongs)
// because writers differ.
type File struct {
	Version string
	Creator Creator
	Entries []InEntry
}

// InEntry is an entry as read.
type InEntry struct {
	StartedDateTime string     `json:"startedDateTime"`
	Time            flexNum    `json:"time"`
	Request         InRequest  `json:"request"`
	Response        InResponse `json:"response"` // zero when missing or null
	Timings         InTimings  `json:"timings"`
	ServerIPAddress flexString `json:"serverIPAddress"`
	Connection      flexString `json:"connection"`

	ConnectionID      flexString    `json:"_connectionId"`
	ResourceType      string        `json:"_resourceType"`
	WebSocketMessages []InWSMessage `json:"_webSocketMessages"`
	// WebSocketClose is frametap's or HTTP Toolkit's object, or HTTP
	// Toolkit's "aborted".
	WebSocketClose json.RawMessage `json:"_webSocketClose"`
	Seq            flexNum         `json:"_seq"`
	Stream         flexNum         `json:"_stream"`
}

// InRequest is a request as read.
type InRequest struct {
	Method      string        `json:"method"`
	URL         string        `json:"url"`
	HTTPVersion string        `json:"httpVersion"`
	Headers     []inNameValue `json:"headers"`
	BodySize    flexNum       `json:"bodySize"`
	PostData    *struct {
		MimeType string     `json:"mimeType"`
		Text     flexString `json:"text"`
	} `json:"postData"`
	Trailers []inNameValue `json:"_trailers"`
	Content  *InContent    `json:"_content"` // HTTP Toolkit's body that is not UTF-8
}

// InResponse is a response as read.
type InResponse struct {
	Status      flexNum       `json:"status"`
	StatusText  string        `json:"statusText"`
	HTTPVersion string        `json:"httpVersion"`
	Headers     []inNameValue `json:"headers"`
	Content     InContent     `json:"content"`
	BodySize    flexNum       `json:"bodySize"`
	Error       flexString    `json:"_error"`
	Trailers    []inNameValue `json:"_trailers"`
}

// InContent is a body as read.
type InContent struct {
	Size     flexNum    `json:"size"`
	MimeType string     `json:"mimeType"`
	Text     flexString `json:"text"`
	Encoding string     `json:"encoding"`
}

// InTimings are an entry's timings as read; a missing or null one is
// unknown.
type InTimings struct {
	Blocked flexNum `json:"blocked"`
	DNS     flexNum `json:"dns"`
	Connect flexNum `json:"connect"`
	SSL     flexNum `json:"ssl"`
	Send    flexNum `json:"send"`
	Wait    flexNum `json:"wait"`
	Receive flexNum `json:"receive"`
}

// InWSMessage is a WebSocket message as read: Chrome's four fields, and
// frametap's own when frametap wrote the HAR.
type InWSMessage struct {
	Type       string     `json:"type"`
	Time       flexNum    `json:"time"`
	Opcode     flexNum    `json:"opcode"`
	Data       flexString `json:"data"`
	Frames     flexNum    `json:"_frames"`
	Compressed bool       `json:"_compressed"`
	WireLength flexNum    `json:"_wireLength"`
	Length     flexNum    `json:"_length"`
	Truncated  bool       `json:"_truncated"`
	Encoding   string     `json:"_encoding"`
}

// inNameValue is a header as read: a value written as a number is
// taken as its text.
type inNameValue struct {
	Name  flexString `json:"name"`
	Value flexString `json:"value"`
}

// flexNum is a number that may be written as a string, or be null or
// missing (Set false).
type flexNum struct {
	V   float64
	Set bool
}

func (n *flexNum) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*n = flexNum{}
		return nil
	}
	s = strings.Trim(s, `"`)
	if s == "" {
		*n = flexNum{}
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*n = flexNum{V: v, Set: true}
	return nil
}

// known returns the number when it is set and not negative (HAR's -1 is
// "unknown").
func (n flexNum) known() (float64, bool) {
	return n.V, n.Set && n.V >= 0
}

// flexString is a string that may be written as a number or a boolean, or
// be null or missing (Set false).
type flexString struct {
	V   string
	Set bool
}

func (s *flexString) UnmarshalJSON(b []byte) error {
	switch {
	case bytes.Equal(b, []byte("null")):
		*s = flexString{}
	case len(b) > 0 && b[0] == '"':
		var v string
		if err := json.Unmarshal(b, &v); err != nil {
			return err
		}
		*s = flexString{V: v, Set: true}
	default:
		*s = flexString{V: string(b), Set: true}
	}
	return nil
}

// Errors of Read.
var (
	ErrNotHAR = errors.New("not a HAR: no log.entries array")
	ErrTooBig = fmt.Errorf("larger than %d bytes", MaxFileSize)
)

// Read reads a HAR document. A .zhar (zlib, as mitmproxy writes it) or
// gzip-compressed one is inflated first. It fails on input that is not a
// JSON object with log.entries, or whose entries are not objects; an
// error names the entry.
func Read(r io.Reader) (*File, error) {
	br := bufio.NewReader(r)
	var src io.Reader = br
	packed := ""
	if magic, _ := br.Peek(2); len(magic) == 2 {
		var err error
		switch {
		case magic[0] == 0x1f && magic[1] == 0x8b:
			packed = "gzip"
			src, err = gzip.NewReader(br)
		case magic[0] == 0x78 && (uint16(magic[0])<<8|uint16(magic[1]))%31 == 0:
			packed = "zlib"
			src, err = zlib.NewReader(br)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", packed, err)
		}
	}
	b, err := io.ReadAll(io.LimitReader(src, MaxFileSize+1))
	if err != nil {
		if packed != "" {
			err = fmt.Errorf("%s: %w", packed, err)
		}
		return nil, err
	}
	if len(b) > MaxFileSize {
		return nil, ErrTooBig
	}
	var doc struct {
		Log *struct {
			Version string            `json:"version"`
			Creator Creator           `json:"creator"`
			Entries []json.RawMessage `json:"entries"`
		} `json:"log"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("not a HAR: %w", err)
	}
	if doc.Log == nil || doc.Log.Entries == nil {
		return nil, ErrNotHAR
	}
	f := &File{Version: doc.Log.Version, Creator: doc.Log.Creator, Entries: make([]InEntry, len(doc.Log.Entries))}
	for i, raw := range doc.Log.Entries {
		if err := json.Unmarshal(raw, &f.Entries[i]); err != nil {
			return nil, fmt.Errorf("log.entries[%d]: %w", i, err)
		}
	}
	return f, nil
}

// Sniff reports whether the start of a file is a HAR rather than a
// capture: a JSON object whose first key is "log" (every writer puts it
// first, as it is the only one), or zlib or gzip data.
func Sniff(head []byte) bool {
	if len(head) >= 2 && (head[0] == 0x1f && head[1] == 0x8b || head[0] == 0x78 && (uint16(head[0])<<8|uint16(head[1]))%31 == 0) {
		return true
	}
	head = bytes.TrimLeft(head, " \t\r\n\ufeff")
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	if len(head) == 0 || head[0] != '{' {
		return false
	}
	head = bytes.TrimLeft(head[1:], " \t\r\n")
	return bytes.HasPrefix(head, []byte(`"log"`))
}
