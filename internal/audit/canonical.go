package audit

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Canonical encoding (version 1). An entry is encoded as compact JSON of an
// object whose keys are sorted bytewise (encoding/json of a map, which sorts
// keys and escapes <, > and & as \u003c, \u003e, \u0026):
//
//	{"action":…,"actor":…,"details":{…},"outcome":…,"remote_ip":…,
//	 "request_id":…,"seq":N,"target":…,"time":"RFC 3339 UTC, nanoseconds, trailing zeros trimmed","v":1}
//
// target, remote_ip, request_id and details are omitted when empty. Strings
// are valid UTF-8 (Record replaces invalid bytes with U+FFFD before encoding).
// Decoding re-encodes and requires the exact bytes back, so each event has
// one and only one encoding.
//
// Chaining: hash(n) = SHA-256(hash(n-1) ‖ canonical(n)), with hash(0) the
// fixed Genesis value. Seq starts at 1 and has no gaps.

// EncodingVersion is the "v" every entry carries.
const EncodingVersion = 1

// HashSize is the size of an entry hash.
const HashSize = sha256.Size

// Hash is an entry hash (SHA-256).
type Hash [HashSize]byte

// Genesis is hash(0): the fixed value the first entry links to.
func Genesis() Hash { return sha256.Sum256([]byte("izwi audit log genesis v1")) }

// ChainHash returns SHA-256(prev ‖ canonical).
func ChainHash(prev Hash, canonical []byte) Hash {
	h := sha256.New()
	h.Write(prev[:])
	h.Write(canonical)
	var out Hash
	h.Sum(out[:0])
	return out
}

// Limits on what one entry may carry; longer values are cut (with "…") so an
// oversized field can neither fail an audited action nor smuggle a payload in.
const (
	maxField      = 256
	maxDetails    = 16
	maxDetailKey  = 64
	timeLayout    = time.RFC3339Nano
	truncatedMark = "…"
)

// Entry is one stored, chained event.
type Entry struct {
	Seq   int64
	Event Event // Event.Time is the log's time for the entry (UTC)
}

// wire is the canonical JSON shape; keys sorted by encoding/json's map order.
type wire struct {
	Action    string            `json:"action"`
	Actor     string            `json:"actor"`
	Details   map[string]string `json:"details,omitempty"`
	Outcome   string            `json:"outcome"`
	RemoteIP  string            `json:"remote_ip,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Seq       int64             `json:"seq"`
	Target    string            `json:"target,omitempty"`
	Time      string            `json:"time"`
	V         int               `json:"v"`
}

// Encode returns e's canonical encoding.
func Encode(e Entry) ([]byte, error) {
	if e.Seq < 1 {
		return nil, fmt.Errorf("audit: encode: seq %d < 1", e.Seq)
	}
	if e.Event.Time.IsZero() {
		return nil, errors.New("audit: encode: zero time")
	}
	ev := e.Event
	m := map[string]any{
		"action":  ev.Action,
		"actor":   ev.Actor,
		"outcome": ev.Outcome,
		"seq":     e.Seq,
		"time":    ev.Time.UTC().Format(timeLayout),
		"v":       EncodingVersion,
	}
	for k, v := range map[string]string{"target": ev.Target, "remote_ip": ev.RemoteIP, "request_id": ev.RequestID} {
		if v != "" {
			m[k] = v
		}
	}
	if len(ev.Details) > 0 {
		m["details"] = ev.Details
	}
	for _, s := range []string{ev.Action, ev.Actor, ev.Outcome, ev.Target, ev.RemoteIP, ev.RequestID} {
		if !utf8.ValidString(s) {
			return nil, errors.New("audit: encode: invalid UTF-8")
		}
	}
	for k, v := range ev.Details {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, errors.New("audit: encode: invalid UTF-8")
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("audit: encode: %w", err)
	}
	return b, nil
}

// Decode parses a canonical encoding, refusing anything that is not exactly
// what Encode would produce for the decoded entry.
func Decode(b []byte) (Entry, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var w wire
	if err := dec.Decode(&w); err != nil {
		return Entry{}, fmt.Errorf("audit: decode: %w", err)
	}
	if dec.More() {
		return Entry{}, errors.New("audit: decode: trailing data")
	}
	if w.V != EncodingVersion {
		return Entry{}, fmt.Errorf("audit: decode: unknown encoding version %d", w.V)
	}
	t, err := time.Parse(timeLayout, w.Time)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: decode: time: %w", err)
	}
	e := Entry{Seq: w.Seq, Event: Event{Time: t.UTC(), Actor: w.Actor, Action: w.Action, Target: w.Target,
		Outcome: w.Outcome, RemoteIP: w.RemoteIP, RequestID: w.RequestID, Details: w.Details}}
	again, err := Encode(e)
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(again, b) {
		return Entry{}, errors.New("audit: decode: not in canonical form")
	}
	return e, nil
}

// Outcomes an event may have.
const (
	OutcomeOK     = "ok"
	OutcomeDenied = "denied"
	OutcomeError  = "error"
)

// normalize checks and tidies an event before it is chained: an action and a
// known outcome are required, strings are made valid UTF-8 and cut to the
// limits, an empty actor becomes "anonymous". It never keeps e's Details map
// (the caller may reuse it).
func normalize(e Event) (Event, error) {
	if strings.TrimSpace(e.Action) == "" {
		return Event{}, errors.New("audit: event has no action")
	}
	switch e.Outcome {
	case OutcomeOK, OutcomeDenied, OutcomeError:
	default:
		return Event{}, fmt.Errorf("audit: event %q: outcome %q: want ok, denied or error", clip(e.Action, 64), clip(e.Outcome, 32))
	}
	if e.Actor == "" {
		e.Actor = "anonymous"
	}
	e.Action, e.Actor, e.Target = clip(e.Action, maxField), clip(e.Actor, maxField), clip(e.Target, maxField)
	e.RemoteIP, e.RequestID = clip(e.RemoteIP, maxField), clip(e.RequestID, maxField)
	if len(e.Details) > 0 {
		d := make(map[string]string, min(len(e.Details), maxDetails))
		for k, v := range e.Details {
			k = clip(k, maxDetailKey)
			if len(d) >= maxDetails {
				d["truncated"] = "true"
				break
			}
			d[k] = clip(v, maxField)
		}
		e.Details = d
	}
	return e, nil
}

// clip makes s valid UTF-8 and at most n bytes, marking a cut with "…".
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	cut := n - len(truncatedMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + truncatedMark
}
