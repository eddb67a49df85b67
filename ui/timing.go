package ui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// This file draws an exchange's timings as a small waterfall, as a
// browser's network panel does: connect, TLS, send, wait (time to first
// byte) and receive, each a bar starting where the one before ended.

// waterfallMax is the widest the bars get; they shrink to fit the detail
// pane.
const waterfallMax = 40

// phase is one bar of the waterfall.
type phase struct {
	name string
	d    time.Duration
	note string // after the bar: why it is missing, what it is
}

// phasesOf returns an exchange's phases from its response event (nil when
// the response has no timings).
func phasesOf(resp *capture.Event) []phase {
	if resp == nil || !resp.Timed && resp.Connect <= 0 {
		return nil
	}
	var ps []phase
	if resp.Connect > 0 {
		ps = append(ps, phase{name: "connect", d: resp.Connect, note: "TCP connect"})
	}
	if resp.TLSTime > 0 {
		ps = append(ps, phase{name: "tls", d: resp.TLSTime, note: "TLS handshake"})
	}
	if resp.Timed {
		ps = append(ps, phase{name: "send", d: resp.Send, note: "request sent"})
		if resp.Wait >= 0 {
			ps = append(ps, phase{name: "wait", d: resp.Wait, note: "time to first byte"})
		} else {
			ps = append(ps, phase{name: "wait", d: -1, note: "the response began before the request ended"})
		}
		ps = append(ps, phase{name: "receive", d: resp.Receive, note: "response"})
	}
	return ps
}

// writeWaterfall writes the phases as bars scaled to their total, in a
// pane width columns wide. reused says the connection was reused (no
// connect).
func writeWaterfall(sb *strings.Builder, ps []phase, reused bool, width int) {
	bars := min(waterfallMax, max(10, width-2-8-1-9-1-1-19))
	var total time.Duration
	for _, p := range ps {
		total += max(p.d, 0)
	}
	fmt.Fprintf(sb, "[::b]timing[::-] [gray]%s in all", duration(total))
	if reused {
		sb.WriteString(", on a reused connection (no connect)")
	}
	sb.WriteString("[-]\n")
	at := time.Duration(0)
	for _, p := range ps {
		if p.d < 0 {
			fmt.Fprintf(sb, "  %-8s %9s  [gray]%s[-]\n", p.name, "—", p.note)
			continue
		}
		from, to := cells(at, total, bars), cells(at+p.d, total, bars)
		bar := strings.Repeat(" ", from)
		if to > from {
			bar += "[" + phaseColor(p.name) + "]" + strings.Repeat("█", to-from) + "[-]"
		} else {
			bar += "[" + phaseColor(p.name) + "]▏[-]"
			to++
		}
		bar += strings.Repeat(" ", max(0, bars-to))
		fmt.Fprintf(sb, "  %-8s %9s %s [gray]%s[-]\n", p.name, duration(p.d), bar, p.note)
		at += p.d
	}
}

// cells is where t falls on a bar bars wide for total.
func cells(t, total time.Duration, bars int) int {
	if total <= 0 {
		return 0
	}
	return int(math.Round(float64(t) / float64(total) * float64(bars)))
}

func phaseColor(name string) string {
	switch name {
	case "connect":
		return "orange"
	case "tls":
		return "fuchsia"
	case "send":
		return "green"
	case "wait":
		return "gray"
	}
	return "aqua"
}
