package ui

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"

	"github.com/frametap/frametap/capture"
)

// This file is what the i key needs of the proxy, and the messages the
// composer (composer.go) builds: the dashboard does not depend on the
// proxy; frametap's serve wires an Injector to it.

// Injector writes WebSocket messages of the user's into live connections
// (the i key). Its methods are called from goroutines of the dashboard's
// own, never from the UI goroutine: they must be safe for concurrent use.
type Injector interface {
	// Injectable reports whether a message could be written now into
	// connection conn toward its server (toServer) or its client: nil, or
	// why not (the connection is closed, is not a WebSocket, that side
	// sent its close).
	Injectable(conn uint64, toServer bool) error
	// Inject writes m into connection conn, at the next message boundary
	// of that direction, and returns once it is written, refused (with the
	// rule it breaks), or ctx is done; in the last two cases nothing was
	// sent. The written message reaches the capture, and the dashboard,
	// as frame and message events with Injected set.
	Inject(ctx context.Context, conn uint64, m Injection) error
}

// Injection is one message for an Injector to write.
type Injection struct {
	ToServer bool   // toward the server (as if the client sent it), else toward the client
	Op       string // "text", "binary", "ping", "pong" or "close"
	// Payload of text, binary, ping and pong messages.
	Payload []byte
	// CloseCode (0: none) and CloseReason make a close message's body.
	CloseCode   int
	CloseReason string
	// OnWait, if set, is called once, from Inject's goroutine, when the
	// message waits for the end of a message under way in that direction.
	OnWait func()
}

// Payload encodings the composer offers for a binary message.
const (
	encText   = iota // the payload as typed (UTF-8)
	encHex           // hex digits, spaces and newlines ignored
	encBase64        // standard or URL base64, padded or not, spaces ignored
)

// injectTypes are the composer's message types: name, op, payload encoding.
var injectTypes = []struct {
	name, op string
	enc      int
}{
	{"text", "text", encText},
	{"binary hex", "binary", encHex},
	{"binary base64", "binary", encBase64},
	{"ping", "ping", encText},
	{"pong", "pong", encText},
	{"close", "close", encText},
}

// injectTypeOf returns the composer's type for a message event, and its
// payload as the composer shows it.
func injectTypeOf(ev *capture.Event) (typ int, payload string) {
	switch ev.Op {
	case "binary":
		if len(ev.Payload) <= 64 {
			return 1, hexGroups(ev.Payload)
		}
		return 2, base64.StdEncoding.EncodeToString(ev.Payload)
	case "ping":
		return 3, string(ev.Payload)
	case "pong":
		return 4, string(ev.Payload)
	case "close":
		return 5, ""
	}
	return 0, string(ev.Payload)
}

// hexGroups writes b in hex, a space between bytes.
func hexGroups(b []byte) string {
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%02x", c)
	}
	return sb.String()
}

// decodePayload reads what the composer's payload field holds in the
// type's encoding.
func decodePayload(s string, enc int) ([]byte, error) {
	strip := func(s string) string {
		return strings.Map(func(r rune) rune {
			if unicode.IsSpace(r) {
				return -1
			}
			return r
		}, s)
	}
	switch enc {
	case encHex:
		b, err := hex.DecodeString(strip(s))
		if err != nil {
			return nil, fmt.Errorf("the payload is not hex (two digits a byte; spaces are ignored): %v", err)
		}
		return b, nil
	case encBase64:
		t := strings.TrimRight(strip(s), "=")
		enc := base64.RawStdEncoding
		if strings.ContainsAny(t, "-_") {
			enc = base64.RawURLEncoding
		}
		b, err := enc.DecodeString(t)
		if err != nil {
			return nil, fmt.Errorf("the payload is not base64: %v", err)
		}
		return b, nil
	}
	return []byte(s), nil
}

// parseCloseCode reads the composer's close code: empty is none (0).
func parseCloseCode(s string) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 {
		return 0, errors.New("the close code is a number, 1000-1003, 1007-1014 or 3000-4999 (RFC 6455 section 7.4), or empty for none")
	}
	return n, nil
}

// injectNews is what the goroutine of an Inject call tells the UI
// goroutine, which takes it at its next refresh.
type injectNews struct {
	mu      sync.Mutex
	waiting bool  // the message waits for the end of one under way
	done    bool  // Inject returned
	err     error // what it returned
	what    string
}

func (n *injectNews) set(f func(n *injectNews)) {
	n.mu.Lock()
	f(n)
	n.mu.Unlock()
}

func (n *injectNews) take() (waiting, done bool, what string, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	waiting, done, what, err = n.waiting, n.done, n.what, n.err
	n.waiting = false
	return
}
