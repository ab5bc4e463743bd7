package retention

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
	"github.com/izwi-speech/izwi/internal/vault"
)

type rig struct {
	dbPath string
	k      *Keeper
	keys   *vault.Keyring
	audit  *audittest.Recorder
	clock  *clocktest.Clock
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	r := &rig{dbPath: storetest.Database(t), audit: &audittest.Recorder{}, clock: clocktest.New(time.Date(2026, 11, 1, 9, 0, 0, 0, time.UTC))}
	st, err := store.Open(ctx, r.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.keys, err = vault.New(ctx, vault.Options{Store: st, Provider: &vault.FileProvider{Path: filepath.Join(dir, "vault", "master.key")},
		Audit: r.audit, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.k, err = New(ctx, Options{Store: st, Vault: r.keys, Audit: r.audit, Now: r.clock.Now,
		TranscriptRetention: 30 * 24 * time.Hour, SnippetRetention: 14 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func caption(session string, seq uint64, final bool, text string) live.Event {
	return live.Event{Type: live.TypeCaption, SessionID: session, Seq: seq, Final: final, Text: text, Start: float64(seq), End: float64(seq) + 0.9}
}

// scan fails t if any needle is in the database file or its WAL.
func (r *rig) scan(t *testing.T, needles ...[]byte) {
	t.Helper()
	for _, f := range []string{r.dbPath, r.dbPath + "-wal"} {
		raw, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range needles {
			if bytes.Contains(raw, n) {
				t.Errorf("%s holds plaintext (%d bytes starting %q)", filepath.Base(f), len(n), n[:min(len(n), 12)])
			}
		}
	}
}

func TestTranscriptKeptSealedAndPurged(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	finals := []string{"zebra quartz obelisk one", "zebra quartz obelisk two"}
	for i, text := range finals {
		if err := r.k.Keep(ctx, caption("ses_a", uint64(2*i+2), true, text)); err != nil {
			t.Fatal(err)
		}
		if err := r.k.Keep(ctx, caption("ses_a", uint64(2*i+1), false, "partial words")); err != nil {
			t.Fatal(err)
		}
	}
	// A replayed caption (same seq) is not kept twice.
	if err := r.k.Keep(ctx, caption("ses_a", 2, true, finals[0])); err != nil {
		t.Fatal(err)
	}
	var lines int
	if err := r.k.db.QueryRowContext(context.Background(), "SELECT lines FROM retention_transcripts WHERE session_id = 'ses_a'").Scan(&lines); err != nil || lines != 2 {
		t.Fatalf("lines counted %d (%v), want 2", lines, err)
	}
	got, err := r.k.Transcript(ctx, "ses_a")
	if err != nil || len(got) != 2 || got[0].Text != finals[0] || got[1].Text != finals[1] {
		t.Fatalf("transcript %+v %v", got, err)
	}
	if len(r.audit.Find("retention.read", "ok")) != 1 {
		t.Error("reading a kept transcript was not audited")
	}
	if _, err := r.k.Transcript(ctx, "ses_none"); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown session: %v", err)
	}
	r.scan(t, []byte("zebra quartz obelisk"), []byte("partial words"))

	// Keep one sealed line aside, then let the retention window pass.
	var sealed []byte
	if err := r.k.db.QueryRowContext(context.Background(), "SELECT sealed FROM retention_lines WHERE session_id = 'ses_a' AND seq = 2").Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	r.clock.Advance(29 * 24 * time.Hour)
	if rep, err := r.k.Purge(ctx); err != nil || rep.Transcripts != 0 {
		t.Fatalf("purge before expiry: %+v %v", rep, err)
	}
	r.clock.Advance(2 * 24 * time.Hour)
	if rep, err := r.k.Purge(ctx); err != nil || rep.Transcripts != 1 {
		t.Fatalf("purge after expiry: %+v %v", rep, err)
	}
	if _, err := r.k.Transcript(ctx, "ses_a"); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired transcript: %v", err)
	}
	if _, err := r.keys.Open(ctx, vault.ClassTranscript, lineID("ses_a", 2), sealed); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("purged caption opened with the master key in hand: %v", err)
	}
	if err := r.k.Keep(ctx, caption("ses_a", 9, true, "late")); !errors.Is(err, ErrExpired) {
		t.Fatalf("a late caption reopened a destroyed transcript: %v", err)
	}
	if len(r.audit.Find("retention.purge", "ok")) != 1 {
		t.Error("purge not audited")
	}
}

func TestSnippetsSealedExpireAndDestroy(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	tone := make([]float32, 16000)
	for i := range tone {
		tone[i] = float32(0.3 * math.Sin(2*math.Pi*437*float64(i)/16000))
	}
	pcm := audio.EncodePCM16(tone)
	s, err := r.k.AddSnippet(ctx, Snippet{SessionID: "ses_b", Start: 3 * time.Second, End: 4 * time.Second, Confidence: 0.31,
		Text: "mumbled walrus", Rate: 16000, PCM16: pcm})
	if err != nil {
		t.Fatal(err)
	}
	list, err := r.k.Snippets(ctx, "ses_b")
	if err != nil || len(list) != 1 || list[0].ID != s.ID || list[0].Start != 3*time.Second || list[0].Text != "" {
		t.Fatalf("snippets %+v %v", list, err)
	}
	c, err := r.k.SnippetContent(ctx, s.ID)
	if err != nil || c.Text != "mumbled walrus" || !bytes.Equal(c.PCM16, pcm) || c.Rate != 16000 {
		t.Fatalf("content: %v", err)
	}
	r.scan(t, pcm[1000:1064], []byte("mumbled walrus"))

	// A second snippet, destroyed with its session before it expires.
	s2, err := r.k.AddSnippet(ctx, Snippet{SessionID: "ses_c", Rate: 16000, PCM16: pcm[:3200], Confidence: 0.2})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.k.DestroySession(ctx, "ses_c", "deleted"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.k.SnippetContent(ctx, s2.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("destroyed snippet: %v", err)
	}
	r.clock.Advance(15 * 24 * time.Hour)
	if rep, err := r.k.Purge(ctx); err != nil || rep.Snippets != 1 {
		t.Fatalf("purge: %+v %v", rep, err)
	}
	if _, err := r.k.SnippetContent(ctx, s.ID); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired snippet: %v", err)
	}
	if l, _ := r.k.Snippets(ctx, "ses_b"); len(l) != 0 {
		t.Fatalf("expired snippet still listed: %+v", l)
	}
	for _, bad := range []Snippet{{SessionID: "s", Rate: 16000}, {SessionID: "s", Rate: 4000, PCM16: pcm}, {Rate: 16000, PCM16: pcm}} {
		if _, err := r.k.AddSnippet(ctx, bad); err == nil {
			t.Errorf("bad snippet accepted: %+v", bad.Rate)
		}
	}
}

func TestRetentionWindowsEnforced(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.Database(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, o := range []Options{
		{TranscriptRetention: 24 * time.Hour, SnippetRetention: 3 * 24 * time.Hour},
		{TranscriptRetention: 24 * time.Hour, SnippetRetention: 60 * 24 * time.Hour},
		{TranscriptRetention: time.Minute, SnippetRetention: 7 * 24 * time.Hour},
	} {
		o.Store, o.Vault, o.Audit = st, &vault.Keyring{}, &audittest.Recorder{}
		if _, err := New(ctx, o); err == nil {
			t.Errorf("retention %v/%v accepted", o.TranscriptRetention, o.SnippetRetention)
		}
	}
}
