package main

import (
	"context"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/store"
)

// The audit log end to end: izwi serve records refused requests, seals the
// log with a checkpoint on shutdown, izwi audit verify passes; a cut-off
// tail is then caught by verify and makes izwi serve refuse to start.
func TestAuditEndToEnd(t *testing.T) {
	s := startServe(t, nil)
	data := filepath.Join(s.cmd.Dir, "data")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", s.url+"/v1/keys", nil)
	req.Header.Set("Authorization", "Bearer izk_aaaaaaaaaaaa_"+strings.Repeat("b", 52))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bogus key: status %d", res.StatusCode)
	}
	if code := s.stop(t); code != exitOK {
		t.Fatalf("serve exit %d\n%s", code, s.logs)
	}

	r := run(t, nil, "audit", "verify", "--data-dir", data)
	if r.code != exitOK || !strings.Contains(r.stderr, "OK") {
		t.Fatalf("verify after a clean run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = run(t, nil, "audit", "export", "--data-dir", data, "--jsonl")
	if !strings.Contains(r.stdout, `"action":"audit.start"`) || !strings.Contains(r.stdout, `"action":"auth.failure"`) ||
		strings.Contains(r.stdout, strings.Repeat("b", 52)) || strings.Contains(r.stdout, "127.0.0.1\"") {
		t.Fatalf("export:\n%s", r.stdout)
	}
	n := strings.Count(r.stdout, "\n")

	// Cut the last entry off, as someone with the database file could.
	st, err := store.Open(t.Context(), filepath.Join(data, "izwi.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.ExecContext(context.Background(), "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq = (SELECT max(seq) FROM audit_log)")
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	r = run(t, nil, "audit", "verify", "--data-dir", data)
	if r.code != exitFailure || !strings.Contains(r.stderr, "tail truncated") {
		t.Fatalf("verify after truncation: %d\n%s", r.code, r.stderr)
	}
	if want := "TAMPERED: entry " + strconv.Itoa(n) + " "; !strings.Contains(r.stderr, want) {
		t.Fatalf("verify names %q, want %q", r.stderr, want)
	}
	r = run(t, nil, "serve", "--listen", "127.0.0.1:0", "--data-dir", data)
	if r.code == exitOK || !strings.Contains(r.stderr, "entries were removed") {
		t.Fatalf("serve on a truncated log: %d\n%s", r.code, r.stderr)
	}
}
