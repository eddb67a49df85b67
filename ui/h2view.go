package ui

// This file is how the exchanges view shows an HTTP/2 connection: its
// rows carry their stream id (STREAM, in place of the keep-alive #) and
// the lanes of the streams open when the exchange began (LANES, h2.go),
// so that overlapping streams show as parallel lanes.

// Columns of the exchanges view beyond exchangesHeader's, for HTTP/2.
const (
	xcStream = xcDuration + 1 + iota // the stream id
	xcLanes                          // the streams open when it began
)

// The exchanges view's columns, as indices of xHeader: HTTP/1.x and HTTP/2.
var (
	xcolsH1 = []int{xcTime, xcSeq, xcMethod, xcPath, xcStatus, xcType, xcSize, xcDuration}
	xcolsH2 = []int{xcTime, xcStream, xcLanes, xcMethod, xcPath, xcStatus, xcType, xcSize, xcDuration}
)

// xcols returns the columns of the exchanges view for the connection it
// shows.
func (u *UI) xcols() []int {
	if c := u.tlConn; c != nil && c.h2 != nil {
		return xcolsH2
	}
	return xcolsH1
}

// xHeader names column col of the exchanges view.
func xHeader(col int) string {
	switch col {
	case xcStream:
		return "STREAM"
	case xcLanes:
		return "LANES"
	}
	return exchangesHeader[col]
}

// xSpecs sizes the exchanges view's columns, as exchangesSpecs does.
func (u *UI) xSpecs(width int) []colSpec {
	base := exchangesSpecs(width)
	cols := u.xcols()
	specs := make([]colSpec, len(cols))
	for i, col := range cols {
		switch col {
		case xcStream:
			specs[i] = colSpec{min: 1, max: 6}
		case xcLanes:
			specs[i] = colSpec{min: 1, max: maxLanes + 1}
		default:
			specs[i] = base[col]
		}
	}
	return specs
}
