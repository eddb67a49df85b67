package ui

import (
	"bytes"
	"encoding/base64"
	"testing"
)

func TestDecodePayload(t *testing.T) {
	for _, tc := range []struct {
		in   string
		enc  int
		want string
		bad  bool
	}{
		{"de ad be ef", encHex, "\xde\xad\xbe\xef", false},
		{"DEAD\nBEEF", encHex, "\xde\xad\xbe\xef", false},
		{"dea", encHex, "", true},
		{"zz", encHex, "", true},
		{"3q2+7w==", encBase64, "\xde\xad\xbe\xef", false},
		{"3q2+7w", encBase64, "\xde\xad\xbe\xef", false},
		{"3q2-7w", encBase64, "\xde\xad\xbe\xef", false},
		{"3q 2+\n7w==", encBase64, "\xde\xad\xbe\xef", false},
		{"*", encBase64, "", true},
		{"héllo\n", encText, "héllo\n", false},
	} {
		got, err := decodePayload(tc.in, tc.enc)
		if (err != nil) != tc.bad || !tc.bad && string(got) != tc.want {
			t.Errorf("decodePayload(%q, %d): %q, %v; want %q (error: %v)", tc.in, tc.enc, got, err, tc.want, tc.bad)
		}
	}
	for _, tc := range []struct {
		in   string
		want int
		bad  bool
	}{{"", 0, false}, {" 1000 ", 1000, false}, {"4999", 4999, false}, {"70000", 0, true}, {"-1", 0, true}, {"x", 0, true}} {
		got, err := parseCloseCode(tc.in)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("parseCloseCode(%q): %d, %v", tc.in, got, err)
		}
	}
}

// FuzzComposerPayload checks the composer's payload readers: they never
// panic, and what the composer shows of a message (hexGroups, base64)
// reads back as the same bytes.
func FuzzComposerPayload(f *testing.F) {
	f.Add([]byte("\xde\xad\xbe\xef"), "de ad")
	f.Add([]byte(`{"a":1}`), "3q2+7w==")
	f.Fuzz(func(t *testing.T, b []byte, s string) {
		for _, enc := range []int{encText, encHex, encBase64} {
			decodePayload(s, enc)
		}
		if got, err := decodePayload(hexGroups(b), encHex); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("hex of %q reads back as %q, %v", b, got, err)
		}
		if got, err := decodePayload(base64.StdEncoding.EncodeToString(b), encBase64); err != nil || !bytes.Equal(got, b) {
			t.Fatalf("base64 of %q reads back as %q, %v", b, got, err)
		}
		parseCloseCode(s)
	})
}
