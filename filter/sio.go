package filter

// sioEventName returns the event name of a Socket.IO EVENT or BINARY_EVENT
// packet carried in one Engine.IO "message" packet over WebSocket, as the
// text of a WebSocket message: "4" (Engine.IO message), then "2" (EVENT) or
// "5" and an attachment count and "-" (BINARY_EVENT), an optional
// namespace ("/admin,"), an optional ack id (digits), then a JSON array
// whose first element is the name: 42["chat",{"text":"hi"}] or
// 451-/admin,7["upload",{"_placeholder":true,"num":0}]. The name is
// unescaped into scratch when it has escapes. ok is false for any other
// payload.
//
// It reads the WebSocket messages themselves, so that ~sio also selects
// them (and captures written before frametap wrote eio events); the eio
// events' own "event" field is read by eioEventName.
func sioEventName(p []byte, scratch *[]byte) (name []byte, ok bool) {
	if len(p) < 4 || p[0] != '4' {
		return nil, false
	}
	i := 2
	switch p[1] {
	case '2':
	case '5':
		j := i
		for j < len(p) && '0' <= p[j] && p[j] <= '9' {
			j++
		}
		if j == i || j >= len(p) || p[j] != '-' {
			return nil, false
		}
		i = j + 1
	default:
		return nil, false
	}
	if i < len(p) && p[i] == '/' {
		for i < len(p) && p[i] != ',' {
			if p[i] == '[' {
				return nil, false
			}
			i++
		}
		i++ // the ","
	}
	for i < len(p) && '0' <= p[i] && p[i] <= '9' {
		i++
	}
	if i >= len(p) || p[i] != '[' {
		return nil, false
	}
	i = skipWS(p, i+1)
	if i >= len(p) || p[i] != '"' {
		return nil, false
	}
	end, ok := skipString(p, i)
	if !ok {
		return nil, false
	}
	raw := p[i+1 : end-1]
	for _, c := range raw {
		if c == '\\' {
			d, ok := decodeString(p, i, (*scratch)[:0])
			*scratch = d
			return d, ok
		}
	}
	return raw, true
}
