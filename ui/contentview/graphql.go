package contentview

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// The message types of the two GraphQL over WebSocket protocols, and
// whether each carries an operation id. graphql-transport-ws is the
// protocol of the graphql-ws library (its PROTOCOL.md); graphql-ws is the
// older one of subscriptions-transport-ws (its PROTOCOL.md).
var (
	gqlTransportTypes = map[string]bool{
		"connection_init": false, "connection_ack": false, "ping": false, "pong": false,
		"subscribe": true, "next": true, "error": true, "complete": true,
	}
	gqlLegacyTypes = map[string]bool{
		"connection_init": false, "connection_ack": false, "connection_error": false, "ka": false,
		"connection_terminate": false, "start": true, "data": true, "error": true, "complete": true, "stop": true,
	}
)

// GraphQL reads a GraphQL over WebSocket message: graphql-transport-ws
// when transport is set, else the older graphql-ws. Each message is a JSON
// object with a type, and an id and a payload depending on the type.
func GraphQL(payload []byte, transport bool) View {
	v := View{Protocol: "graphql-ws"}
	types := gqlLegacyTypes
	if transport {
		v.Protocol, types = "graphql-transport-ws", gqlTransportTypes
	}
	var m struct {
		Type    *string         `json:"type"`
		ID      json.RawMessage `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := json.Unmarshal(payload, &m); err != nil {
		v.Err = "not a JSON object: " + err.Error()
		return v
	}
	if m.Type == nil {
		v.Err = "no type field"
		return v
	}
	typ := *m.Type
	v.add("type", clip([]byte(typ)))
	var id string
	if m.ID != nil {
		if err := json.Unmarshal(m.ID, &id); err != nil {
			id = string(m.ID)
			v.Err = "id is not a string"
		}
		v.add("id", clip([]byte(id)))
	}
	v.Summary = clip([]byte(typ))
	if id != "" {
		v.Summary += " id=" + clip([]byte(id))
	}
	wantID, known := types[typ]
	switch {
	case !known:
		v.Err = fmt.Sprintf("unknown message type %q for %s", clip([]byte(typ)), v.Protocol)
	case wantID && m.ID == nil:
		v.Err = typ + " without the id of its operation"
	}
	switch typ {
	case "subscribe", "start":
		gqlOperation(&v, m.Payload)
	case "next", "data":
		gqlResult(&v, m.Payload)
	case "error", "connection_error":
		gqlErrors(&v, m.Payload)
	}
	if m.Payload != nil {
		v.add("payload", clip(m.Payload))
	}
	return v
}

// gqlOperation describes the payload of a subscribe (start): the GraphQL
// request, whose operation is named by operationName or is the first.
func gqlOperation(v *View, payload json.RawMessage) {
	var p struct {
		Query         *string         `json:"query"`
		OperationName *string         `json:"operationName"`
		Variables     json.RawMessage `json:"variables"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.Query == nil {
		if v.Err == "" {
			v.Err = "the payload is not a GraphQL request (no query)"
		}
		return
	}
	name := ""
	if p.OperationName != nil {
		name = *p.OperationName
	}
	kind, found := gqlFindOperation(*p.Query, name)
	if name == "" {
		name = found
	}
	op := kind
	if name != "" {
		op += " " + name
	}
	v.add("operation", clip([]byte(op)))
	v.Summary += " " + clip([]byte(op))
	if len(p.Variables) > 0 && string(p.Variables) != "null" {
		v.add("variables", clip(p.Variables))
	}
	v.add("query", clip([]byte(strings.Join(strings.Fields(*p.Query), " "))))
}

// gqlResult describes the payload of a next (data): an execution result.
func gqlResult(v *View, payload json.RawMessage) {
	var r struct {
		Data   map[string]json.RawMessage `json:"data"`
		Errors []json.RawMessage          `json:"errors"`
	}
	if err := json.Unmarshal(payload, &r); err != nil {
		if v.Err == "" {
			v.Err = "the payload is not an execution result"
		}
		return
	}
	var keys []string
	for k := range r.Data {
		keys = append(keys, k)
	}
	if len(keys) > 0 {
		slices.Sort(keys)
		v.add("data", clip([]byte(strings.Join(keys, ", "))))
		v.Summary += " " + clip([]byte(strings.Join(keys, ",")))
	}
	if len(r.Errors) > 0 {
		v.add("errors", fmt.Sprint(len(r.Errors)))
		v.Summary += fmt.Sprintf(" errors=%d", len(r.Errors))
	}
}

// gqlErrors describes the payload of an error: an array of GraphQL errors
// (graphql-transport-ws) or one error object (graphql-ws).
func gqlErrors(v *View, payload json.RawMessage) {
	type gqlError struct {
		Message string `json:"message"`
	}
	var list []gqlError
	if err := json.Unmarshal(payload, &list); err != nil {
		var one gqlError
		if json.Unmarshal(payload, &one) != nil {
			return
		}
		list = []gqlError{one}
	}
	if len(list) > 0 && list[0].Message != "" {
		v.add("message", clip([]byte(list[0].Message)))
		v.Summary += ": " + clip([]byte(list[0].Message))
	}
}

// gqlFindOperation finds the operation of a GraphQL document: the one
// named name, or the first when name is "". It returns its type (query,
// mutation or subscription; query for the shorthand `{ ... }`) and name.
// It reads tokens at the top level only, skipping strings, comments and
// selection sets.
func gqlFindOperation(doc, name string) (kind, found string) {
	depth, parens := 0, 0
	prev := "" // the last top-level name since the last definition ended
	firstKind, firstName := "", ""
	for tok := range gqlTokens(doc) {
		switch tok {
		case "(":
			parens++
		case ")":
			parens--
		case "{":
			if depth == 0 && parens == 0 && firstKind == "" {
				switch prev {
				case "":
					firstKind = "query" // the shorthand: { ... }
				case "query", "mutation", "subscription":
					firstKind = prev // an operation without a name
				}
			}
			depth++
		case "}":
			depth--
			if depth == 0 {
				prev = ""
			}
		default:
			if depth != 0 || parens != 0 {
				continue
			}
			if prev == "query" || prev == "mutation" || prev == "subscription" {
				if firstKind == "" {
					firstKind, firstName = prev, tok
				}
				if name != "" && tok == name {
					return prev, tok
				}
			}
			prev = tok
		}
	}
	if firstKind == "" {
		firstKind = "query"
	}
	return firstKind, firstName
}

// gqlTokens yields the names and punctuators of a GraphQL document that
// matter to gqlFindOperation; strings and comments are skipped.
func gqlTokens(doc string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for i := 0; i < len(doc); {
			c := doc[i]
			switch {
			case c == '#':
				for i < len(doc) && doc[i] != '\n' && doc[i] != '\r' {
					i++
				}
			case c == '"':
				if strings.HasPrefix(doc[i:], `"""`) {
					end := strings.Index(doc[i+3:], `"""`)
					if end < 0 {
						return
					}
					i += 3 + end + 3
					continue
				}
				i++
				for i < len(doc) && doc[i] != '"' && doc[i] != '\n' {
					if doc[i] == '\\' {
						i++
					}
					i++
				}
				i++
			case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				j := i
				for j < len(doc) && (doc[j] == '_' || doc[j] >= 'a' && doc[j] <= 'z' || doc[j] >= 'A' && doc[j] <= 'Z' || doc[j] >= '0' && doc[j] <= '9') {
					j++
				}
				if !yield(doc[i:j]) {
					return
				}
				i = j
			case c == '{' || c == '}' || c == '(' || c == ')':
				if !yield(doc[i : i+1]) {
					return
				}
				i++
			default:
				i++
			}
		}
	}
}
