package decode

import (
	"bytes"
	"errors"
	"fmt"
)

// This file puts the Engine.IO and Socket.IO parsers together for a
// caller that relays a session: one polling body, or one WebSocket
// message, in, each packet out with the Socket.IO packet it carries, and
// one error for the whole body or message.

// ErrEIOCut reports a polling body or WebSocket message that was kept only
// up to the decoding bound (--max-body, --max-message): the packet the cut
// falls in, and those after it, are not decoded.
var ErrEIOCut = errors.New("engine.io payload cut at the decoding bound")

// EIOItem is one Engine.IO packet of a polling body or a WebSocket message,
// as DecodeEIOBody and DecodeEIOMessage hand it out, valid during the call
// only: its slices share the input's memory.
type EIOItem struct {
	EIOPacket
	// SID is the session an open packet's handshake names; "" on other
	// packets.
	SID string
	// SIO is the Socket.IO packet a text message packet carries, when
	// HasSIO (Socket.IO is decoded, and the packet is a text message).
	SIO    SIOPacket
	HasSIO bool
	// Attachment is set on a binary message packet that is an attachment
	// of the BINARY_EVENT or BINARY_ACK before it: its number from 1, the
	// placeholder whose num is Attachment-1. 0 otherwise.
	Attachment int
}

// EIOOptions says how to decode one body or message.
type EIOOptions struct {
	Version int // the EIO query parameter: 3 or 4
	// SIO, if not nil, is the Socket.IO stream of the side that sent the
	// packets (it pairs binary packets with their attachments across the
	// bodies and messages of a session): text message packets are decoded
	// as Socket.IO packets. If nil, only Engine.IO is decoded.
	SIO *SIOStream
	// Truncated says the input was cut at a bound: the packet the cut
	// falls in is dropped, and ErrEIOCut reported.
	Truncated bool
}

// DecodeEIOBody decodes a polling body (a POST's, or the response to a
// GET) and calls emit for each of its packets in order. It returns the
// first problem of the body, wrapped with how many more there were, or
// nil: a caller reports it once per body.
func DecodeEIOBody(body []byte, o EIOOptions, emit func(*EIOItem)) error {
	var errs eioErrs
	if o.Truncated {
		body = eioUncut(body, o.Version, &errs)
	}
	if len(body) == 0 {
		return errs.err()
	}
	pks, err := ParseEIOPayload(body, o.Version)
	errs.note(err)
	var it EIOItem
	for _, pk := range pks {
		eioItem(&it, pk, o, &errs)
		emit(&it)
	}
	return errs.err()
}

// DecodeEIOMessage decodes one WebSocket message (a text or binary
// message, not a control frame) as one Engine.IO packet and calls emit
// with it, unless the message was cut (Truncated): then it reports
// ErrEIOCut and emits nothing.
func DecodeEIOMessage(msg []byte, binary bool, o EIOOptions, emit func(*EIOItem)) error {
	if o.Truncated {
		return fmt.Errorf("%w: a %d-byte WebSocket message kept in part: not decoded", ErrEIOCut, len(msg))
	}
	var errs eioErrs
	pk, err := ParseEIOMessage(msg, binary, o.Version)
	errs.note(err)
	var it EIOItem
	eioItem(&it, pk, o, &errs)
	emit(&it)
	return errs.err()
}

// eioItem fills it with pk and what it carries.
func eioItem(it *EIOItem, pk EIOPacket, o EIOOptions, errs *eioErrs) {
	*it = EIOItem{EIOPacket: pk}
	switch {
	case pk.Type == EIOOpen:
		if h, err := ParseEIOOpen(pk.Data); err == nil {
			it.SID = h.SID
		}
	case pk.Type != EIOMessage || o.SIO == nil:
	case pk.Binary:
		n, _, err := o.SIO.Binary()
		errs.note(err)
		it.Attachment = n
	default:
		sp, err := o.SIO.Text(pk.Data)
		errs.note(err)
		it.SIO, it.HasSIO = sp, true
	}
}

// eioUncut drops the end of a body cut at a bound: a v4 body after its
// last record separator, a v3 body from the packet its length prefixes
// do not reach.
func eioUncut(body []byte, version int, errs *eioErrs) []byte {
	keep := 0
	if len(body) > 0 && body[0] > 1 && version != 3 {
		keep = max(bytes.LastIndexByte(body, 0x1e), 0)
	} else {
		keep = eioV3Whole(body)
	}
	errs.note(fmt.Errorf("%w: the packets from byte %d of the body on are not decoded", ErrEIOCut, keep))
	return body[:keep]
}

// eioV3Whole is how many bytes of a v3 payload hold whole packets.
func eioV3Whole(body []byte) int {
	whole := 0
	var pks []EIOPacket
	if len(body) > 0 && body[0] <= 1 {
		pks = eioV3Binary(body, func(error) {})
	} else {
		pks = eioV3Text(body, func(error) {})
	}
	for _, pk := range pks {
		if pk.Type == EIOInvalid && pk.Offset+pk.Len == len(body) {
			break
		}
		whole = pk.Offset + pk.Len
	}
	return whole
}

// eioErrs keeps the first problem of a body and counts the others.
type eioErrs struct {
	first error
	more  int
}

func (e *eioErrs) note(err error) {
	switch {
	case err == nil:
	case e.first == nil:
		e.first = err
	default:
		e.more++
	}
}

func (e *eioErrs) err() error {
	if e.more > 0 {
		return fmt.Errorf("%w (and %d more problems)", e.first, e.more)
	}
	return e.first
}
