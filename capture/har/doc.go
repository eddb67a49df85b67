// Package har converts between frametap captures and HAR 1.2, the HTTP
// Archive that browsers' developer tools, HTTP Toolkit, mitmproxy, Charles
// and Postman write and read (http://www.softwareishard.com/blog/har-12-spec/).
//
// Build makes a HAR of a capture's events: one entry per HTTP exchange,
// WebSocket entries in the shape Chrome DevTools exports and imports
// (_resourceType "websocket" and _webSocketMessages), plus what only a
// capture knows: the connection and the exchange's index on it (keep-alive
// reuse, _connectionId and _seq), how a WebSocket closed, and each
// message's frames, compression and wire length. docs/capture-format.md
// says which event field each HAR field comes from. Write writes it.
//
// Read reads a HAR written by Chrome, Firefox, HTTP Toolkit, mitmproxy or
// frametap, and Events turns it into capture events that the dashboard
// and the headless printer show, with one note that says what a HAR
// cannot tell (frames, seq, TCP connections beyond connection ids).
//
// The package is pure: it reads and writes bytes and values, and opens no
// file or socket.
package har
