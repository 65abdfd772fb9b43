package proxy

import "encoding/json"

// inbound is a valid client message: a broadcast, or a direct message with its recipient.
type inbound struct {
	typ  string
	to   string
	data json.RawMessage
}

// parseInbound decodes a client frame as the Worker does with JSON.parse: a JSON object whose
// "type" is "broadcast", or "direct" with a non-empty string "to"; a missing "data" is null.
// Keys match exactly (a map, not a struct: encoding/json would match "TYPE" to a Type field).
func parseInbound(data []byte) (inbound, bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(data, &m) != nil || m == nil {
		return inbound{}, false
	}
	var in inbound
	if json.Unmarshal(m["type"], &in.typ) != nil {
		return inbound{}, false
	}
	in.data = m["data"]
	if in.data == nil {
		in.data = jsonNull
	}
	switch in.typ {
	case "broadcast":
		return in, true
	case "direct":
		if json.Unmarshal(m["to"], &in.to) == nil && in.to != "" {
			return in, true
		}
	}
	return inbound{}, false
}
