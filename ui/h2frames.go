package ui

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/frametap/frametap/capture"
	"github.com/gdamore/tcell/v2"
	"github.com/rivo/tview"
)

// This file is the HTTP/2 frames view (the F key, issue 9): every frame
// of the selected connection in wire order, both ways, with its type,
// flags, stream, length and what its payload says (settings, window
// increments, pings, GOAWAY), so that streams interleaving show.

// framesTable is the selected connection's HTTP/2 frames, one per row.
type framesTable struct {
	tview.TableContentReadOnly
	u *UI
}

var framesHeader = []string{"TIME", "", "TYPE", "STREAM", "FLAGS", "LEN", "DETAIL"}

// framesSpecs caps every column but DETAIL.
func framesSpecs(int) []colSpec {
	return []colSpec{{min: 7, max: 10}, {min: 1, max: 1}, {min: 13, max: 13}, {min: 1, max: 6}, {min: 11, max: 33}, {min: 3, max: 7}, {min: 10, pref: 16, flex: true}}
}

func (t framesTable) GetRowCount() int    { return 1 + len(t.u.tlView) }
func (t framesTable) GetColumnCount() int { return len(framesHeader) }

func (t framesTable) GetCell(row, col int) *tview.TableCell {
	if row < 0 || row > len(t.u.tlView) || col < 0 || col >= len(framesHeader) {
		return nil
	}
	tb := t.u.timeline
	if row == 0 {
		return tb.sized(header(framesHeader[col]), col, col == 6)
	}
	ev := t.u.store.At(t.u.tlView[row-1])
	if ev == nil {
		if col == 6 {
			return tb.sized(cell("("+t.u.droppedWhere()+")", tcell.ColorGray), col, true)
		}
		return cell("", tcell.ColorGray)
	}
	color := eventColor(ev)
	switch col {
	case 0, 4, 5:
		color = tcell.ColorGray
	case 6:
		color = tcell.ColorSilver
	}
	if col == 2 && (ev.FrameType == "RST_STREAM" || ev.FrameType == "GOAWAY" && ev.ErrCode != "NO_ERROR") {
		color = tcell.ColorRed
	}
	return tb.sized(cell(t.text(row, col), color), col, col == 6)
}

func (t framesTable) text(row, col int) string {
	if row == 0 {
		return framesHeader[col]
	}
	c, ev := t.u.tlEvent(row)
	if ev == nil {
		return ""
	}
	switch col {
	case 0:
		return rel(ev.Time, c.opened)
	case 1:
		return arrow(ev)
	case 2:
		return ev.FrameType
	case 3:
		return strconv.FormatUint(uint64(ev.Stream), 10)
	case 4:
		return h2Flags(ev.FrameType, ev.Flags)
	case 5:
		return strconv.FormatInt(ev.Len, 10)
	case 6:
		return h2FrameDetail(ev)
	}
	return ""
}

// h2FlagNames names the flags of each frame type (RFC 9113 section 6).
var h2FlagNames = map[string][]struct {
	bit  uint8
	name string
}{
	"DATA":          {{0x1, "END_STREAM"}, {0x8, "PADDED"}},
	"HEADERS":       {{0x1, "END_STREAM"}, {0x4, "END_HEADERS"}, {0x8, "PADDED"}, {0x20, "PRIORITY"}},
	"SETTINGS":      {{0x1, "ACK"}},
	"PING":          {{0x1, "ACK"}},
	"PUSH_PROMISE":  {{0x4, "END_HEADERS"}, {0x8, "PADDED"}},
	"CONTINUATION":  {{0x4, "END_HEADERS"}},
	"RST_STREAM":    nil,
	"GOAWAY":        nil,
	"WINDOW_UPDATE": nil,
}

// h2Flags names a frame's flags; flags its type does not define show in
// hex.
func h2Flags(typ string, flags uint8) string {
	var names []string
	for _, f := range h2FlagNames[typ] {
		if flags&f.bit != 0 {
			names = append(names, f.name)
			flags &^= f.bit
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("0x%02x", flags))
	}
	return strings.Join(names, " ")
}

// h2FrameDetail says what a frame's payload does.
func h2FrameDetail(ev *capture.Event) string {
	switch ev.FrameType {
	case "SETTINGS":
		if ev.Ack {
			return "ack"
		}
		parts := make([]string, len(ev.Settings))
		for i, s := range ev.Settings {
			parts[i] = fmt.Sprintf("%s=%d", s.Name, s.Value)
		}
		if len(parts) == 0 {
			return "(none)"
		}
		return strings.Join(parts, " ")
	case "WINDOW_UPDATE":
		return "+" + strconv.FormatUint(uint64(ev.Increment), 10)
	case "PING":
		if ev.Ack {
			return "ack"
		}
		return "ping"
	case "GOAWAY":
		return fmt.Sprintf("last stream %d, %s", ev.LastStream, ev.ErrCode)
	case "RST_STREAM":
		return ev.ErrCode
	case "PUSH_PROMISE":
		return "promised stream " + strconv.FormatUint(uint64(ev.Promised), 10)
	}
	return ""
}

// h2FrameWhat is what(ev) for an h2frame: "HEADERS s3 END_STREAM END_HEADERS 42 B".
func h2FrameWhat(ev *capture.Event) string {
	s := fmt.Sprintf("%s s%d", ev.FrameType, ev.Stream)
	if f := h2Flags(ev.FrameType, ev.Flags); f != "" {
		s += " " + f
	}
	return s + " " + size(ev.Len)
}

// writeH2Frame is the detail of an h2frame event.
func writeH2Frame(sb *strings.Builder, ev *capture.Event) {
	flags := h2Flags(ev.FrameType, ev.Flags)
	if flags == "" {
		flags = "none"
	}
	fmt.Fprintf(sb, "\nfrom %s, type %s, stream %d, flags 0x%02x (%s), %d bytes of payload\n",
		ev.From, ev.FrameType, ev.Stream, ev.Flags, flags, ev.Len)
	if ev.FrameType == "SETTINGS" && !ev.Ack {
		for _, s := range ev.Settings {
			fmt.Fprintf(sb, "  %-24s %d\n", s.Name, s.Value)
		}
	} else if d := h2FrameDetail(ev); d != "" {
		sb.WriteString(tview.Escape(d) + "\n")
	}
}

// updateFrames brings the frames view's rows up to date with c's h2frame
// events, keeping those the filter lets through.
func (u *UI) updateFrames(c *conn) {
	var frames []int
	if c.h2 != nil {
		frames = c.h2.frames
	}
	f := u.st.filter
	if f == nil {
		u.tlView, u.tlScanned = frames, len(frames)
		return
	}
	if u.tlScanned > len(frames) || u.tlScanned == 0 || u.fv.tlJudged != c.fm.judged {
		u.tlView, u.tlScanned = nil, 0
		u.fv.tlJudged = c.fm.judged
	}
	for _, i := range frames[u.tlScanned:] {
		if f.match(i) {
			u.tlView = append(u.tlView, i)
		}
	}
	u.tlScanned = len(frames)
}

// toggleFrames switches the timeline pane to the HTTP/2 frames view, or
// from it back to the exchanges view.
func (u *UI) toggleFrames() {
	u.shown = shownRow{}
	if u.view == viewH2Frames {
		u.setView(viewExchanges)
		return
	}
	u.setView(viewH2Frames)
}
