package har

// The HAR 1.2 document as frametap writes it
// (http://www.softwareishard.com/blog/har-12-spec/), with the custom
// fields, named with a leading underscore as the spec asks, that Chrome
// DevTools writes and reads (_resourceType, _webSocketMessages,
// _connectionId, _error, _transferSize), that HTTP Toolkit writes and reads
// (_webSocketClose, _trailers, _requestBodyStatus, _content), and frametap's
// own (_seq, _stream, _webSocketClose's by and clean, per message _frames,
// _compressed, _wireLength, _length, _truncated). Fields are declared in
// the order Chrome writes them, so that a frametap HAR diffs well against a
// browser's.

// HAR is a whole HAR document.
type HAR struct {
	Log Log `json:"log"`
}

// Log is HAR's "log" object.
type Log struct {
	Version string  `json:"version"`
	Creator Creator `json:"creator"`
	Pages   []Page  `json:"pages"`
	Entries []Entry `json:"entries"` // null only while Write encodes the log around them
	Comment string  `json:"comment,omitempty"`
}

// Creator names the program that wrote the HAR.
type Creator struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Comment string `json:"comment,omitempty"`
}

// Page is a page of a browser's HAR; frametap, which sees connections and
// not pages, writes none.
type Page struct {
	StartedDateTime string      `json:"startedDateTime"`
	ID              string      `json:"id"`
	Title           string      `json:"title"`
	PageTimings     PageTimings `json:"pageTimings"`
}

// PageTimings are a page's load times in milliseconds, -1 when unknown.
type PageTimings struct {
	OnContentLoad float64 `json:"onContentLoad"`
	OnLoad        float64 `json:"onLoad"`
}

// Entry is one HTTP exchange: a request and its response.
type Entry struct {
	ResourceType string `json:"_resourceType"`
	// Connection is the server's port, as a string, as current Chrome
	// writes it (and Firefox); ConnectionID is the connection it ran on.
	Connection      string   `json:"connection,omitempty"`
	Request         Request  `json:"request"`
	Response        Response `json:"response"`
	Cache           struct{} `json:"cache"`
	ServerIPAddress string   `json:"serverIPAddress,omitempty"`
	StartedDateTime string   `json:"startedDateTime"`
	// Time is the sum of the timings that are known (ssl is part of
	// connect), in milliseconds.
	Time         float64 `json:"time"`
	Timings      Timings `json:"timings"`
	ConnectionID string  `json:"_connectionId"`
	// Seq is the exchange's 1-based index on its connection: a Seq above
	// 1 is a connection kept alive and reused.
	Seq int `json:"_seq"`
	// Stream is the HTTP/2 stream, on an HTTP/2 connection.
	Stream            uint32              `json:"_stream,omitempty"`
	WebSocketMessages *[]WebSocketMessage `json:"_webSocketMessages,omitempty"`
	WebSocketClose    *WebSocketClose     `json:"_webSocketClose,omitempty"`
	Comment           string              `json:"comment,omitempty"`
}

// Request is an entry's request.
type Request struct {
	Method      string      `json:"method"`
	URL         string      `json:"url"`
	HTTPVersion string      `json:"httpVersion"`
	Headers     []NameValue `json:"headers"`
	QueryString []NameValue `json:"queryString"`
	Cookies     []Cookie    `json:"cookies"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	PostData    *PostData   `json:"postData,omitempty"`
	Trailers    []NameValue `json:"_trailers,omitempty"`
	// A body that is not UTF-8 cannot be postData's text: as HTTP Toolkit
	// does, it goes in Content (base64) with BodyStatus
	// "discarded:not-representable".
	BodyStatus string   `json:"_requestBodyStatus,omitempty"`
	Content    *Content `json:"_content,omitempty"`
	Comment    string   `json:"comment,omitempty"`
}

// Response is an entry's response. A request that got none has Status 0
// and Error, as Chrome writes a failed request.
type Response struct {
	Status      int         `json:"status"`
	StatusText  string      `json:"statusText"`
	HTTPVersion string      `json:"httpVersion"`
	Headers     []NameValue `json:"headers"`
	Cookies     []Cookie    `json:"cookies"`
	Content     Content     `json:"content"`
	RedirectURL string      `json:"redirectURL"`
	HeadersSize int64       `json:"headersSize"`
	BodySize    int64       `json:"bodySize"`
	Error       string      `json:"_error,omitempty"`
	Trailers    []NameValue `json:"_trailers,omitempty"`
	Comment     string      `json:"comment,omitempty"`
}

// NameValue is a header, a query parameter or a form parameter.
type NameValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Cookie is a cookie a request sent (Cookie) or a response set (Set-Cookie).
type Cookie struct {
	Name     string `json:"name"`
	Value    string `json:"value"`
	Path     string `json:"path,omitempty"`
	Domain   string `json:"domain,omitempty"`
	Expires  string `json:"expires,omitempty"`
	HTTPOnly bool   `json:"httpOnly,omitempty"`
	Secure   bool   `json:"secure,omitempty"`
	SameSite string `json:"sameSite,omitempty"`
}

// PostData is a request body that is text.
type PostData struct {
	MimeType string      `json:"mimeType"`
	Text     string      `json:"text"`
	Params   []NameValue `json:"params,omitempty"`
	Comment  string      `json:"comment,omitempty"`
}

// Content is a response body: Text is the body when it is UTF-8, else its
// base64 with Encoding "base64". Size is the body's whole length; Text
// holds less when frametap kept only the first bytes (--max-body), which
// Comment then says.
type Content struct {
	Size     int64  `json:"size"`
	MimeType string `json:"mimeType"`
	Text     string `json:"text,omitempty"`
	Encoding string `json:"encoding,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// Timings are an exchange's phases in milliseconds, -1 where unknown. SSL
// is part of Connect (HAR 1.2, for HAR 1.1 readers).
type Timings struct {
	Blocked float64 `json:"blocked"`
	DNS     float64 `json:"dns"`
	SSL     float64 `json:"ssl"`
	Connect float64 `json:"connect"`
	Send    float64 `json:"send"`
	Wait    float64 `json:"wait"`
	Receive float64 `json:"receive"`
}

// WebSocketMessage is one message in Chrome DevTools' shape: Type "send"
// (the client sent it) or "receive", Time in seconds since the epoch,
// Opcode as RFC 6455 numbers it, Data the text of a text message and the
// base64 of any other payload. Frames, Compressed, WireLength, Length and
// Truncated are frametap's.
type WebSocketMessage struct {
	Type       string  `json:"type"`
	Time       float64 `json:"time"`
	Opcode     int     `json:"opcode"`
	Data       string  `json:"data"`
	Frames     int     `json:"_frames"`
	Compressed bool    `json:"_compressed"`
	WireLength int64   `json:"_wireLength"`
	Length     int64   `json:"_length"`
	Truncated  bool    `json:"_truncated,omitempty"`
	// Encoding is "base64" for a text message whose payload is not
	// UTF-8 (a violation): its Data is then the bytes in base64.
	Encoding string `json:"_encoding,omitempty"`
}

// WebSocketClose is how a WebSocket closed: the code and reason of the
// first close frame, By whom ("client" or "server"), and Clean when close
// frames went both ways and TCP then ended without error. HTTP Toolkit
// writes code and reason too (and a timestamp).
type WebSocketClose struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
	By     string `json:"by"`
	Clean  bool   `json:"clean"`
}
