package ui

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/coding"
	"github.com/frametap/frametap/ui/contentview"
	"github.com/rivo/tview"
)

// This file shows a body (or a message payload) in the detail pane: with
// its content codings undone (gzip, deflate, br, zstd), then by its type:
// JSON pretty-printed or as paths, an image by its type and size, form
// data and multipart parts listed, text as it is, anything else in hex.
// The v key cycles the ways of showing it.

// Ways of showing a body (the v key).
const (
	bodyAuto  = iota // by its type
	bodyPaths        // JSON as paths, .items[0].id = 7
	bodyText         // as text
	bodyHex          // a hex dump
	bodyModes
)

var bodyModeNames = [bodyModes]string{"by type", "JSON paths", "text", "hex"}

// displayLimit bounds the decoded bytes the detail shows of one body.
const displayLimit = 1 << 20

// pathsMax bounds the lines of the JSON paths view.
const pathsMax = 2000

// shownBody is a body as the detail shows it.
type shownBody struct {
	b       []byte   // what to show: the decoded bytes, or the raw ones
	codings []string // the content codings the body had
	decoded bool     // b is decoded (whole, or the prefix of a body kept in part)
	err     string   // why it was not decoded (an unknown coding, not what it claims): b is raw
}

// bodyOf undoes ev's content codings for display: the decoded body the
// capture holds (--decode-bodies), else the body kept, decoded here (at
// most displayLimit bytes).
func bodyOf(ev *capture.Event) shownBody {
	s := shownBody{b: ev.Body, codings: coding.Parse(headerValues(ev.Headers, "Content-Encoding"))}
	if len(s.codings) == 0 || len(ev.Body) == 0 && len(ev.DecodedBody) == 0 {
		return s
	}
	if len(ev.DecodedBody) > 0 {
		s.b, s.decoded = ev.DecodedBody, true
		return s
	}
	res := coding.Decode(s.codings, ev.Body, displayLimit)
	switch {
	case res.Err == nil,
		errors.Is(res.Err, coding.ErrLimit),
		errors.Is(res.Err, coding.ErrCutShort) && ev.Truncated && res.Len > 0: // what the kept prefix decodes to
		s.b, s.decoded = res.Kept, true
	default:
		s.err = res.Err.Error()
	}
	return s
}

// writeBody writes a request's or response's body section.
func writeBody(sb *strings.Builder, ev *capture.Event, mode int) {
	if ev.BodyLen == 0 && len(ev.Body) == 0 {
		return
	}
	sh := bodyOf(ev)
	fmt.Fprintf(sb, "[gray]body, %s", size(ev.BodyLen))
	if len(sh.codings) > 0 {
		fmt.Fprintf(sb, " %s", coding.Describe(sh.codings))
		switch {
		case ev.Decoded:
			fmt.Fprintf(sb, ", %s decoded", size(ev.DecodedLen))
		case sh.decoded:
			fmt.Fprintf(sb, ", decoded here from the %s kept", size(int64(len(ev.Body))))
		}
	}
	if mode != bodyAuto {
		fmt.Fprintf(sb, " (shown as %s: v)", bodyModeNames[mode])
	}
	sb.WriteString(":[-]\n")
	if ev.DecodeErr != "" {
		fmt.Fprintf(sb, "[red]not decoded: %s[-]\n", tview.Escape(ev.DecodeErr))
	}
	if sh.err != "" && ev.DecodeErr == "" {
		fmt.Fprintf(sb, "[red]not decoded: %s[-]\n", tview.Escape(sh.err))
	}
	if sh.err != "" || ev.DecodeErr != "" && !sh.decoded {
		sb.WriteString("[yellow]shown raw, as it crossed the wire[-]\n")
	}
	full := ev.BodyLen
	if sh.decoded && ev.Decoded {
		full = ev.DecodedLen
	}
	sb.WriteString(content(sh.b, contentType(ev.Headers), headerValue(ev.Headers, "Content-Type"), mode))
	switch {
	case sh.decoded && !ev.Decoded && (ev.Truncated || ev.DecodedTruncated):
		fmt.Fprintf(sb, "[yellow]showing what the first %s kept decode to; the capture file has the rest[-]\n", size(int64(len(ev.Body))))
	case sh.decoded && int64(len(sh.b)) < full:
		fmt.Fprintf(sb, "[yellow]showing the first %s of %s decoded; the capture file has the rest[-]\n", size(int64(len(sh.b))), size(full))
	case !sh.decoded && (ev.Truncated || int64(len(sh.b)) < full):
		fmt.Fprintf(sb, "[yellow]showing the first %s of %s; the capture file has the rest[-]\n", size(int64(len(sh.b))), size(full))
	}
}

// content renders a body or payload: by mode, or by its media type (mt,
// and the whole Content-Type for multipart's boundary) and what it looks
// like.
func content(b []byte, mt, ctype string, mode int) string {
	var sb strings.Builder
	if len(b) == 0 {
		return "[gray](empty)[-]\n"
	}
	switch mode {
	case bodyPaths:
		fs, err := contentview.JSONPaths(b, pathsMax)
		if err != "" && len(fs) == 0 {
			return "[gray]not JSON: shown by type[-]\n" + content(b, mt, ctype, bodyAuto)
		}
		if err != "" {
			fmt.Fprintf(&sb, "[red]%s[-]\n", tview.Escape(err))
		}
		writeFields(&sb, fs, " = ")
		return sb.String()
	case bodyText:
		sb.WriteString(tview.Escape(strings.ToValidUTF8(string(b), "\uFFFD")))
		sb.WriteByte('\n')
		return sb.String()
	case bodyHex:
		writeHex(&sb, b)
		return sb.String()
	}
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	switch {
	case (strings.Contains(mt, "json") || len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[')) && json.Valid(b):
		var out bytes.Buffer
		json.Indent(&out, b, "", "  ")
		sb.WriteString("[gray]JSON (v: as paths)[-]\n")
		sb.WriteString(tview.Escape(out.String()))
		sb.WriteByte('\n')
	case strings.HasPrefix(mt, "image/") || !utf8.Valid(b):
		if img, ok := contentview.ImageInfo(b); ok {
			fmt.Fprintf(&sb, "[::b]%s image, %d×%d[::-]\n", strings.ToUpper(img.Format), img.Width, img.Height)
			writeHex(&sb, b[:min(len(b), 256)])
			break
		}
		if strings.HasPrefix(mt, "image/svg") && utf8.Valid(b) {
			sb.WriteString(tview.Escape(string(b)) + "\n")
			break
		}
		writeHex(&sb, b)
	case mt == "application/x-www-form-urlencoded":
		fs, err := contentview.Form(b)
		fmt.Fprintf(&sb, "[gray]form data, %d %s[-]\n", len(fs), plural(len(fs), "field", "fields"))
		if err != "" {
			fmt.Fprintf(&sb, "[red]%s[-]\n", tview.Escape(err))
		}
		writeFields(&sb, fs, " = ")
	case strings.HasPrefix(mt, "multipart/"):
		writeParts(&sb, b, ctype)
	case printable(b):
		sb.WriteString(tview.Escape(string(b)))
		sb.WriteByte('\n')
	default:
		writeHex(&sb, b)
	}
	return sb.String()
}

// writeParts lists the parts of a multipart body.
func writeParts(sb *strings.Builder, b []byte, ctype string) {
	parts, err := contentview.Multipart(b, ctype)
	fmt.Fprintf(sb, "[gray]multipart, %d %s[-]\n", len(parts), plural(len(parts), "part", "parts"))
	if err != "" {
		fmt.Fprintf(sb, "[red]%s[-]\n", tview.Escape(err))
	}
	for i, p := range parts {
		fmt.Fprintf(sb, "[::b]part %d[::-]", i+1)
		if p.Name != "" {
			fmt.Fprintf(sb, " name=%s", tview.Escape(p.Name))
		}
		if p.Filename != "" {
			fmt.Fprintf(sb, " file=%s", tview.Escape(p.Filename))
		}
		if p.ContentType != "" {
			fmt.Fprintf(sb, " %s", tview.Escape(p.ContentType))
		}
		fmt.Fprintf(sb, ", %s\n", size(int64(p.Size)))
		if img, ok := contentview.ImageInfo(p.Body); ok {
			fmt.Fprintf(sb, "  %s image, %d×%d\n", strings.ToUpper(img.Format), img.Width, img.Height)
		} else if len(p.Body) > 0 {
			fmt.Fprintf(sb, "  %s\n", tview.Escape(glimpse(p.Body, 100)))
		}
	}
}

func writeFields(sb *strings.Builder, fs []contentview.Field, sep string) {
	for _, f := range fs {
		fmt.Fprintf(sb, "[yellow]%s[-]%s%s\n", tview.Escape(f.Name), sep, tview.Escape(f.Value))
	}
}

// writeHex writes a hex dump of at most hexLimit bytes.
func writeHex(sb *strings.Builder, b []byte) {
	k := min(len(b), hexLimit)
	sb.WriteString("[gray]hex dump[-]\n")
	sb.WriteString(tview.Escape(hex.Dump(b[:k])))
	if k < len(b) {
		fmt.Fprintf(sb, "[gray]… %d more bytes held[-]\n", len(b)-k)
	}
}

// bodyToSave returns the bytes the s key saves of ev: the decoded body
// when it has content codings and they decode, else the bytes kept; and
// what they are, for the status line.
func bodyToSave(ev *capture.Event) (b []byte, what string) {
	if ev.Kind == capture.KindMessage {
		what = size(int64(len(ev.Payload))) + " payload"
		if ev.Truncated {
			what += fmt.Sprintf(" (the first %s of %s: the capture file has all)", size(int64(len(ev.Payload))), size(ev.Len))
		}
		return ev.Payload, what
	}
	sh := bodyOf(ev)
	what = size(int64(len(sh.b))) + " body"
	if sh.decoded {
		what += " decoded from " + coding.Describe(sh.codings)
	}
	if ev.Truncated || sh.decoded && ev.DecodedTruncated {
		what += " (kept in part: the capture file has all)"
	}
	return sh.b, what
}
