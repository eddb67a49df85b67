package har

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
)

// Write writes h to w as JSON indented by two spaces, as Chrome DevTools
// writes a HAR, encoding one entry at a time so that a large capture is
// not held twice in memory.
func Write(w io.Writer, h *HAR) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	head := h.Log
	head.Entries = nil
	b, err := marshal(head, "  ")
	if err != nil {
		return err
	}
	// The log object without its entries, then the entries spliced in
	// where encoding/json put "entries": null.
	before, after, ok := bytes.Cut(b, []byte(`"entries": null`))
	if !ok {
		panic("har: no entries field in the log") // Log always has one
	}
	bw.WriteString("{\n  \"log\": ")
	bw.Write(before)
	bw.WriteString(`"entries": [`)
	for i := range h.Log.Entries {
		if i > 0 {
			bw.WriteByte(',')
		}
		e, err := marshal(h.Log.Entries[i], "      ")
		if err != nil {
			return err
		}
		bw.WriteString("\n      ")
		bw.Write(e)
	}
	if len(h.Log.Entries) > 0 {
		bw.WriteString("\n    ")
	}
	bw.WriteByte(']')
	bw.Write(after)
	bw.WriteString("\n}\n")
	return bw.Flush()
}

// marshal encodes v indented at prefix, without escaping <, > and & (HAR
// bodies are full of them) and without encoding/json's newline.
func marshal(v any, prefix string) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent(prefix, "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
