package ui

import (
	"context"
	"github.com/frametap/frametap/capture"
	"time"
)

// Quit stops the pump, then the application; Run returns. It is safe for
// concurrent use and may be called more than once.
func (u *UI) Quit() {
	u.quitOnce.Do(func() { close(u.quit) })
}

// Run shows the dashboard until the user quits or ctx is done. It returns
// app.Run's error when the terminal fails, at the start or later.
func (u *UI) Run(ctx context.Context) error {
	go u.pump()
	runDone := u.runDone
	go func() {
		select {
		case <-ctx.Done():
			u.Quit()
		case <-u.quit:
		}
		// Stop the pump first: it may be waiting in QueueUpdateDraw, which
		// only returns while the application runs.
		<-u.pumpDone
		// Stop once the application has drawn, and only once: before its
		// first draw Stop finds no screen and does nothing, and a second
		// Stop races with Run clearing the screen without tview's lock.
		select {
		case <-u.started:
			u.app.Stop()
		case <-runDone:
		}
	}()
	err := u.app.Run()
	close(u.runDone) // the pump stops waiting for updates no one will run
	u.Quit()
	<-u.pumpDone
	return err
}

// pump asks for a refresh at most every Interval, when the store took new
// events or something else changed (a write finished, the capture file
// started failing, lost events or recovered), and once a second for the
// clocks. It starts once the application has drawn (app.Run may fail
// before) and stops on Quit or when app.Run returns.
func (u *UI) pump() {
	defer close(u.pumpDone)
	select {
	case <-u.started:
	case <-u.quit:
		return
	case <-u.runDone:
		return
	}
	t := time.NewTicker(u.cfg.Interval)
	defer t.Stop()
	var (
		last time.Time
		hl   healthNews
	)
	for {
		select {
		case <-u.quit:
			return
		case <-u.runDone:
			return
		case <-t.C:
		}
		changed := int64(u.store.Total()) != u.seen.Load() || u.dirty.Swap(false) || hl.changed(u.cfg.CaptureHealth)
		if !changed && time.Since(last) < time.Second {
			continue
		}
		last = time.Now()
		if !u.queueRefresh() {
			return
		}
		t.Reset(redrawWait(u.cfg.Interval, time.Duration(u.cycle.Load())))
	}
}

// maxRedrawWait is the longest redrawWait spaces redraws: the dashboard
// still moves five times a second under any flood. Keys redraw at once
// whatever it is.
const maxRedrawWait = 200 * time.Millisecond

// redrawWait is how long the pump waits before the next refresh, given
// how long the last refresh and its draw took (cycle): at least interval,
// and ten times cycle up to maxRedrawWait, so that redrawing takes about a
// tenth of a core at most. Under a flood (push 64 B through the dashboard,
// issue 15) the draws at 30 a second took a sixth of the process's CPU
// time, which the relay needed; the events are applied all the same,
// only the screen shows them in fewer steps.
func redrawWait(interval, cycle time.Duration) time.Duration {
	return max(interval, min(10*cycle, maxRedrawWait))
}

// healthNews remembers what the capture file's health last said that the
// status line shows: whether it fails and why, and how many events it lost.
type healthNews struct {
	lost int64
	err  string
}

// changed calls f (if not nil) and reports whether the news differ from
// the last call's.
func (n *healthNews) changed(f func() (written, lost int64, err error)) bool {
	if f == nil {
		return false
	}
	_, lost, err := f()
	now := healthNews{lost: lost}
	if err != nil {
		now.err = err.Error()
	}
	if now == *n {
		return false
	}
	*n = now
	return true
}

// queueRefresh runs refresh on the UI goroutine and redraws. tview's
// QueueUpdateDraw waits until the event loop has run the update, and
// forever once app.Run has returned by itself (the terminal went away), so
// the call waits in a goroutine of its own and queueRefresh gives up when
// app.Run returns; it reports whether the refresh ran. It does not give up
// on Quit: while the application runs the update will run, and Run stops
// the application only after the pump has returned.
func (u *UI) queueRefresh() bool {
	done := make(chan struct{})
	go func() {
		u.app.QueueUpdateDraw(u.refresh)
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-u.runDone:
		return false
	}
}

// refresh applies the new events (unless paused) and updates the widgets.
// It runs on the UI goroutine.
func (u *UI) refresh() {
	select {
	case <-u.quit:
		return
	default:
	}
	u.refreshAt = time.Now()
	u.seen.Store(int64(u.store.Total()))
	if !u.paused {
		u.store.Each(u.st.applied, func(i int, ev *capture.Event) {
			u.st.apply(i, ev)
			u.addPush(ev)
		})
		u.st.settle(u.store)
		if b := u.store.Base(); b != u.base {
			u.base = b
			u.st.trim(b)
			u.st.trimFilter(b, u.store)
			u.tlScanned, u.tlView = 0, nil
			u.resetExchanges() // the rows' indices moved
		}
	}
	u.takeLive()
	u.takeInjectNews()
	u.takeSample()
	u.connView = u.st.visible(u.connView, u.hidden)
	u.updateTimeline()
	if u.follow {
		u.selectLast()
	} else {
		u.clampSelection()
	}
	u.paintSummary()
	u.paintStatus()
	u.paintTitles()
	u.paintPush()
}

// takeLive reads what the Store knows live of the open connections: the
// bytes relayed so far (the BYTES column, exact as they flow) and what an
// exchange in flight is doing (STATE).
func (u *UI) takeLive() {
	if u.paused {
		return
	}
	for _, c := range u.st.conns {
		if c.state == stateClosed {
			c.flight = ""
			continue
		}
		lc := u.store.live(c.id)
		if lc == nil {
			continue
		}
		c.hasLive = true
		c.liveBytes = [2]int64{lc.bytes[0].Load(), lc.bytes[1].Load()}
		c.flight = lc.flight(c.lastReq)
	}
}

func (u *UI) takeSample() {
	if u.cfg.ReadOnly {
		return
	}
	now := u.now()
	wire := u.st.wire
	if n, ok := u.store.relayed(); ok {
		wire = n // the bytes relayed, as they are relayed
	}
	u.samples = append(u.samples, sample{now, u.st.msgs, wire})
	// Keep about two seconds of samples.
	i := 0
	for i < len(u.samples)-2 && now.Sub(u.samples[i+1].t) > time.Second {
		i++
	}
	u.samples = u.samples[i:]
}

// rates returns data messages and wire bytes per second over the last
// second or so.
func (u *UI) rates() (msgs, bytes float64) {
	if len(u.samples) < 2 {
		return 0, 0
	}
	a, b := u.samples[0], u.samples[len(u.samples)-1]
	d := b.t.Sub(a.t).Seconds()
	if d <= 0 {
		return 0, 0
	}
	return float64(b.msgs-a.msgs) / d, float64(b.wire-a.wire) / d
}
