package har

import (
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/frametap/frametap/capture"
)

// This file builds an entry's request and response from their events.

// request builds an entry's request from the request event.
func request(ev *capture.Event, url string) Request {
	r := Request{
		Method:      ev.Method,
		URL:         url,
		HTTPVersion: ev.Proto,
		Headers:     headers(ev.Headers),
		QueryString: query(url),
		Cookies:     requestCookies(ev.Headers),
		HeadersSize: -1,
		BodySize:    ev.BodyLen,
		Trailers:    nilIfEmpty(headers(ev.Trailers)),
	}
	if ev.BodyLen == 0 && len(ev.Body) == 0 {
		return r
	}
	mime := header(ev.Headers, "Content-Type")
	if text, ok := bodyText(ev.Body, ev.Truncated); ok {
		r.PostData = &PostData{MimeType: mime, Text: text, Params: formParams(mime, text)}
		if ev.Truncated {
			r.PostData.Comment = truncatedNote(len(text), ev.BodyLen, "--max-body")
		}
		return r
	}
	r.BodyStatus = "discarded:not-representable"
	r.Content = &Content{Size: ev.BodyLen, MimeType: mime, Text: base64.StdEncoding.EncodeToString(ev.Body), Encoding: "base64"}
	r.Comment = "the body is not UTF-8: it is in _content, in base64, as HTTP Toolkit writes it"
	if ev.Truncated {
		r.Content.Comment = truncatedNote(len(ev.Body), ev.BodyLen, "--max-body")
	}
	return r
}

// response builds an entry's response from the response event; a nil
// one is the status-0 response of a request that got none.
func response(ev *capture.Event) Response {
	if ev == nil {
		return Response{Headers: []NameValue{}, Cookies: []Cookie{}, Content: Content{MimeType: "x-unknown"}, HeadersSize: -1, BodySize: -1}
	}
	mime := header(ev.Headers, "Content-Type")
	if mime == "" {
		mime = "x-unknown" // as Chrome writes it
	}
	r := Response{
		Status:      ev.Status,
		StatusText:  ev.StatusText,
		HTTPVersion: ev.Proto,
		Headers:     headers(ev.Headers),
		Cookies:     responseCookies(ev.Headers),
		Content:     Content{Size: ev.BodyLen, MimeType: mime},
		RedirectURL: header(ev.Headers, "Location"),
		HeadersSize: -1,
		BodySize:    ev.BodyLen,
		Trailers:    nilIfEmpty(headers(ev.Trailers)),
	}
	kept := len(ev.Body)
	if len(ev.Body) > 0 {
		if text, ok := bodyText(ev.Body, ev.Truncated); ok {
			r.Content.Text, kept = text, len(text)
		} else {
			r.Content.Text, r.Content.Encoding = base64.StdEncoding.EncodeToString(ev.Body), "base64"
		}
	}
	var notes []string
	if ce := header(ev.Headers, "Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		notes = append(notes, "the body as it crossed the wire, still "+ce+"-encoded")
	}
	if ev.Truncated {
		notes = append(notes, truncatedNote(kept, ev.BodyLen, "--max-body"))
	}
	r.Content.Comment = strings.Join(notes, "; ")
	return r
}

// bodyText returns a kept body as text when it is UTF-8 (a body cut at
// the limit inside a character counts, without that character).
func bodyText(b []byte, truncated bool) (string, bool) {
	if truncated {
		for i := 1; i < utf8.UTFMax && i <= len(b); i++ {
			if utf8.RuneStart(b[len(b)-i]) {
				if !utf8.FullRune(b[len(b)-i:]) {
					b = b[:len(b)-i]
				}
				break
			}
		}
	}
	if !utf8.Valid(b) {
		return "", false
	}
	return string(b), true
}

func truncatedNote(kept int, total int64, flag string) string {
	return fmt.Sprintf("frametap kept the first %d of %d bytes (%s)", kept, total, flag)
}

func headers(hs []capture.Header) []NameValue {
	out := make([]NameValue, len(hs))
	for i, h := range hs {
		out[i] = NameValue{Name: h[0], Value: h[1]}
	}
	return out
}

// header returns the value of the first field called name, or "".
func header(hs []capture.Header, name string) string {
	for _, h := range hs {
		if strings.EqualFold(h[0], name) {
			return h[1]
		}
	}
	return ""
}

func nilIfEmpty[S ~[]E, E any](s S) S {
	if len(s) == 0 {
		return nil
	}
	return s
}
