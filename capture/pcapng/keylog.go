package pcapng

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// maxPendingKeys bounds the key log lines kept while the destination
// fails: a TLS 1.3 handshake logs four lines of about 160 bytes, so this
// holds the keys of some 1,600 handshakes.
const maxPendingKeys = 1 << 20

// KeyLog writes TLS secrets in the NSS key log format, the one the
// SSLKEYLOGFILE variable names in browsers and curl, so that Wireshark can
// decrypt a capture of either leg of an intercepted connection ("TLS"
// protocol preferences, "(Pre)-Master-Secret log filename", or tshark -o
// tls.keylog_file:FILE). Set it as the KeyLogWriter of the tls.Config of
// both legs: crypto/tls writes one whole line per Write.
//
// Write never fails, because crypto/tls aborts a handshake whose key log
// write fails, and a full disk must not break interception. While the
// destination fails, lines are kept (up to 1 MiB, then counted as lost)
// and written, the cut line first, with the next line that comes or at
// Close; Err and Lost tell the failure. Close truncates a file back to
// its last whole line if the destination still fails.
//
// KeyLog is safe for concurrent use. The file holds keys that decrypt
// every intercepted connection: it is created with mode 0600.
type KeyLog struct {
	mu      sync.Mutex
	w       io.Writer
	closer  io.Closer
	pending []byte // lines not yet written, the first maybe in part
	// partial is how many bytes of pending's first line the destination
	// already holds.
	partial int
	err     error // the last write error
	failing bool
	lost    int64 // lines dropped
	closed  bool
}

// NewKeyLog returns a KeyLog writing to w. Its Close does not close w.
func NewKeyLog(w io.Writer) *KeyLog {
	return &KeyLog{w: w}
}

// OpenKeyLog opens path for appending, creating it with mode 0600, as
// SSLKEYLOGFILE writers do: one file can collect the keys of several runs
// and programs. Its Close closes the file.
func OpenKeyLog(path string) (*KeyLog, error) {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("pcapng: key log: %w", err)
	}
	k := NewKeyLog(f)
	k.closer = f
	return k, nil
}

// Write writes one or more whole key log lines. It always returns
// len(p), nil: see the type's comment.
func (k *KeyLog) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		k.lost += int64(bytes.Count(p, []byte("\n")))
		return len(p), nil
	}
	if len(k.pending) == 0 && !k.failing {
		k.pending = p // write straight from p; nothing is kept on success
		k.flush()
		if len(k.pending) > 0 {
			k.pending = append([]byte(nil), k.pending...)
		} else {
			k.pending = nil
		}
		return len(p), nil
	}
	if len(k.pending)+len(p) > maxPendingKeys {
		k.lost += int64(bytes.Count(p, []byte("\n")))
	} else {
		k.pending = append(k.pending, p...)
	}
	k.flush()
	return len(p), nil
}

// flush writes what is pending. Callers hold mu.
func (k *KeyLog) flush() {
	if len(k.pending) == 0 {
		return
	}
	n, err := k.w.Write(k.pending)
	if err == nil && n < len(k.pending) {
		err = io.ErrShortWrite
	}
	if i := bytes.LastIndexByte(k.pending[:n], '\n'); i >= 0 {
		k.partial = n - i - 1
	} else {
		k.partial += n
	}
	k.pending = k.pending[n:]
	if err != nil {
		k.err = fmt.Errorf("pcapng: writing key log: %w", err)
		k.failing = true
		return
	}
	k.failing = false
}

// Err returns the error the destination fails with now, or nil.
func (k *KeyLog) Err() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.failing {
		return nil
	}
	return k.err
}

// Lost returns how many lines were dropped: past the bound while the
// destination failed, or written after Close.
func (k *KeyLog) Lost() int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.lost
}

// Close tries once more to write what is pending, and, for OpenKeyLog,
// closes the file. It returns an error if any line was not written.
func (k *KeyLog) Close() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	k.flush()
	var errs []error
	if n := int64(bytes.Count(k.pending, []byte("\n"))); n > 0 || k.lost > 0 {
		k.lost += n
		errs = append(errs, fmt.Errorf("%w; %d key log lines not written", k.err, k.lost))
		if k.partial > 0 {
			if t, ok := k.w.(interface {
				Truncate(int64) error
				Stat() (os.FileInfo, error)
			}); ok {
				if fi, err := t.Stat(); err == nil && t.Truncate(fi.Size()-int64(k.partial)) == nil {
					k.partial = 0
				}
			}
			if k.partial > 0 {
				errs = append(errs, errors.New("pcapng: the key log ends in a cut line"))
			}
		}
		k.pending = nil
	}
	if k.closer != nil {
		if err := k.closer.Close(); err != nil {
			errs = append(errs, fmt.Errorf("pcapng: closing key log: %w", err))
		}
	}
	return errors.Join(errs...)
}
