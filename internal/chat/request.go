package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
)

// request is a validated chat request and the body to forward.
type request struct {
	model     string
	stream    bool
	wantUsage bool // the caller asked for stream_options.include_usage
	body      []byte
	// promptBytes is the messages' text, for estimating usage.
	promptBytes int
}

// errRequest is a chat body Izwi refuses before any upstream sees it.
type errRequest string

func (e errRequest) Error() string { return string(e) }

// parseRequest validates raw as a chat completion request: a JSON object
// without duplicate keys, a model name, a non-empty messages array, and
// stream a boolean. Everything else passes through untouched for the
// upstream to judge. The body forwarded is re-encoded from the parsed
// object, so what Izwi routed on is exactly what the upstream reads (no
// duplicate-key games), with stream_options.include_usage forced on for
// streams so tokens can be counted.
func parseRequest(raw []byte) (request, error) {
	var r request
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return r, errRequest("the body must be a JSON object")
	}
	fields := map[string]json.RawMessage{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return r, errRequest("the body is not valid JSON")
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return r, errRequest("the body is not valid JSON")
		}
		if _, dup := fields[key]; dup {
			return r, errRequest("the body repeats the key " + quoteKey(key))
		}
		fields[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return r, errRequest("the body is not valid JSON")
	}
	if _, err := dec.Token(); err == nil {
		return r, errRequest("the body has data after the JSON object")
	}
	if err := json.Unmarshal(fields["model"], &r.model); err != nil || r.model == "" {
		return r, errRequest(`"model" must be a non-empty string`)
	}
	if len(r.model) > 256 || strings.ContainsFunc(r.model, func(c rune) bool { return c < 0x20 || c == 0x7f }) {
		return r, errRequest(`"model" is not a model name`)
	}
	var msgs []json.RawMessage
	if err := json.Unmarshal(fields["messages"], &msgs); err != nil || len(msgs) == 0 {
		return r, errRequest(`"messages" must be a non-empty array`)
	}
	for _, m := range msgs {
		if len(m) == 0 || m[0] != '{' {
			return r, errRequest(`each of "messages" must be an object`)
		}
		r.promptBytes += textBytes(m)
	}
	if v, ok := fields["stream"]; ok && string(v) != "null" {
		if err := json.Unmarshal(v, &r.stream); err != nil {
			return r, errRequest(`"stream" must be true or false`)
		}
	}
	if r.stream {
		opts := map[string]json.RawMessage{}
		if v, ok := fields["stream_options"]; ok && string(v) != "null" {
			if err := json.Unmarshal(v, &opts); err != nil {
				return r, errRequest(`"stream_options" must be an object`)
			}
		}
		_ = json.Unmarshal(opts["include_usage"], &r.wantUsage)
		opts["include_usage"] = json.RawMessage("true")
		b, err := json.Marshal(opts)
		if err != nil {
			return r, errRequest(`"stream_options" must be an object`)
		}
		fields["stream_options"] = b
	}
	body, err := json.Marshal(fields)
	if err != nil {
		return r, errors.New("chat: re-encoding a request: " + err.Error())
	}
	r.body = body
	return r, nil
}

// quoteKey shows a key in an error without echoing much of it back.
func quoteKey(k string) string {
	if len(k) > 40 || strings.ContainsFunc(k, func(c rune) bool { return c < 0x20 }) {
		return "(a long or unprintable key)"
	}
	b, _ := json.Marshal(k)
	return string(b)
}

// textBytes is the text a message carries: its content string, or the
// text of its content parts. Roles, names and JSON syntax are left out, so
// an estimate from it stays at or below what a tokenizer counts.
func textBytes(msg json.RawMessage) int {
	var m struct {
		Content json.RawMessage `json:"content"`
	}
	if json.Unmarshal(msg, &m) != nil || len(m.Content) == 0 {
		return 0
	}
	var s string
	if json.Unmarshal(m.Content, &s) == nil {
		return len(s)
	}
	var parts []struct {
		Text string `json:"text"`
	}
	_ = json.Unmarshal(m.Content, &parts)
	n := 0
	for _, p := range parts {
		n += len(p.Text)
	}
	return n
}
