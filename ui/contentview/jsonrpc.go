package contentview

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
)

// jsonrpcMessage is the union of a JSON-RPC 2.0 request, notification and
// response (JSON-RPC 2.0 sections 4 and 5).
type jsonrpcMessage struct {
	JSONRPC *string         `json:"jsonrpc"`
	Method  *string         `json:"method"`
	Params  json.RawMessage `json:"params"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *struct {
		Code    *int64          `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
}

// JSONRPC reads a message as JSON-RPC 2.0: a request, a notification (a
// request without id), a response or an error response, or a batch of
// them (an array). ok is false when the message does not claim to be
// JSON-RPC: it is not a JSON object with a "jsonrpc" member, nor an array
// that starts with one.
func JSONRPC(payload []byte) (v View, ok bool) {
	p := bytes.TrimLeft(payload, " \t\r\n")
	if len(p) == 0 || p[0] != '{' && p[0] != '[' || !bytes.Contains(p, []byte(`"jsonrpc"`)) {
		return View{}, false
	}
	v = View{Protocol: "json-rpc"}
	if p[0] == '{' {
		var m jsonrpcMessage
		if err := json.Unmarshal(p, &m); err != nil {
			v.Err = "not JSON: " + err.Error()
			return v, true
		}
		if m.JSONRPC == nil {
			return View{}, false
		}
		v.Summary = jsonrpcDescribe(&v, &m)
		return v, true
	}
	var batch []json.RawMessage
	if err := json.Unmarshal(p, &batch); err != nil {
		v.Err = "not JSON: " + err.Error()
		return v, true
	}
	if len(batch) == 0 {
		v.Err = `an empty batch ("an Array with at least one value")`
		return v, true
	}
	var first string
	for i, raw := range batch {
		if i == viewMaxFrames {
			v.add("batch", fmt.Sprintf("more than %d: the rest not shown", viewMaxFrames))
			break
		}
		v.add("call", strconv.Itoa(i+1))
		var m jsonrpcMessage
		if err := json.Unmarshal(raw, &m); err != nil || m.JSONRPC == nil {
			if i == 0 {
				return View{}, false
			}
			v.setErr(fmt.Sprintf("batch element %d is not a JSON-RPC object", i+1))
			continue
		}
		s := jsonrpcDescribe(&v, &m)
		if i == 0 {
			first = s
		}
	}
	v.Summary = fmt.Sprintf("batch of %d: %s", len(batch), first)
	return v, true
}

// jsonrpcDescribe adds the fields of one message and returns its summary.
func jsonrpcDescribe(v *View, m *jsonrpcMessage) string {
	if *m.JSONRPC != "2.0" {
		v.setErr(fmt.Sprintf(`jsonrpc is %q, must be exactly "2.0"`, clip([]byte(*m.JSONRPC))))
	}
	id := ""
	if m.ID != nil {
		id = clip(m.ID)
		if c := m.ID[0]; c != '"' && c != '-' && (c < '0' || c > '9') && string(m.ID) != "null" {
			v.setErr("id must be a string, a number or null")
		}
	}
	switch {
	case m.Method != nil:
		kind := "request"
		if m.ID == nil {
			kind = "notification"
		}
		v.add(kind, clip([]byte(*m.Method)))
		if id != "" {
			v.add("id", id)
		}
		if len(m.Params) > 0 {
			v.add("params", clip(m.Params))
			if c := m.Params[0]; c != '[' && c != '{' {
				v.setErr("params must be an array or an object")
			}
		}
		if m.Result != nil || m.Error != nil {
			v.setErr("a request with a result or an error")
		}
		sum := kind + " " + clip([]byte(*m.Method))
		if id != "" {
			sum += " id=" + id
		}
		return sum
	case m.Error != nil:
		v.add("error", clip([]byte(m.Error.Message)))
		if m.Error.Code == nil {
			v.setErr("an error without its code")
		} else {
			v.add("code", strconv.FormatInt(*m.Error.Code, 10))
		}
		if len(m.Error.Data) > 0 {
			v.add("data", clip(m.Error.Data))
		}
		v.add("id", id)
		if m.Result != nil {
			v.setErr("a response with both a result and an error")
		}
		if m.ID == nil {
			v.setErr("a response without an id")
		}
		code := ""
		if m.Error.Code != nil {
			code = strconv.FormatInt(*m.Error.Code, 10) + " "
		}
		return fmt.Sprintf("error id=%s %s%s", id, code, clip([]byte(m.Error.Message)))
	case m.Result != nil:
		v.add("result", clip(m.Result))
		v.add("id", id)
		if m.ID == nil {
			v.setErr("a response without an id")
		}
		return "response id=" + id
	}
	v.setErr("neither a method, a result nor an error")
	return "json-rpc"
}
