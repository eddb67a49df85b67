package capture

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// This file writes and reads the fields of eio events (issue 10,
// Socket.IO): one Engine.IO packet and the Socket.IO packet it carries.

// appendEIO appends the fields of an eio event, up to its content.
func (e *Event) appendEIO(dst []byte) []byte {
	x := e.EIO
	if x == nil {
		x = &EIO{}
	}
	dst = appendIntField(dst, `,"seq":`, int64(e.Seq))
	dst = appendStream(dst, e.Stream)
	dst = appendStringField(dst, `,"from":`, e.From)
	dst = appendStringField(dst, `,"transport":`, x.Transport)
	dst = appendStringField(dst, `,"type":`, x.Type)
	if x.SID != "" {
		dst = appendStringField(dst, `,"sid":`, x.SID)
	}
	dst = appendIntField(dst, `,"len":`, e.Len)
	if x.Binary {
		dst = appendBoolField(dst, `,"binary":`, true)
	}
	if x.Attachment > 0 {
		dst = appendIntField(dst, `,"attachment":`, int64(x.Attachment))
	}
	if x.SIOType == "" {
		return dst
	}
	dst = appendStringField(dst, `,"sio_type":`, x.SIOType)
	dst = appendStringField(dst, `,"nsp":`, x.Nsp)
	if x.HasAck {
		dst = appendIntField(dst, `,"ack_id":`, x.AckID)
	}
	if x.Event != "" {
		dst = appendStringField(dst, `,"event":`, x.Event)
	}
	if x.Attachments > 0 {
		dst = appendIntField(dst, `,"attachments":`, int64(x.Attachments))
	}
	if x.Args != nil {
		dst = appendRawJSON(dst, "args", x.Args)
	}
	if x.SIOData != nil {
		dst = appendRawJSON(dst, "sio_data", x.SIOData)
	}
	return dst
}

// appendRawJSON appends ,"name":v with v JSON that the decoder checked
// (json.Valid). It is written as sent unless that would break the capture
// format's rules: JSON whitespace with line ends is compacted, so that the
// event stays on one line, and invalid UTF-8 in strings becomes U+FFFD.
// JSON that does not parse after all is written as a string.
func appendRawJSON(dst []byte, name string, v []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	if !utf8.Valid(v) {
		v = bytes.ToValidUTF8(v, []byte("\uFFFD"))
	}
	if bytes.ContainsAny(v, "\r\n") {
		var b bytes.Buffer
		if json.Compact(&b, v) != nil {
			return appendJSONString(dst, string(v))
		}
		v = b.Bytes()
	}
	return append(dst, v...)
}

// eioContent is the content field of an eio event: its data when it is
// not written as Socket.IO fields.
func (e *Event) eioContent() content {
	if len(e.Payload) == 0 {
		return content{}
	}
	if (e.EIO == nil || !e.EIO.Binary) && utf8.Valid(e.Payload) {
		return content{field: "text", p: e.Payload}
	}
	return content{field: "data", p: e.Payload, b64: true}
}

// strLen counts the bytes of x's strings and JSON, for encodedBound; 0
// when x is nil.
func (x *EIO) strLen() int {
	if x == nil {
		return 0
	}
	return len(x.Type) + len(x.Transport) + len(x.SID) + len(x.SIOType) + len(x.Nsp) + len(x.Event) +
		len(x.Args) + len(x.SIOData)
}

// Clone returns a copy of x that shares no memory with it, for an output
// that keeps an event beyond the call that handed it over; nil when x is.
func (x *EIO) Clone() *EIO {
	if x == nil {
		return nil
	}
	c := *x
	c.Args = cloneBytes(x.Args)
	c.SIOData = cloneBytes(x.SIOData)
	return &c
}

func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// wireEIO is what an eio event has beyond the fields every kind shares.
// UnmarshalJSON reads it in a pass of its own, for eio events only, so
// that its names ("type", "event") never collide with another kind's.
type wireEIO struct {
	Type        string          `json:"type"`
	Transport   string          `json:"transport"`
	SID         string          `json:"sid"`
	Binary      bool            `json:"binary"`
	Attachment  int             `json:"attachment"`
	SIOType     string          `json:"sio_type"`
	Nsp         string          `json:"nsp"`
	AckID       *int64          `json:"ack_id"`
	Event       string          `json:"event"`
	Attachments int             `json:"attachments"`
	Args        json.RawMessage `json:"args"`
	SIOData     json.RawMessage `json:"sio_data"`
}

// unmarshalEIO sets e.EIO from the object b.
func (e *Event) unmarshalEIO(b []byte) error {
	var w wireEIO
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	e.FrameType = "" // the h2frame's "type" field, read as such by the first pass
	e.EIO = &EIO{Type: w.Type, Transport: w.Transport, SID: w.SID, Binary: w.Binary, Attachment: w.Attachment,
		SIOType: w.SIOType, Nsp: w.Nsp, Event: w.Event, Attachments: w.Attachments,
		Args: nilIfEmpty([]byte(w.Args)), SIOData: nilIfEmpty([]byte(w.SIOData))}
	if w.AckID != nil {
		e.EIO.HasAck, e.EIO.AckID = true, *w.AckID
	}
	return nil
}
