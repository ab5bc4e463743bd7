package consent

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
	"github.com/izwi-speech/izwi/internal/vault"
)

// The package's tests are its store conformance suite: they run on SQLite,
// then on PostgreSQL.
func TestMain(m *testing.M) {
	os.Exit(leaktest.Check(storetest.Main(m, storetest.Postgres{}), "internal/consent"))
}

type recorder struct {
	mu     sync.Mutex
	events []audit.Event
}

func (r *recorder) RecordTx(_ context.Context, _ *store.Tx, e audit.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
	return nil
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		out = append(out, e.Action+":"+e.Actor)
	}
	return out
}

type rig struct {
	db    string
	st    *store.Store
	vault *vault.Keyring
	svc   *Service
	rec   *recorder
	clock *clocktest.Clock
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	r := &rig{db: storetest.Database(t), rec: &recorder{}, clock: clocktest.New(time.Unix(1_800_000_000, 0))}
	st, err := store.Open(ctx, r.db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = st
	r.vault, err = vault.New(ctx, vault.Options{Store: st, Audit: r.rec, Now: r.clock.Now,
		Provider: &vault.FileProvider{Path: filepath.Join(dir, "vault", "master.key")}})
	if err != nil {
		t.Fatal(err)
	}
	r.svc, err = New(ctx, Options{Store: st, Vault: r.vault, Audit: r.rec, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) hits(t *testing.T, needle string) int {
	t.Helper()
	n := 0
	for _, p := range []string{r.db, r.db + "-wal", r.db + "-shm"} {
		if b, err := os.ReadFile(p); err == nil {
			n += bytes.Count(b, []byte(needle))
		}
	}
	return n
}

const (
	typedName = "Thandiwe Mokoena-Xulu"
	clientIP  = "198.51.100.77"
	userAgent = "Mozilla/5.0 (ConsentTestBrowser/9.9)"
)

func grant(subject string) Grant {
	return Grant{Subject: subject, Purpose: PurposeSpeakerID,
		Notice: Notice{Version: "2026-11", Text: "Izwi will store a voiceprint of your voice to show your name on captions..."},
		Method: MethodTypedSignature, Operator: "user:op1", Term: 365 * 24 * time.Hour, ExplicitGDPR: true,
		Evidence: Evidence{TypedName: typedName, Intent: "I agree to the storage of my voiceprint", RemoteIP: clientIP, UserAgent: userAgent}}
}

// A recorded consent is active, its evidence is sealed (no name, IP or user
// agent in the SQLite files), and it is audited.
func TestRecordActiveSealed(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if _, err := r.svc.Active(ctx, "subject:0001aaaa", PurposeSpeakerID); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("before consent: %v, want ErrNoConsent", err)
	}
	rec, err := r.svc.Record(ctx, grant("subject:0001aaaa"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := r.svc.Active(ctx, "subject:0001aaaa", PurposeSpeakerID)
	if err != nil || got.ID != rec.ID || got.Evidence.TypedName != typedName || got.NoticeSHA256 == "" || got.SubjectKeyID == "" {
		t.Fatalf("Active = %+v, %v", got, err)
	}
	if !got.Deadline.Equal(r.clock.Now().UTC().Add(365 * 24 * time.Hour)) {
		t.Fatalf("deadline %v", got.Deadline)
	}
	if _, err := r.svc.Active(ctx, "subject:0002bbbb", PurposeSpeakerID); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("another subject: %v", err)
	}
	for _, s := range []string{typedName, clientIP, userAgent, "I agree to the storage"} {
		if n := r.hits(t, s); n != 0 {
			t.Fatalf("%q is in the database files (%d hits)", s, n)
		}
	}
	if a := r.rec.actions(); len(a) != 1 || a[0] != "consent.record:user:op1" {
		t.Fatalf("audit %v", a)
	}
	if _, err := r.svc.Record(ctx, grant("subject:0001aaaa")); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a second active consent: %v", err)
	}
}

func TestGrantValidation(t *testing.T) {
	r := newRig(t)
	for name, mut := range map[string]func(*Grant){
		"a name as subject": func(g *Grant) { g.Subject = "Thandiwe Mokoena" },
		"unknown purpose":   func(g *Grant) { g.Purpose = "marketing" },
		"no notice":         func(g *Grant) { g.Notice.Text = " " },
		"no version":        func(g *Grant) { g.Notice.Version = "" },
		"unknown method":    func(g *Grant) { g.Method = "implied" },
		"unsigned":          func(g *Grant) { g.Evidence.TypedName = "" },
		"no intent":         func(g *Grant) { g.Evidence.Intent = "" },
		"no operator":       func(g *Grant) { g.Operator = "" },
		"not explicit":      func(g *Grant) { g.ExplicitGDPR = false },
	} {
		g := grant("subject:0003cccc")
		mut(&g)
		if _, err := r.svc.Record(context.Background(), g); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	g := grant("subject:0003cccc")
	g.Term = 10 * MaxTerm
	rec, err := r.svc.Record(context.Background(), g)
	if err != nil || rec.Deadline.Sub(rec.GivenAt) != MaxTerm {
		t.Fatalf("term above 3 years: %v, %v", rec.Deadline.Sub(rec.GivenAt), err)
	}
}

// Withdrawal is one call, takes effect at once, shreds the subject's
// biometric data (a voiceprint sealed under the subject key) and keeps the
// record, with its history, as proof.
func TestWithdrawShredsBiometrics(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	rec, _ := r.svc.Record(ctx, grant("subject:0004dddd"))
	kid, _ := vault.ParseKeyID(rec.SubjectKeyID)
	vp, err := r.vault.SealUnder(ctx, kid, vault.ClassVoiceprint, "voiceprint:0004dddd", []byte("192 floats"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Withdraw(ctx, rec.ID, "user:op2", "subject_request"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Active(ctx, "subject:0004dddd", PurposeSpeakerID); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("after withdrawal: %v", err)
	}
	if _, err := r.vault.Open(ctx, vault.ClassVoiceprint, "voiceprint:0004dddd", vp); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("voiceprint after withdrawal: %v, want shredded", err)
	}
	out, err := r.svc.Export(ctx, "subject:0004dddd", "user:op2")
	if err != nil || len(out) != 1 {
		t.Fatalf("export: %v %d", err, len(out))
	}
	h := out[0].History
	if out[0].Status != StatusWithdrawn || len(h) != 2 || h[1].Status != StatusWithdrawn || h[1].Actor != "user:op2" ||
		h[1].Reason != "subject_request" || out[0].Evidence.TypedName != typedName {
		t.Fatalf("exported record %+v", out[0])
	}
	if err := r.svc.Withdraw(ctx, rec.ID, "user:op2", "she moved to Durban"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a free-text reason (personal details in the audit log): %v", err)
	}
	if err := r.svc.Withdraw(ctx, rec.ID, "user:op2", ""); err != nil {
		t.Fatalf("withdrawing again: %v", err)
	}
	if err := r.svc.Withdraw(ctx, "consent:nope", "user:op2", ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown record: %v", err)
	}
	want := []string{"consent.record:user:op1", "consent.withdraw:user:op2", "vault.shred:user:op2", "consent.export:user:op2"}
	if a := r.rec.actions(); strings.Join(a, " ") != strings.Join(want, " ") {
		t.Fatalf("audit %v, want %v", a, want)
	}
	// A new consent can be recorded after withdrawal, with a fresh subject key.
	rec2, err := r.svc.Record(ctx, grant("subject:0004dddd"))
	if err != nil || rec2.SubjectKeyID == rec.SubjectKeyID {
		t.Fatalf("re-consent: %v (key %s)", err, rec2.SubjectKeyID)
	}
}

// The deadline passes (fake clock): Active refuses at once, and the purge
// job marks the record expired and shreds the subject's data, audited.
func TestExpiry(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	g := grant("subject:0005eeee")
	g.Term = 24 * time.Hour
	rec, _ := r.svc.Record(ctx, g)
	kid, _ := vault.ParseKeyID(rec.SubjectKeyID)
	vp, _ := r.vault.SealUnder(ctx, kid, vault.ClassVoiceprint, "voiceprint:0005eeee", []byte("v"))
	other, _ := r.svc.Record(ctx, grant("subject:0006ffff"))
	if n, err := r.svc.Expire(ctx); n != 0 || err != nil {
		t.Fatalf("Expire before the deadline: %d %v", n, err)
	}
	r.clock.Advance(24*time.Hour + time.Second)
	if _, err := r.svc.Active(ctx, "subject:0005eeee", PurposeSpeakerID); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("past the deadline: %v", err)
	}
	if n, err := r.svc.Expire(ctx); n != 1 || err != nil {
		t.Fatalf("Expire: %d %v", n, err)
	}
	if _, err := r.vault.Open(ctx, vault.ClassVoiceprint, "voiceprint:0005eeee", vp); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("voiceprint after expiry: %v", err)
	}
	if got, err := r.svc.Active(ctx, "subject:0006ffff", PurposeSpeakerID); err != nil || got.ID != other.ID {
		t.Fatalf("an unexpired consent was touched: %v", err)
	}
	if a := r.rec.actions(); !strings.Contains(strings.Join(a, " "), "consent.expire:system:retention vault.shred:system:retention") {
		t.Fatalf("expiry not audited: %v", a)
	}
}

// Erasure removes the evidence and shreds the record's key: the export
// keeps only pseudonymous metadata, and the sealed payload is unreadable.
func TestErase(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	rec, _ := r.svc.Record(ctx, grant("subject:0007aaaa"))
	var sealed []byte
	r.st.QueryRowContext(context.Background(), "SELECT sealed FROM consent_records WHERE id = ?", rec.ID).Scan(&sealed)
	n, err := r.svc.Erase(ctx, "subject:0007aaaa", "user:dpo")
	if err != nil || n != 1 {
		t.Fatalf("Erase: %d %v", n, err)
	}
	if _, err := r.vault.Open(ctx, vault.ClassConsent, rec.ID, sealed); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("a copy of the erased record still opens: %v", err)
	}
	if n := r.hits(t, string(sealed[len(sealed)-24:])); n != 0 {
		t.Fatalf("the erased ciphertext is still in the database files (%d hits)", n)
	}
	out, err := r.svc.Export(ctx, "subject:0007aaaa", "user:dpo")
	if err != nil || len(out) != 1 || out[0].Status != StatusErased || out[0].Evidence.TypedName != "" || len(out[0].History) != 2 {
		t.Fatalf("export after erasure: %+v %v", out, err)
	}
	if _, err := r.svc.Active(ctx, "subject:0007aaaa", PurposeSpeakerID); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("after erasure: %v", err)
	}
}
