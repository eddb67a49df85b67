package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/decode"
	"github.com/frametap/frametap/proxy"
)

// runReplay is `frametap replay CAPTURE --conn N`: it sends the client side
// of one captured connection again (proxy.Replay) and records what comes
// back as a new capture.
func runReplay(args []string, stdout, stderr io.Writer) error {
	var (
		conn                uint64
		to, write, upCA     string
		maxBody, maxMessage string
		speed               float64
		headless, insecure  bool
	)
	fs := flag.NewFlagSet("frametap replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: frametap replay CAPTURE --conn N [--to URL] [--speed 1|0] [-w OUT] [--headless]

Opens a new connection to the server of connection N of CAPTURE (or to --to)
and sends what its client sent: its HTTP requests in order on one kept-alive
connection, or the WebSocket handshake and the client's messages with their
original spacing (--speed 0: as fast as the server answers), ending with the
client's close. What comes back is decoded as frametap decodes live traffic:
-w writes it as a capture (compare it with the original), --headless prints it.
Headers that cannot be sent as they were (Sec-WebSocket-Key; Host with --to)
are regenerated; frametap says which on stderr.

  frametap replay capture.jsonl --conn 3 --headless
  frametap replay capture.jsonl --conn 3 --to ws://127.0.0.1:9001 --speed 0 -w replay.jsonl

Flags:
`)
		fs.PrintDefaults()
	}
	fs.Uint64Var(&conn, "conn", 0, "the connection `N` to replay, as the capture numbers it")
	fs.StringVar(&to, "to", "", "send to this `URL` (http://, https://, ws://, wss://host:port) instead of the original server")
	fs.Float64Var(&speed, "speed", 1, "1 keeps the original spacing, 2 halves it, 0 sends as fast as the server answers")
	fs.StringVar(&write, "w", "", "write what comes back to `FILE` as a capture (JSON Lines)")
	fs.BoolVar(&headless, "headless", false, "print what comes back as lines on stdout")
	fs.StringVar(&upCA, "upstream-ca", "", "trust the CA certificates in PEM `FILE` for a TLS server, beside the system's")
	fs.BoolVar(&insecure, "k", false, "do not verify a TLS server's certificate")
	fs.StringVar(&maxBody, "max-body", "1MiB", "HTTP body bytes kept per message in events")
	fs.StringVar(&maxMessage, "max-message", "16MiB", "WebSocket payload bytes kept per message in events")
	// The capture comes first, as in the usage line; flags may follow it.
	var path string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		path, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("replay: unexpected argument %q (see -h)", fs.Arg(0))
	}
	if path == "" || conn == 0 {
		fs.Usage()
		return errors.New("replay: want a CAPTURE and --conn N")
	}
	if speed < 0 {
		return errors.New("replay: --speed must be 0 or more")
	}
	mb, err := parseSize(maxBody)
	if err != nil {
		return fmt.Errorf("--max-body: %w", err)
	}
	mm, err := parseSize(maxMessage)
	if err != nil {
		return fmt.Errorf("--max-message: %w", err)
	}
	evs, err := capture.ReadFile(path)
	if err != nil {
		return fmt.Errorf("replay: %w", err)
	}
	var roots *x509.CertPool
	if upCA != "" {
		pemData, err := os.ReadFile(upCA)
		if err != nil {
			return fmt.Errorf("--upstream-ca: %w", err)
		}
		if roots, err = x509.SystemCertPool(); err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pemData) {
			return fmt.Errorf("--upstream-ca: no PEM certificate in %s", upCA)
		}
	}
	var outputs []capture.Output
	var logs []*capture.Log
	if write != "" {
		l, err := capture.NewFileLog(write, capture.JSON)
		if err != nil {
			return err
		}
		logs = append(logs, l)
		outputs = append(outputs, l)
	}
	if headless {
		l := capture.NewLog(stdout, capture.Text, capture.LogOptions{})
		logs = append(logs, l)
		outputs = append(outputs, l)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := proxy.Replay(ctx, proxy.ReplayConfig{
		Events: evs, Conn: conn, To: to, Speed: speed, Outputs: outputs,
		Decode:        decodeConfig(mb, mm),
		UpstreamRoots: roots, Insecure: insecure,
	})
	for _, l := range logs {
		err = errors.Join(err, l.Close())
	}
	if res != nil {
		for _, n := range res.Notes {
			fmt.Fprintln(stderr, "frametap replay: note:", n)
		}
		fmt.Fprintf(stderr, "frametap replay: connection %d to %s: %d requests, %d WebSocket messages sent\n", conn, res.Server, res.Requests, res.Messages)
	}
	return err
}

// decodeConfig is the decoder's bounds from --max-body and --max-message.
func decodeConfig(maxBody, maxMessage int) decode.Config {
	return decode.Config{MaxBody: noneIfZero(maxBody), MaxMessage: noneIfZero(maxMessage)}
}
