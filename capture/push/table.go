package push

import (
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// Columns are the headings of the push table, as WriteTable prints them
// and Cells fills them.
var Columns = []string{"HOST", "PUSH", "CONNS", "EXCH", "MSGS", "PAYLOAD", "WIRE", "OVERHEAD/MSG", "OVERHEAD", "MSG/S", "CADENCE", "EMPTY", "HOLD"}

// Cells returns r's values in the order of Columns, "-" where a value does
// not apply to its mechanism.
func (r Row) Cells() []string {
	dash := "-"
	perMsg, share, rate := dash, dash, dash
	if r.Messages > 0 {
		perMsg = strconv.FormatFloat(r.OverheadPerMessage(), 'f', 0, 64)
		rate = formatRate(r.PerSecond())
	}
	if r.Wire > 0 {
		share = strconv.FormatFloat(100*r.OverheadShare(), 'f', 1, 64) + "%"
	}
	msgs, payload := strconv.FormatInt(r.Messages, 10), strconv.FormatInt(r.Payload, 10)
	if r.Mechanism == None { // nothing pushed: its wire bytes are the row's whole cost
		msgs, payload, share = dash, dash, dash
	}
	cadence, empty, hold := dash, dash, dash
	if r.Mechanism == Polling {
		cadence = formatDuration(r.Cadence)
		empty = strconv.FormatFloat(100*r.EmptyShare(), 'f', 0, 64) + "%"
	}
	if r.Mechanism == LongPolling {
		hold = formatDuration(r.Hold)
	}
	return []string{
		r.Host, string(r.Mechanism), strconv.Itoa(r.Conns), strconv.Itoa(r.Exchanges),
		msgs, payload, strconv.FormatInt(r.Wire, 10),
		perMsg, share, rate, cadence, empty, hold,
	}
}

// WriteTable writes rows as an aligned text table with a heading line.
func WriteTable(w io.Writer, rows []Row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(cells []string) {
		for i, c := range cells {
			if i > 0 {
				fmt.Fprint(tw, "\t")
			}
			fmt.Fprint(tw, c)
		}
		fmt.Fprint(tw, "\n")
	}
	line(Columns)
	for _, r := range rows {
		line(r.Cells())
	}
	return tw.Flush()
}

// formatDuration rounds d for a table: ms under a second, else seconds.
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "0"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
