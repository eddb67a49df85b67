package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// --help prints the usage on stdout and is not an error, for every
// subcommand (issue 13: it went to stderr with status 2, so
// `frametap --help | less` showed nothing).
func TestHelpOnStdout(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"view", "--help"}, {"demo", "-help"}, {"ca", "--help"}} {
		var out, errOut bytes.Buffer
		err := run(args, &out, &errOut)
		if !errors.Is(err, errHelped) {
			t.Errorf("%q: err %v, want the help answered (status 0)", args, err)
		}
		if !strings.Contains(out.String(), "Usage") || !strings.Contains(out.String(), "-version") || errOut.Len() != 0 {
			t.Errorf("%q: stdout %d bytes (usage: %v), stderr %q", args, out.Len(), strings.Contains(out.String(), "Usage"), errOut.String())
		}
	}
	// A wrong flag is still an error, on stderr, with the way to the help.
	var out, errOut bytes.Buffer
	if err := run([]string{"--bogus"}, &out, &errOut); !errors.Is(err, errFlags) || !strings.Contains(errOut.String(), "frametap --help") || out.Len() != 0 {
		t.Errorf("--bogus: err %v, stderr %q, stdout %q", err, errOut.String(), out.String())
	}
}

func TestVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"--version"}, &out, &errOut); !errors.Is(err, errHelped) || !regexp.MustCompile(`^frametap \S+.* \(Go\)\n$`).MatchString(out.String()) {
		t.Errorf("--version: %v, %q", err, out.String())
	}
}

// Flags may follow the file: `frametap view FILE --headless`.
func TestViewFlagsAfterFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cap.jsonl")
	line := `{"kind":"open","conn":1,"t":"2025-03-14T19:51:02Z","client":"127.0.0.1:1","mode":"regular"}` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"view", path, "--headless"}, {"view", "--headless", path}} {
		var out, errOut bytes.Buffer
		if err := run(args, &out, &errOut); err != nil || !strings.Contains(out.String(), "#1 open") {
			t.Errorf("%q: %v, stdout %q, stderr %q", args, err, out.String(), errOut.String())
		}
	}
	var out, errOut bytes.Buffer
	if err := run([]string{"view", path, path, "--headless"}, &out, &errOut); err == nil {
		t.Error("two files: no error")
	}
}

// -k warns once, in one format (issue 13: twice, in two).
func TestInsecureWarnsOnce(t *testing.T) {
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--headless", "--listen", "127.0.0.1:0", "-k", "--ca-dir", t.TempDir()}, &stdout, &stderr)
	}()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(stderr.String(), "listening on") && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	if err := <-done; err != nil {
		t.Fatalf("run: %v", err)
	}
	if n := len(regexp.MustCompile(`(?i)not verified`).FindAllString(stderr.String(), -1)); n != 1 {
		t.Errorf("-k warned %d times:\n%s", n, stderr.String())
	}
}
