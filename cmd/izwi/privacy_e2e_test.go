package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
)

// Issue 6's proof: a full live session with persistence on (transcript
// kept, low-confidence snippets kept), then every file under the data
// directory (the SQLite file and its WAL, the vault, the audit log, any
// broker storage) and the server's logs are scanned for the words spoken
// and for runs of the audio streamed: zero hits. The kept transcript is
// readable through the API — it is sealed, not lost.
func TestPersistenceLeavesNothingInTheClear(t *testing.T) {
	dataDir := t.TempDir()
	env := append(liveEnv(t), "IZWI_DATA_DIR="+dataDir, "IZWI_PRIVACY_KEEP_TRANSCRIPTS=true",
		"IZWI_PRIVACY_REVIEW_SNIPPETS=true", "IZWI_PRIVACY_SNIPPET_BELOW=0.99")
	key := newKey(t, env, "--name", "keeper", "--scopes", "live.write,live.read")
	s := startServe(t, env)

	u, samples := liveUtterance(t, "1089-134691-0001")
	ses := createLiveSession(t, s, key, map[string]any{"label": "kept", "start": true})
	v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
	streamPaced(t, s, key, ses.ID, samples, 4)
	evs := awaitLiveWER(t, "kept session", v, u.Reference)

	// The kept transcript comes back through the API (the writer queue is
	// asynchronous, so poll).
	var kept struct {
		Captions []live.Event `json:"captions"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		code := liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/transcript", key, nil, &kept)
		if code == 200 && len(kept.Captions) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kept transcript: %d, %d captions", code, len(kept.Captions))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if got, want := liveFinals(kept.Captions), liveFinals(evs); got != want {
		t.Errorf("kept transcript %q, viewers saw %q", got, want)
	}
	checkExports(t, s, key, ses.ID, liveFinals(evs))
	other := newKey(t, env, "--name", "other", "--scopes", "live.write")
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/transcript", other, nil, nil); code != 404 {
		t.Errorf("another key read the transcript: %d", code)
	}
	liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/stop", key, nil, nil)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// Something was kept (else the scan below proves nothing): sealed
	// caption lines and at least one review snippet with its audio.
	db, err := store.Open(t.Context(), filepath.Join(dataDir, "izwi.db"))
	if err != nil {
		t.Fatal(err)
	}
	var lines, snippets int
	_ = db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM retention_lines").Scan(&lines)
	_ = db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM retention_snippets WHERE sealed IS NOT NULL").Scan(&snippets)
	db.Close()
	if lines == 0 || snippets == 0 {
		t.Fatalf("kept %d caption lines and %d snippets; the scan would prove nothing", lines, snippets)
	}

	// Needles: every recognised word sequence of 3+ words, the reference's
	// rarer words, and 64-byte runs of the PCM that was streamed.
	var needles [][]byte
	for _, e := range kept.Captions {
		w := strings.Fields(e.Text)
		for i := 0; i+3 <= len(w); i++ {
			needles = append(needles, []byte(strings.Join(w[i:i+3], " ")))
		}
	}
	for _, w := range strings.Fields(strings.ToLower(u.Reference)) {
		if len(w) >= 7 {
			needles = append(needles, []byte(w))
		}
	}
	pcm := audio.EncodePCM16(samples)
	for off := 8000; off+64 <= len(pcm); off += len(pcm) / 8 {
		needles = append(needles, pcm[off:off+64])
	}
	if len(needles) < 10 {
		t.Fatalf("only %d needles", len(needles))
	}
	if files := scanDir(t, dataDir, needles); files < 4 {
		t.Fatalf("only %d files under the data directory", files)
	}
	for _, wal := range []string{"izwi.db", "izwi.db-wal"} {
		if _, err := os.Stat(filepath.Join(dataDir, wal)); err != nil && wal == "izwi.db" {
			t.Fatalf("no database at %s", wal)
		}
	}
	scan(t, "server logs", []byte(s.logs.String()), needles)
}

// scanDir scans every file under dir for needles and returns how many
// files it read.
func scanDir(t *testing.T, dir string, needles [][]byte) int {
	t.Helper()
	files := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		scan(t, p, b, needles)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func scan(t *testing.T, name string, b []byte, needles [][]byte) {
	t.Helper()
	for _, n := range needles {
		if bytes.Contains(b, n) {
			shown := string(n)
			if !isText(n) {
				shown = "<64 bytes of the streamed PCM>"
			}
			t.Errorf("%s holds %q in the clear", name, shown)
		}
	}
}

func isText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}
