package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/capture/pcapng"
)

// This file is where frametap's records go besides the dashboard: the
// capture on standard output (-w -), the pcapng file (--pcap) and the TLS
// key log (--keylog), and what happens when standard output's reader goes
// away.

func addOutputFlags(fs *flag.FlagSet, o *options) {
	fs.BoolVar(&o.quiet, "q", false, "quiet: headless, with no line per event, only warnings (mitmdump's -q)")
	fs.BoolVar(&o.quiet, "quiet", false, "same as -q")
	fs.StringVar(&o.pcap, "pcap", "", "write every connection's bytes as frametap relays them (TLS removed) to `FILE` as pcapng for Wireshark (- for standard output)")
	fs.StringVar(&o.keylog, "keylog", "", "append the TLS secrets of both legs of intercepted connections to `FILE` (NSS key log, as SSLKEYLOGFILE), to decrypt a capture of the wire")
}

// errPipeClosed ends frametap when standard output's reader went away:
// frametap -w - | head is done once head is.
var errPipeClosed = errors.New("standard output was closed (broken pipe)")

// outputPlan is where serve's outputs go, from the flags.
type outputPlan struct {
	headless bool      // no dashboard
	text     io.Writer // the headless lines; nil with -q
	textName string
	textOut  bool // text is standard output
}

// planOutputs settles the outputs: -w - and --pcap - take standard output
// (so the headless lines go to standard error), -q and both of those imply
// --headless.
func planOutputs(o options, stdout, stderr io.Writer) (outputPlan, error) {
	if o.write == "-" && o.pcap == "-" {
		return outputPlan{}, errors.New("-w - and --pcap - cannot both have standard output")
	}
	if o.write != "" && o.write == o.pcap {
		return outputPlan{}, fmt.Errorf("-w and --pcap name the same file %s", o.write)
	}
	taken := o.write == "-" || o.pcap == "-"
	plan := outputPlan{headless: o.headless || o.quiet || taken}
	switch {
	case !plan.headless || o.quiet:
	case taken:
		plan.text, plan.textName = stderr, "standard error"
	default:
		plan.text, plan.textName, plan.textOut = stdout, "standard output", true
	}
	return plan, nil
}

// newCaptureLog opens -w's destination: a file, or standard output for -.
func newCaptureLog(path string, stdout io.Writer) (*capture.Log, string, error) {
	if path == "-" {
		return capture.NewLog(stdout, capture.JSON, capture.LogOptions{}), "standard output", nil
	}
	l, err := capture.NewFileLog(path, capture.JSON)
	return l, "capture file " + path, err
}

// newPcap opens --pcap's destination: a file, or standard output for -.
func newPcap(path string, stdout io.Writer) (*pcapng.Writer, error) {
	if path == "-" {
		return pcapng.NewWriter(stdout, pcapng.Options{}), nil
	}
	return pcapng.Create(path, pcapng.Options{})
}

// pipeStopper stops frametap, once, when standard output's reader goes
// away, and says so.
type pipeStopper struct {
	once   sync.Once
	cancel context.CancelCauseFunc
	w      io.Writer   // where to say so
	hit    atomic.Bool // it stopped frametap
}

func (ps *pipeStopper) stop() {
	ps.once.Do(func() {
		ps.hit.Store(true)
		fmt.Fprintln(ps.w, "frametap: standard output was closed (broken pipe): stopping")
		ps.cancel(errPipeClosed)
	})
}

// watchPcapPipe stops frametap when the pcap file on standard output can
// no longer be written because its reader went away. It returns when done
// is closed.
func watchPcapPipe(w *pcapng.Writer, ps *pipeStopper, done <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
			if errors.Is(w.Stats().Err, syscall.EPIPE) {
				ps.stop()
				return
			}
		}
	}
}

// dropPipeErr leaves out of an output's closing error a broken pipe that
// already stopped frametap: it was said when it happened.
func dropPipeErr(err error, ps *pipeStopper) error {
	if ps.hit.Load() && errors.Is(err, syscall.EPIPE) {
		return nil
	}
	return err
}
