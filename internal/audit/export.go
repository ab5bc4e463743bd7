package audit

import (
	"bufio"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/store"
)

// Format is an export format.
type Format int

const (
	// JSONL writes one JSON object per line:
	//	{"seq":N,"hash":"<hex>","prev":"<hex>","event":<canonical entry>}
	// The "event" value is the stored canonical bytes, so anyone can check
	// hash = SHA-256(prev ‖ event bytes) line by line without Izwi.
	JSONL Format = iota
	// Text writes one tab-separated line per entry for people.
	Text
)

// Export writes the entries with seq > since to w, in order. It reads the
// stored rows as they are and does not verify them (Verify does).
func Export(ctx context.Context, db *store.Store, w io.Writer, since int64, f Format) (int64, error) {
	rows, err := db.QueryContext(ctx, "SELECT seq, entry, prev, hash FROM audit_log WHERE seq > ? ORDER BY seq", since)
	if err != nil {
		return 0, fmt.Errorf("audit: export: %w", err)
	}
	defer rows.Close()
	bw := bufio.NewWriter(w)
	var n int64
	for rows.Next() {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		var seq int64
		var entry, prev, hash []byte
		if err := rows.Scan(&seq, &entry, &prev, &hash); err != nil {
			return n, fmt.Errorf("audit: export: %w", err)
		}
		switch f {
		case Text:
			writeText(bw, seq, entry)
		default:
			fmt.Fprintf(bw, `{"seq":%d,"hash":"%x","prev":"%x","event":%s}`+"\n", seq, hash, prev, jsonOrString(entry))
		}
		n++
		if n%256 == 0 {
			if err := bw.Flush(); err != nil {
				return n, fmt.Errorf("audit: export: %w", err)
			}
			if fl, ok := w.(http.Flusher); ok {
				fl.Flush()
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("audit: export: %w", err)
	}
	return n, nil
}

// jsonOrString returns a stored entry as JSON: itself when it decodes (the
// normal case), else as a JSON string (invalid UTF-8 becomes U+FFFD), so a
// damaged row cannot break the line format.
func jsonOrString(entry []byte) string {
	if _, err := Decode(entry); err == nil {
		return string(entry)
	}
	q, _ := json.Marshal(string(entry)) // a string always marshals
	return string(q)
}

func writeText(w io.Writer, seq int64, entry []byte) {
	e, err := Decode(entry)
	if err != nil {
		fmt.Fprintf(w, "%d\tDAMAGED\t%v\n", seq, err)
		return
	}
	ev := e.Event
	keys := make([]string, 0, len(ev.Details))
	for k := range ev.Details {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var d []string
	for _, k := range keys {
		d = append(d, k+"="+ev.Details[k])
	}
	fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", seq, ev.Time.Format(time.RFC3339Nano), ev.Actor, ev.Action,
		dash(ev.Target), ev.Outcome, dash(ev.RemoteIP), dash(ev.RequestID), dash(strings.Join(d, " ")))
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Who says who is making an HTTP request and from where (the remote IP as
// the gateway resolved it through trusted proxies); the integrator builds it
// from the authenticated principal.
type Who func(r *http.Request) (actor, remoteIP string)

// ExportHandler serves GET ?since=SEQ as JSON lines (application/x-ndjson).
// Mount it on an admin-only route. Reading the log is itself audited
// ("audit.export"); if that cannot be recorded the export is refused.
func (l *Log) ExportHandler(who Who) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since := int64(0)
		if s := r.URL.Query().Get("since"); s != "" {
			v, err := strconv.ParseInt(s, 10, 64)
			if err != nil || v < 0 {
				apierr.Write(w, r, apierr.CodeBadRequest, "since must be a non-negative entry number")
				return
			}
			since = v
		}
		if !l.recordAccess(w, r, who, "audit.export", map[string]string{"since": strconv.FormatInt(since, 10)}) {
			return
		}
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.Header().Set("Cache-Control", "no-store")
		if _, err := Export(r.Context(), l.db, w, since, JSONL); err != nil {
			// Headers are gone; the truncated stream is what the client sees.
			l.log.Error("audit export failed", "request_id", apierr.RequestID(r.Context()), "err", err)
		}
	})
}

// CheckpointHandler serves the latest checkpoint (a signed note, text/plain)
// so an admin or a monitor can keep copies outside this machine. Audited
// as "audit.checkpoint.read".
func (l *Log) CheckpointHandler(who Who) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !l.recordAccess(w, r, who, "audit.checkpoint.read", nil) {
			return
		}
		cp, err := l.Checkpoint(r.Context())
		if err != nil {
			l.log.Error("audit checkpoint failed", "request_id", apierr.RequestID(r.Context()), "err", err)
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
		signed, err := signCheckpoint(cp, l.signer)
		if err != nil {
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write(signed)
	})
}

func (l *Log) recordAccess(w http.ResponseWriter, r *http.Request, who Who, action string, details map[string]string) bool {
	actor, ip := "anonymous", ""
	if who != nil {
		actor, ip = who(r)
	}
	err := l.Record(r.Context(), Event{Actor: actor, Action: action, Target: "audit_log", Outcome: OutcomeOK,
		RemoteIP: ip, RequestID: apierr.RequestID(r.Context()), Details: details})
	if err != nil {
		apierr.Write(w, r, apierr.CodeInternal, "the access could not be audited, so it was refused")
		return false
	}
	return true
}

// VerifyExport verifies a full JSONL export (from entry 1, as Export with
// since 0 writes it) against signed checkpoints, exactly as Verify checks
// the database: an auditor can check a downloaded log without access to
// the server. A line that does not parse stops verification with an error
// naming the line.
func VerifyExport(ctx context.Context, r io.Reader, checkpoints []byte, verifierKey string) (Report, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxExportLine)
	line := 0
	return verify(ctx, checkpoints, verifierKey, func() (row, bool, error) {
		if !sc.Scan() {
			return row{}, false, sc.Err()
		}
		line++
		rw, err := parseExportLine(sc.Bytes())
		if err != nil {
			return row{}, false, fmt.Errorf("export line %d: %w", line, err)
		}
		return rw, true, nil
	})
}

// maxExportLine bounds one export line; entries are far smaller (every
// field is clipped on the way in).
const maxExportLine = 1 << 20

// parseExportLine reads one JSONL export line back into a stored row. The
// "event" bytes are kept exactly as written (they are what was hashed); a
// damaged row that Export wrote as a JSON string is unquoted.
func parseExportLine(b []byte) (row, error) {
	var l struct {
		Seq   *int64          `json:"seq"`
		Hash  string          `json:"hash"`
		Prev  string          `json:"prev"`
		Event json.RawMessage `json:"event"`
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return row{}, fmt.Errorf("audit: %w", err)
	}
	if l.Seq == nil || len(l.Event) == 0 {
		return row{}, errors.New("audit: want seq, hash, prev and event")
	}
	h, err1 := hex.DecodeString(l.Hash)
	p, err2 := hex.DecodeString(l.Prev)
	if err1 != nil || err2 != nil {
		return row{}, errors.New("audit: hash and prev must be hex")
	}
	entry := []byte(l.Event)
	if entry[0] == '"' {
		var s string
		if err := json.Unmarshal(entry, &s); err != nil {
			return row{}, fmt.Errorf("audit: %w", err)
		}
		entry = []byte(s)
	}
	return row{seq: *l.Seq, entry: entry, prev: p, hash: h}, nil
}
