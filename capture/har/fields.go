package har

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/frametap/frametap/capture"
)

// resourceType is Chrome's name for what an exchange fetched
// (Common.ResourceType in DevTools), from what a capture holds: the
// upgrade, the response's Content-Type, and the request's Sec-Fetch-Dest,
// which is how the browser says what the request is for (Fetch Metadata,
// the "destination" of the Fetch standard). Chrome knows the request's
// context itself; a capture of any client has these instead:
//
//   - an upgrade to WebSocket, or an HTTP/2 extended CONNECT for one
//     (RFC 8441): "websocket";
//   - a text/event-stream response: "eventsource" (Server-Sent Events);
//   - Sec-Fetch-Dest document, iframe, frame, embed or object:
//     "document"; script and the workers: "script"; style:
//     "stylesheet"; image, font; audio, video and track: "media";
//     manifest;
//   - Sec-Fetch-Dest empty (fetch(), XMLHttpRequest, beacons): "xhr" when
//     X-Requested-With says XMLHttpRequest, else "fetch";
//   - otherwise by Content-Type: HTML "document", CSS "stylesheet",
//     image/*, fonts, JavaScript "script", audio/* and video/* "media",
//     application/wasm "wasm", a web app manifest; data (JSON, XML, text,
//     forms, bytes) is "xhr" or "fetch" as above;
//   - else "other".
func resourceType(req, resp, up *capture.Event) string {
	if up != nil && strings.EqualFold(up.Protocol, "websocket") || strings.EqualFold(req.Protocol, "websocket") {
		return "websocket"
	}
	var mime string
	if resp != nil {
		mime = mediaType(header(resp.Headers, "Content-Type"))
	}
	if mime == "text/event-stream" {
		return "eventsource"
	}
	data := "fetch"
	if strings.EqualFold(header(req.Headers, "X-Requested-With"), "XMLHttpRequest") {
		data = "xhr"
	}
	switch strings.ToLower(strings.TrimSpace(header(req.Headers, "Sec-Fetch-Dest"))) {
	case "document", "iframe", "frame", "embed", "object":
		return "document"
	case "script", "worker", "sharedworker", "serviceworker", "audioworklet", "paintworklet":
		return "script"
	case "style":
		return "stylesheet"
	case "image":
		return "image"
	case "font":
		return "font"
	case "audio", "video", "track":
		return "media"
	case "manifest":
		return "manifest"
	case "empty":
		return data
	}
	switch {
	case mime == "":
		if data == "xhr" {
			return data
		}
		return "other"
	case mime == "text/html" || mime == "application/xhtml+xml":
		return "document"
	case mime == "text/css":
		return "stylesheet"
	case strings.HasPrefix(mime, "image/"):
		return "image"
	case strings.HasPrefix(mime, "font/") || strings.Contains(mime, "font-") || strings.Contains(mime, "/font"):
		return "font"
	case strings.Contains(mime, "javascript") || strings.Contains(mime, "ecmascript") || mime == "text/jsx":
		return "script"
	case strings.HasPrefix(mime, "audio/") || strings.HasPrefix(mime, "video/"):
		return "media"
	case mime == "application/wasm":
		return "wasm"
	case mime == "application/manifest+json":
		return "manifest"
	case strings.HasSuffix(mime, "json") || strings.HasSuffix(mime, "xml") || strings.HasPrefix(mime, "text/") ||
		strings.HasPrefix(mime, "application/"):
		return data
	}
	return "other"
}

// mediaType is the type/subtype of a Content-Type, lower case, without
// parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// splitHostPort splits host:port or [host]:port; ok is false when s has
// no port.
func splitHostPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || !strings.HasPrefix(s[end+1:], ":") {
			return "", "", false
		}
		host, port = s[1:end], s[end+2:]
	} else {
		i := strings.LastIndexByte(s, ':')
		if i < 0 || strings.IndexByte(s[:i], ':') >= 0 {
			return "", "", false
		}
		host, port = s[:i], s[i+1:]
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", "", false
	}
	return host, port, true
}

// isIP reports whether host is an IPv4 or IPv6 address (what HAR's
// serverIPAddress holds), not a name.
func isIP(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.Zone() == ""
}

// query returns the query string of rawURL as name-value pairs, decoded
// (application/x-www-form-urlencoded: "+" is a space), in order; [] when
// there is none.
func query(rawURL string) []NameValue {
	if i := strings.IndexByte(rawURL, '#'); i >= 0 {
		rawURL = rawURL[:i]
	}
	i := strings.IndexByte(rawURL, '?')
	if i < 0 {
		return []NameValue{}
	}
	return pairs(rawURL[i+1:], "&")
}

// formParams returns the parameters of a form body.
func formParams(mime, text string) []NameValue {
	if mediaType(mime) != "application/x-www-form-urlencoded" {
		return nil
	}
	return nilIfEmpty(pairs(text, "&"))
}

// pairs splits s at sep into name=value pairs, each part unescaped when it
// can be and kept as it is otherwise.
func pairs(s, sep string) []NameValue {
	out := []NameValue{}
	for part := range strings.SplitSeq(s, sep) {
		if part == "" {
			continue
		}
		name, value, _ := strings.Cut(part, "=")
		out = append(out, NameValue{Name: unescape(name), Value: unescape(value)})
	}
	return out
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// requestCookies returns the cookies of a request's Cookie fields
// (RFC 6265 section 5.4: "name=value; name=value").
func requestCookies(hs []capture.Header) []Cookie {
	out := []Cookie{}
	for _, h := range hs {
		if !strings.EqualFold(h[0], "Cookie") {
			continue
		}
		for part := range strings.SplitSeq(h[1], ";") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			name, value, _ := strings.Cut(part, "=")
			out = append(out, Cookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)})
		}
	}
	return out
}

// responseCookies returns the cookies a response sets, one per Set-Cookie
// field (RFC 6265 section 5.2), with the attributes HAR has; an Expires
// that does not parse, and a Max-Age, which is relative, are left out.
func responseCookies(hs []capture.Header) []Cookie {
	out := []Cookie{}
	for _, h := range hs {
		if !strings.EqualFold(h[0], "Set-Cookie") {
			continue
		}
		first, attrs, _ := strings.Cut(h[1], ";")
		name, value, _ := strings.Cut(first, "=")
		c := Cookie{Name: strings.TrimSpace(name), Value: strings.TrimSpace(value)}
		for attr := range strings.SplitSeq(attrs, ";") {
			k, v, _ := strings.Cut(attr, "=")
			v = strings.TrimSpace(v)
			switch strings.ToLower(strings.TrimSpace(k)) {
			case "path":
				c.Path = v
			case "domain":
				c.Domain = v
			case "expires":
				if t, ok := httpDate(v); ok {
					c.Expires = t.UTC().Format(time.RFC3339)
				}
			case "httponly":
				c.HTTPOnly = true
			case "secure":
				c.Secure = true
			case "samesite":
				c.SameSite = v
			}
		}
		out = append(out, c)
	}
	return out
}

// httpDate parses a cookie's Expires in the formats servers send
// (RFC 9110 section 5.6.7's IMF-fixdate, and the obsolete ones).
func httpDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC1123, "Mon, 02-Jan-2006 15:04:05 MST", time.RFC850, time.ANSIC, "Mon, 02 Jan 2006 15:04:05 -0700"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}
