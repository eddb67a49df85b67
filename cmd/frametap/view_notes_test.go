package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/frametap/frametap/capture"
	"github.com/frametap/frametap/ui"
)

// frametap view of a HAR and of a capture written with --filter: the
// events of no connection (the HAR's note, the meta) are not a connection
// #0; the status line says what they say.
func TestViewNotesNoConnectionZero(t *testing.T) {
	t0 := time.Date(2025, 3, 14, 19, 0, 0, 0, time.UTC)
	filtered := filepath.Join(t.TempDir(), "filtered.jsonl")
	if err := capture.WriteFile(filtered, []*capture.Event{
		{Kind: capture.KindMeta, Time: t0, Filter: "~c 404"},
		{Kind: capture.KindOpen, Conn: 3, Time: t0, Client: "127.0.0.1:40000", Mode: "regular"},
		{Kind: capture.KindRequest, Conn: 3, Time: t0, Seq: 1, Method: "GET", Target: "/missing", Host: "x", Proto: "HTTP/1.1"},
		{Kind: capture.KindResponse, Conn: 3, Time: t0, Seq: 1, Status: 404, Proto: "HTTP/1.1"},
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{filepath.Join("..", "..", "capture", "har", "testdata", "h2.har"), "h2.har, written by frametap (NOTE rows say more)"},
		{filtered, "written with --filter ~c 404"},
	} {
		if _, err := os.Stat(tc.path); err != nil {
			t.Fatal(err)
		}
		st := ui.NewStore(0)
		if _, err := loadCapture(tc.path, st); err != nil {
			t.Fatal(err)
		}
		text := ui.RenderOnce(ui.Config{ReadOnly: true, Source: tc.path}, st, 200, 50)
		if strings.Contains(text, "#0 ") || !strings.Contains(text, tc.want) {
			t.Errorf("view %s: a connection #0, or no %q:\n%s", tc.path, tc.want, text)
		}
	}
}
