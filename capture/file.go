package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
)

// WriteFile writes evs to a new file at path in the capture format (one
// JSON object per line, as AppendJSON writes it), readable and writable by
// its owner only: captures hold cookies and tokens.
//
// The events go to a temporary file beside path, which takes the name
// path only once every byte is written and synced: a write that fails
// (a full disk, a quota) leaves no file, and no cut line, at path. It
// never replaces a file: when path exists the error wraps fs.ErrExist.
// Events are encoded one at a time, so the memory used does not grow
// with len(evs).
//
// WriteFile is safe for concurrent use with distinct paths; evs must not
// change while it runs (events are immutable once published).
func WriteFile(path string, evs []*Event) error {
	return WriteFileSeq(path, slices.Values(evs))
}

// WriteFileSeq is WriteFile for events that come one at a time: each is
// encoded before the next is asked for, so an event may be valid only
// until then (the dashboard's store makes its slim events in one scratch
// Event).
func WriteFileSeq(path string, evs iter.Seq[*Event]) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("capture file %s: %w", path, err)
		}
	}()
	if path == "" {
		return errors.New("no file name")
	}
	// Fail before writing what could not be kept anyway.
	if _, err := os.Lstat(path); err == nil {
		return fs.ErrExist
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.tmp") // mode 0600
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // after the link below, path keeps the bytes
	if err := writeEvents(f, evs); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return place(tmp, path)
}

// writeEvents writes evs to f as JSON Lines and syncs them to disk.
func writeEvents(f *os.File, evs iter.Seq[*Event]) error {
	w := bufio.NewWriterSize(f, 64<<10)
	var buf []byte
	for ev := range evs {
		buf = ev.AppendJSON(buf[:0])
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Sync()
}

// place gives the written file tmp the name path, unless a file has that
// name. A hard link does it atomically (rename would replace a file made
// at path meanwhile); on a file system without hard links it renames
// after looking once more.
func place(tmp, path string) error {
	err := os.Link(tmp, path)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return fs.ErrExist
	default:
		if _, err := os.Lstat(path); err == nil {
			return fs.ErrExist
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	// Make the new name durable too; a directory that cannot be synced
	// still holds the file.
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
