package capture

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// WriteFile's file reads back as the events it was given, and only its
// owner may read it.
func TestWriteFile(t *testing.T) {
	evs := exampleEvents()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := WriteFile(path, evs); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want []byte
	for _, ev := range evs {
		want = ev.AppendJSON(want)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("file holds\n%s\nwant\n%s", got, want)
	}
	r := NewReader(bytes.NewReader(got))
	for i := range evs {
		ev, err := r.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if ev.Kind != evs[i].Kind || ev.Conn != evs[i].Conn {
			t.Errorf("event %d: got %s #%d, want %s #%d", i, ev.Kind, ev.Conn, evs[i].Kind, evs[i].Conn)
		}
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		t.Errorf("mode %v: others may read the capture", perm)
	}
	assertOnly(t, filepath.Dir(path), "out.jsonl")
}

// WriteFile never replaces a file, and says so.
func TestWriteFileKeepsExisting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(path, []byte("mine\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(path, exampleEvents())
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want an error naming %s that wraps fs.ErrExist", err, path)
	}
	if b, _ := os.ReadFile(path); string(b) != "mine\n" {
		t.Errorf("the existing file now holds %q", b)
	}
	assertOnly(t, dir, "out.jsonl")
}

// A write that fails half way (here the file size limit, as a full disk
// would) leaves nothing at path, and no temporary file either.
func TestWriteFileFailsWhole(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		path string
		evs  []*Event
	}{
		{"no name", "", exampleEvents()},
		{"no such directory", filepath.Join(dir, "missing", "out.jsonl"), exampleEvents()},
		{"file size limit", filepath.Join(dir, "big.jsonl"), bigEvents(2 << 20)},
	} {
		var err error
		if tc.name == "file size limit" {
			err = withFileSizeLimit(t, 256<<10, func() error { return WriteFile(tc.path, tc.evs) })
		} else {
			err = WriteFile(tc.path, tc.evs)
		}
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		}
		if tc.path != "" {
			if _, serr := os.Lstat(tc.path); !errors.Is(serr, fs.ErrNotExist) {
				t.Errorf("%s: %s exists after a failed write (%v)", tc.name, tc.path, err)
			}
		}
	}
	assertOnly(t, dir)
}

// bigEvents returns messages of 4 KiB payloads, n bytes in all.
func bigEvents(n int) []*Event {
	p := bytes.Repeat([]byte("x"), 4<<10)
	var evs []*Event
	for range n / len(p) {
		evs = append(evs, &Event{Kind: KindMessage, Conn: 1, From: "server", Op: "text", Len: int64(len(p)), Payload: p})
	}
	return evs
}

// withFileSizeLimit runs f while the process may not write a file past
// limit bytes: a write past it fails with EFBIG (the Go runtime ignores
// SIGXFSZ), as a write to a full disk fails with ENOSPC.
func withFileSizeLimit(t *testing.T, limit uint64, f func() error) error {
	t.Helper()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip("no RLIMIT_FSIZE:", err)
	}
	lim := old
	lim.Cur = limit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skip("cannot set RLIMIT_FSIZE:", err)
	}
	err := f()
	if rerr := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old); rerr != nil {
		t.Fatalf("restoring RLIMIT_FSIZE: %v", rerr)
	}
	if !errors.Is(err, syscall.EFBIG) {
		t.Errorf("under a file size limit: got %v, want EFBIG", err)
	}
	return err
}

// assertOnly fails unless dir holds exactly the files names.
func assertOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		if !e.IsDir() {
			got = append(got, e.Name())
		}
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}
