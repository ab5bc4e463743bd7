package audit

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"
	"time"
)

// Golden: the encoding is part of the on-disk format; changing it breaks
// every existing log's verification.
func TestCanonicalGolden(t *testing.T) {
	e := Entry{Seq: 42, Event: Event{
		Time:  time.Date(2026, 1, 2, 3, 4, 5, 600000000, time.FixedZone("x", 3600)),
		Actor: "user:u1", Action: "key.create", Target: "key:abc", Outcome: OutcomeOK,
		RemoteIP: "203.0.113.0/24 ip:0011223344556677", RequestID: "r1",
		Details: map[string]string{"z": "<&>", "a": "1"},
	}}
	b, err := Encode(e)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"action":"key.create","actor":"user:u1","details":{"a":"1","z":"\u003c\u0026\u003e"},"outcome":"ok",` +
		`"remote_ip":"203.0.113.0/24 ip:0011223344556677","request_id":"r1","seq":42,"target":"key:abc",` +
		`"time":"2026-01-02T02:04:05.6Z","v":1}`
	if string(b) != want {
		t.Fatalf("canonical encoding changed:\n got %s\nwant %s", b, want)
	}
	h := ChainHash(Genesis(), b)
	if got := hex.EncodeToString(h[:]); got != goldenHash {
		t.Fatalf("chain hash %s, want %s", got, goldenHash)
	}
	// Minimal entry: optional fields omitted.
	b, _ = Encode(Entry{Seq: 1, Event: Event{Time: time.Unix(0, 0), Actor: "system", Action: "a", Outcome: OutcomeOK}})
	if string(b) != `{"action":"a","actor":"system","outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1}` {
		t.Fatalf("minimal entry %s", b)
	}
}

// goldenHash was computed independently: python3 hashlib.sha256(sha256(b"izwi audit log genesis v1") + want).
const goldenHash = "3f97be191143fcddcb41a085ddee1410a145bc57e992735c2e8aacef6acd7937"

func TestDecodeRefusesNonCanonical(t *testing.T) {
	good := `{"action":"a","actor":"system","outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1}`
	if _, err := Decode([]byte(good)); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"actor":"system","action":"a","outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1}`,      // key order
		`{"action":"a","actor":"system","outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1} `,     // trailing space
		`{"action":"a","actor":"system","outcome":"ok","seq":1,"time":"1970-01-01T01:00:00+01:00","v":1}`, // zone
		`{"action":"a","actor":"system","outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":2}`,      // version
		`{"action":"a","actor":"system","details":{},"outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1}`,
		`{"action":"a","actor":"system","outcome":"ok","seq":1,"seq":1,"time":"1970-01-01T00:00:00Z","v":1}`, // duplicate key
		`{"action":"a","actor":"system","extra":1,"outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1}`,
		`{"action":"a","actor":"system","outcome":"ok","seq":0,"time":"1970-01-01T00:00:00Z","v":1}`,
		`{"action":"<","actor":"system","outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1}`, // unescaped <
	} {
		if _, err := Decode([]byte(bad)); err == nil {
			t.Errorf("Decode accepted non-canonical %s", bad)
		}
	}
}

// FuzzCanonical: any event that Record would accept encodes
// deterministically, decodes back to itself, and re-encodes to the same
// bytes; any bytes Decode accepts are exactly the canonical encoding.
func FuzzCanonical(f *testing.F) {
	f.Add(int64(1), int64(0), "system", "audit.start", "", "ok", "", "", "", "")
	f.Add(int64(42), int64(1767322445600000000), "user:u1", "key.create", "key:abc", "denied", "203.0.113.0/24 ip:00", "r1", "reason", "bad_password")
	f.Add(int64(7), int64(-1), "\xff<&>\u2028", "a\x00b", "t", "error", "::1", "\"", "k\n", "v\\")
	f.Fuzz(func(t *testing.T, seq, nanos int64, actor, action, target, outcome, ip, rid, dk, dv string) {
		ev := Event{Actor: actor, Action: action, Target: target, Outcome: outcome, RemoteIP: ip, RequestID: rid}
		if dk != "" {
			ev.Details = map[string]string{dk: dv}
		}
		ev, err := normalize(ev)
		if err != nil {
			return
		}
		ev.Time = time.Unix(0, nanos).UTC()
		if seq < 1 {
			seq = 1
		}
		en := Entry{Seq: seq, Event: ev}
		b, err := Encode(en)
		if err != nil {
			t.Fatalf("normalized event does not encode: %v", err)
		}
		b2, _ := Encode(en)
		if !bytes.Equal(b, b2) {
			t.Fatal("encoding is not deterministic")
		}
		back, err := Decode(b)
		if err != nil {
			t.Fatalf("decode of own encoding: %v\n%s", err, b)
		}
		if !back.Event.Time.Equal(ev.Time) {
			t.Fatalf("time %v != %v", back.Event.Time, ev.Time)
		}
		back.Event.Time = ev.Time
		if !reflect.DeepEqual(back, en) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", back, en)
		}
	})
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"action":"a","actor":"system","outcome":"ok","seq":1,"time":"1970-01-01T00:00:00Z","v":1}`))
	f.Add([]byte(`{"action":"a","actor":"s","details":{"k":"v"},"outcome":"ok","seq":9,"time":"2026-01-01T00:00:00.5Z","v":1}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		again, err := Encode(e)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Decode accepted bytes that are not the canonical encoding: %q vs %q (%v)", b, again, err)
		}
	})
}
