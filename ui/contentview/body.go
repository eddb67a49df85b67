package contentview

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/gif" // image.DecodeConfig reads their headers
	_ "image/jpeg"
	_ "image/png"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// This file reads HTTP bodies (and message payloads) by their media type,
// for the detail pane: JSON as a list of paths, images by their type and
// dimensions, form data and multipart parts. Like the subprotocol views,
// they are display-only: a body that does not parse as its type gives the
// reason, and the caller shows it raw.

// JSONPaths lists the values of a JSON document as "path = value" fields,
// in document order: {"items":[{"id":7}]} gives .items[0].id = 7. Empty
// objects and arrays are values ({} and []). It stops after max fields (0:
// no bound), saying so in a last field. err is set when the document does
// not parse (the fields hold what came before), or is cut short.
func JSONPaths(doc []byte, max int) (fields []Field, err string) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	type level struct {
		array bool
		index int    // the next element's index (arrays)
		key   string // the current member's name (objects)
		empty bool   // nothing in it yet
	}
	var stack []level
	path := func() string {
		var b strings.Builder
		for _, l := range stack {
			if l.array {
				fmt.Fprintf(&b, "[%d]", l.index)
			} else {
				b.WriteString(jsonKey(l.key))
			}
		}
		if b.Len() == 0 {
			return "."
		}
		return b.String()
	}
	emit := func(v string) bool {
		if max > 0 && len(fields) == max {
			fields = append(fields, Field{"…", fmt.Sprintf("more than %d values: the rest not listed", max)})
			return false
		}
		fields = append(fields, Field{path(), clip([]byte(v))})
		return true
	}
	// afterValue moves the innermost array on to its next element.
	afterValue := func() {
		if n := len(stack); n > 0 && stack[n-1].array {
			stack[n-1].index++
		}
	}
	expectKey := false
	for {
		tok, terr := dec.Token()
		if terr == io.EOF {
			if len(stack) > 0 {
				return fields, "JSON cut short"
			}
			return fields, ""
		}
		if terr != nil {
			return fields, "not JSON: " + terr.Error()
		}
		if n := len(stack); n > 0 && !stack[n-1].array && expectKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				top := stack[n-1]
				stack = stack[:n-1]
				if top.empty && !emit("{}") {
					return fields, ""
				}
				afterValue()
				expectKey = len(stack) > 0 && !stack[len(stack)-1].array
				continue
			}
			stack[n-1].key, stack[n-1].empty = tok.(string), false
			expectKey = false
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				if n := len(stack); n > 0 {
					stack[n-1].empty = false
				}
				stack = append(stack, level{empty: true})
				expectKey = true
				continue
			case '[':
				if n := len(stack); n > 0 {
					stack[n-1].empty = false
				}
				stack = append(stack, level{array: true, empty: true})
				continue
			case ']':
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if top.empty && !emit("[]") {
					return fields, ""
				}
			}
		case string:
			if n := len(stack); n > 0 {
				stack[n-1].empty = false
			}
			if !emit(strconv.Quote(t)) {
				return fields, ""
			}
		default:
			if n := len(stack); n > 0 {
				stack[n-1].empty = false
			}
			v := "null"
			switch t := t.(type) {
			case json.Number:
				v = t.String()
			case bool:
				v = strconv.FormatBool(t)
			}
			if !emit(v) {
				return fields, ""
			}
		}
		afterValue()
		expectKey = len(stack) > 0 && !stack[len(stack)-1].array
	}
}

// jsonKey writes an object member as a path step: .name, or ["odd name"].
func jsonKey(k string) string {
	for i, r := range k {
		if !(r == '_' || r == '$' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || i > 0 && '0' <= r && r <= '9') {
			return "[" + strconv.Quote(k) + "]"
		}
	}
	if k == "" {
		return `[""]`
	}
	return "." + k
}

// Image is what an image's first bytes say of it.
type Image struct {
	Format        string // "png", "gif", "jpeg", "webp", "bmp"
	Width, Height int
}

// ImageInfo reads an image's format and dimensions from its first bytes
// (PNG, GIF, JPEG with the standard library's decoders, which read the
// header only; WebP and BMP from their headers). ok is false when the
// bytes are none of these.
func ImageInfo(b []byte) (img Image, ok bool) {
	if w, h, ok := webpSize(b); ok {
		return Image{"webp", w, h}, true
	}
	if len(b) >= 26 && b[0] == 'B' && b[1] == 'M' {
		w := int(int32(binary.LittleEndian.Uint32(b[18:])))
		h := int(int32(binary.LittleEndian.Uint32(b[22:])))
		return Image{"bmp", w, max(h, -h)}, true
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		return Image{}, false
	}
	return Image{format, cfg.Width, cfg.Height}, true
}

// webpSize reads a WebP's dimensions: "RIFF" size "WEBP" then a VP8, VP8L
// or VP8X chunk (the WebP container specification).
func webpSize(b []byte) (w, h int, ok bool) {
	if len(b) < 30 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WEBP" {
		return 0, 0, false
	}
	c := b[12:]
	switch string(c[0:4]) {
	case "VP8 ": // lossy: a key frame's start code, then 14-bit sizes
		if c[11] != 0x9d || c[12] != 0x01 || c[13] != 0x2a {
			return 0, 0, false
		}
		return int(binary.LittleEndian.Uint16(c[14:]) & 0x3fff), int(binary.LittleEndian.Uint16(c[16:]) & 0x3fff), true
	case "VP8L": // lossless: a signature byte, then 14-bit sizes minus one
		if c[8] != 0x2f {
			return 0, 0, false
		}
		v := binary.LittleEndian.Uint32(c[9:])
		return int(v&0x3fff) + 1, int(v>>14&0x3fff) + 1, true
	case "VP8X": // extended: 24-bit canvas sizes minus one
		w := int(c[12]) | int(c[13])<<8 | int(c[14])<<16
		h := int(c[15]) | int(c[16])<<8 | int(c[17])<<16
		return w + 1, h + 1, true
	}
	return 0, 0, false
}

// Form reads an application/x-www-form-urlencoded body (the URL Standard's
// application/x-www-form-urlencoded parser): its fields in order, names and
// values decoded. err is set for a pair that does not decode; it is listed
// as it was.
func Form(b []byte) (fields []Field, err string) {
	for pair := range strings.SplitSeq(string(b), "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		dk, e1 := url.QueryUnescape(k)
		dv, e2 := url.QueryUnescape(v)
		if e1 != nil || e2 != nil {
			if err == "" {
				err = fmt.Sprintf("not form data: %q does not decode", clip([]byte(pair)))
			}
			dk, dv = k, v
		}
		fields = append(fields, Field{clip([]byte(dk)), clip([]byte(dv))})
	}
	return fields, err
}

// Part is one part of a multipart body (RFC 2046 section 5.1; form data,
// RFC 7578).
type Part struct {
	Name, Filename, ContentType string
	Headers                     []Field
	Size                        int    // bytes of its body (of what was kept of it)
	Body                        []byte // its body, a slice of the message
}

// maxParts bounds the parts Multipart lists.
const maxParts = 256

// Multipart reads a multipart body whose Content-Type is contentType (its
// boundary parameter says where parts start). err is set when it does not
// parse, or is cut short: parts holds what came before.
func Multipart(body []byte, contentType string) (parts []Part, err string) {
	_, params, perr := mime.ParseMediaType(contentType)
	boundary := params["boundary"]
	if perr != nil || boundary == "" {
		return nil, "multipart without a boundary parameter in its Content-Type"
	}
	r := multipart.NewReader(bytes.NewReader(body), boundary)
	for len(parts) < maxParts {
		p, e := r.NextRawPart()
		if e == io.EOF {
			return parts, ""
		}
		if e != nil {
			return parts, "multipart: " + e.Error()
		}
		data, e := io.ReadAll(io.LimitReader(p, int64(len(body))))
		part := Part{Name: p.FormName(), Filename: p.FileName(), ContentType: p.Header.Get("Content-Type"), Size: len(data), Body: data}
		for _, k := range sortedKeys(p.Header) {
			for _, v := range p.Header[k] {
				part.Headers = append(part.Headers, Field{k, clip([]byte(v))})
			}
		}
		parts = append(parts, part)
		if e != nil {
			if errors.Is(e, io.ErrUnexpectedEOF) {
				return parts, "multipart body cut short"
			}
			return parts, "multipart: " + e.Error()
		}
	}
	return parts, fmt.Sprintf("more than %d parts: the rest not listed", maxParts)
}

func sortedKeys(h textproto.MIMEHeader) []string {
	ks := make([]string, 0, len(h))
	for k := range h {
		ks = append(ks, k)
	}
	for i := 1; i < len(ks); i++ {
		for j := i; j > 0 && ks[j] < ks[j-1]; j-- {
			ks[j], ks[j-1] = ks[j-1], ks[j]
		}
	}
	return ks
}
