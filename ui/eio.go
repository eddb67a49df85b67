package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/rivo/tview"

	"github.com/frametap/frametap/capture"
)

// This file renders eio events (issue 10, Socket.IO) in the timeline and
// the detail pane: one row per Engine.IO packet, the Socket.IO packet it
// carries in words.

// eioOf returns ev's Engine.IO fields, empty ones when it has none.
func eioOf(ev *capture.Event) *capture.EIO {
	if ev.EIO == nil {
		return &capture.EIO{}
	}
	return ev.EIO
}

// eioWhat is an eio event's WHAT: "SIO EVENT chat /admin ack 3" for a
// Socket.IO packet, "EIO ping polling" for an Engine.IO one.
func eioWhat(ev *capture.Event) string {
	x := eioOf(ev)
	if x.SIOType == "" {
		s := "EIO " + x.Type + " " + x.Transport
		if x.Attachment > 0 {
			s += fmt.Sprintf(" attachment %d %s", x.Attachment, size(ev.Len))
		}
		return s
	}
	s := "SIO " + x.SIOType
	if x.Event != "" {
		s += " " + strconv.Quote(x.Event)
	}
	if x.Nsp != "/" {
		s += " " + x.Nsp
	}
	if x.HasAck {
		s += " ack " + strconv.FormatInt(x.AckID, 10)
	}
	if x.Attachments > 0 {
		s += fmt.Sprintf(" +%d bin", x.Attachments)
	}
	return s + " " + x.Transport
}

// eioPreview is an eio event's PREVIEW: its arguments, its JSON or its
// data.
func eioPreview(ev *capture.Event) string {
	x := eioOf(ev)
	switch {
	case x.Args != nil:
		return glimpse(x.Args, 80)
	case x.SIOData != nil:
		return glimpse(x.SIOData, 80)
	}
	return glimpse(ev.Payload, 80)
}

// writeEIODetail writes an eio event's fields for the detail pane.
func writeEIODetail(sb *strings.Builder, ev *capture.Event) {
	x := eioOf(ev)
	fmt.Fprintf(sb, "\nEngine.IO %s packet from %s over %s, %s on the wire\n", x.Type, ev.From, x.Transport, size(ev.Len))
	if x.SID != "" {
		fmt.Fprintf(sb, "session    %s\n", tview.Escape(x.SID))
	}
	if ev.Seq > 0 {
		fmt.Fprintf(sb, "exchange   #%d\n", ev.Seq)
	}
	if x.Attachment > 0 {
		fmt.Fprintf(sb, "attachment %d of the binary packet before it (placeholder num %d)\n", x.Attachment, x.Attachment-1)
	}
	if x.SIOType != "" {
		fmt.Fprintf(sb, "\n[::b]Socket.IO %s[::-]\nnamespace  %s\n", x.SIOType, tview.Escape(x.Nsp))
		if x.Event != "" {
			fmt.Fprintf(sb, "event      %s\n", tview.Escape(strconv.Quote(x.Event)))
		}
		if x.HasAck {
			fmt.Fprintf(sb, "ack id     %d\n", x.AckID)
		}
		if x.Attachments > 0 {
			fmt.Fprintf(sb, "attachments %d\n", x.Attachments)
		}
		if x.Args != nil {
			sb.WriteString("\n[::b]args[::-]\n" + content(x.Args, "application/json", "", 0))
		}
		if x.SIOData != nil {
			sb.WriteString("\n[::b]data[::-]\n" + content(x.SIOData, "application/json", "", 0))
		}
	}
	if len(ev.Payload) > 0 {
		sb.WriteString("\n[::b]data[::-]\n" + content(ev.Payload, "", "", 0))
	}
}
