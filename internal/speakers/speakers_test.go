package speakers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/clocktest"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/sherpa/sherpatest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/vault"
)

const model = sherpatest.SpeakerModel

type rig struct {
	dbPath string
	clock  *clocktest.Clock
	reg    *Registry
	keys   *vault.Keyring
	audit  *audittest.Recorder
	emb    speech.Embedder
	utts   map[string][][]float32
	order  []string
}

func newRig(t *testing.T) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	r := &rig{dbPath: storetest.Database(t), audit: &audittest.Recorder{}, clock: clocktest.New(time.Now())}
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
	cs, err := consent.New(ctx, consent.Options{Store: st, Vault: r.keys, Audit: r.audit, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.reg, err = New(ctx, Options{Store: st, Vault: r.keys, Consent: cs, Audit: r.audit, Now: r.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	r.emb = sherpatest.Embedder(t)
	r.utts = map[string][][]float32{}
	for _, u := range testdata.Utterances(t) {
		c, err := audio.DecodeFile(u.WAV, audio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		s, err := audio.Prepare(c, r.emb.SampleRate())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := r.utts[u.Speaker]; !ok {
			r.order = append(r.order, u.Speaker)
		}
		r.utts[u.Speaker] = append(r.utts[u.Speaker], s)
	}
	return r
}

var given = ConsentInput{TextVersion: "v1", Method: consent.MethodSpokenScript, Operator: "user:admin1", Granted: true}

// enrolReq enrols from the speaker's first two utterances, the speech
// share measured as the non-silent share (audio.Analyze).
func (r *rig) enrolReq(name, spk string) EnrolRequest {
	s := append(append([]float32(nil), r.utts[spk][0]...), r.utts[spk][1]...)
	lv := audio.Analyze(s, r.emb.SampleRate())
	speechShare := 1 - float64(lv.SilentFrames)/float64(lv.AnalyzedFrames)
	return EnrolRequest{Name: name, Consent: given, Samples: s,
		Speech:       speech.SamplesToDuration(int(float64(len(s))*speechShare), r.emb.SampleRate()),
		Requirements: speaker.Requirements{MinSpeech: 3e9}}
}

func TestEnrolIdentifyEraseExport(t *testing.T) {
	r := newRig(t)
	ctx := WithActor(context.Background(), "user:admin1")
	a, b := r.order[0], r.order[1]
	alice, q, err := r.reg.Enrol(ctx, r.emb, model, r.enrolReq("Alice Example", a))
	if err != nil {
		t.Fatalf("enrol: %v (%+v)", err, q)
	}
	bob, _, err := r.reg.Enrol(ctx, r.emb, model, r.enrolReq("Bob Example", b))
	if err != nil {
		t.Fatal(err)
	}
	g, err := r.reg.Gallery(ctx, model)
	if err != nil || g.Len() != 2 {
		t.Fatalf("gallery: %v, %d prints", err, g.Len())
	}
	// A held-out utterance of each is matched to the right person.
	for spk, want := range map[string]string{a: alice.ID, b: bob.ID} {
		v, err := r.emb.Embed(ctx, r.utts[spk][2])
		if err != nil {
			t.Fatal(err)
		}
		if p, score, ok := g.Match(v); !ok || p.ID != want {
			t.Errorf("held-out %s matched %v (%.3f), want %s", spk, p.Name, score, want)
		}
	}
	// Another model's gallery is empty: prints are per model.
	if g2, _ := r.reg.Gallery(ctx, "other-model"); g2.Len() != 0 {
		t.Error("voiceprints leaked into another model's gallery")
	}

	// Export: name, consent record with evidence, history and the text
	// read — and never the voiceprint itself.
	ex, err := r.reg.ExportSubject(ctx, bob.ID)
	if err != nil || ex.Name != "Bob Example" || len(ex.ConsentRecords) != 1 || ex.Scripts["v1"] == "" ||
		ex.ConsentRecords[0].NoticeSHA256 == "" || !ex.ConsentRecords[0].ExplicitGDPR || len(ex.Voiceprints) != 1 {
		t.Fatalf("export: %+v %v", ex, err)
	}
	if j, _ := json.Marshal(ex); strings.Contains(string(j), "vector") {
		t.Fatalf("export carries a voiceprint: %s", j)
	}
	// Bob's stored vector, decrypted here only to look for it in the files.
	var bobSealed []byte
	if err := r.reg.db.QueryRowContext(context.Background(), "SELECT sealed FROM speakers_voiceprints WHERE subject_id = ?", bob.ID).Scan(&bobSealed); err != nil {
		t.Fatal(err)
	}
	vec, err := r.keys.Open(ctx, vault.ClassVoiceprint, bob.Voiceprints[0].ID, bobSealed)
	if err != nil {
		t.Fatal(err)
	}

	// Erasure: keep a sealed blob from before, then erase.
	var sealed []byte
	vpID := alice.Voiceprints[0].ID
	if err := r.reg.db.QueryRowContext(context.Background(), "SELECT sealed FROM speakers_voiceprints WHERE id = ?", vpID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if err := r.reg.Erase(ctx, alice.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.keys.Open(ctx, vault.ClassVoiceprint, vpID, sealed); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("erased voiceprint opened with the master key in hand: %v", err)
	}
	got, err := r.reg.Get(ctx, alice.ID)
	if err != nil || got.Name != "" || got.ErasedAt == nil || len(got.Voiceprints) != 0 || got.Consenting() {
		t.Fatalf("after erasure: %+v %v", got, err)
	}
	if g, _ := r.reg.Gallery(ctx, model); g.Len() != 1 {
		t.Fatalf("gallery after erasure has %d prints", g.Len())
	}
	if err := r.reg.Erase(ctx, alice.ID); err != nil {
		t.Fatalf("second erasure: %v", err)
	}
	if found, _ := r.reg.FindByName(ctx, "Alice Example"); len(found) != 0 {
		t.Fatal("erased subject still found by name")
	}
	if found, _ := r.reg.FindByName(ctx, "Bob Example"); len(found) != 1 {
		t.Fatal("Bob not found by name")
	}

	// Audit: enrolments, export, erasure (and the vault's shred), by whom,
	// never with a name.
	for _, action := range []string{"speaker.enrol", "speaker.export", "speaker.erase", "vault.shred", "consent.record", "consent.erase", "consent.export"} {
		if len(r.audit.Find(action, "ok")) == 0 {
			t.Errorf("no %s audit entry", action)
		}
	}
	for _, e := range r.audit.Events() {
		j, _ := json.Marshal(e)
		if strings.Contains(string(j), "Example") {
			t.Fatalf("a name reached the audit log: %s", j)
		}
	}

	// No name and no voiceprint vector in the clear anywhere in the
	// database files (main file and WAL).
	for _, f := range []string{r.dbPath, r.dbPath + "-wal"} {
		raw, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, needle := range [][]byte{[]byte("Alice Example"), []byte("Bob Example"), vec[:32]} {
			if bytes.Contains(raw, needle) {
				t.Errorf("%s holds plaintext %q", filepath.Base(f), needle[:min(len(needle), 16)])
			}
		}
	}
}

func TestEnrolRefusals(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	count := func() int {
		var n int
		if err := r.reg.db.QueryRowContext(context.Background(), "SELECT COUNT(*) FROM speakers_subjects").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	req := r.enrolReq("Carol Example", r.order[0])
	for name, mut := range map[string]func(*EnrolRequest){
		"consent not granted": func(q *EnrolRequest) { q.Consent.Granted = false },
		"unknown script":      func(q *EnrolRequest) { q.Consent.TextVersion = "v0" },
		"no operator":         func(q *EnrolRequest) { q.Consent.Operator = "" },
		"unknown method":      func(q *EnrolRequest) { q.Consent.Method = "nodded" },
	} {
		q := req
		mut(&q)
		if _, _, err := r.reg.Enrol(ctx, r.emb, model, q); !errors.Is(err, ErrNoConsent) {
			t.Errorf("%s: %v, want ErrNoConsent", name, err)
		}
	}
	noisy := req
	noisy.Samples = append([]float32(nil), req.Samples...)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range noisy.Samples {
		noisy.Samples[i] += float32(rng.NormFloat64() * 0.1)
	}
	if _, q, err := r.reg.Enrol(ctx, r.emb, model, noisy); !errors.Is(err, ErrQuality) || q.OK() {
		t.Errorf("noisy enrolment: %v %+v", err, q)
	}
	for _, bad := range []string{"", strings.Repeat("x", 201), "a\nb"} {
		q := req
		q.Name = bad
		if _, _, err := r.reg.Enrol(ctx, r.emb, model, q); !errors.Is(err, ErrBadRequest) {
			t.Errorf("name %q: %v", bad, err)
		}
	}
	if _, _, err := r.reg.Enrol(ctx, nil, model, req); !errors.Is(err, ErrNoModel) {
		t.Errorf("no model: %v", err)
	}
	if n := count(); n != 0 {
		t.Fatalf("%d subjects stored by refused enrolments", n)
	}
	// An enrolment that cannot be audited does not happen.
	r.audit.SetFail(true)
	if _, _, err := r.reg.Enrol(ctx, r.emb, model, req); err == nil {
		t.Fatal("enrolment without an audit entry succeeded")
	}
	r.audit.SetFail(false)
	if n := count(); n != 0 {
		t.Fatalf("%d subjects stored by an unaudited enrolment", n)
	}
	if err := r.reg.Erase(ctx, "sub_nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("erase unknown: %v", err)
	}
}

// Withdrawal is one call and destroys the voiceprint at once; consent past
// its deadline ends by itself at the next purge, with the same effect.
func TestWithdrawAndExpiry(t *testing.T) {
	r := newRig(t)
	ctx := WithActor(context.Background(), "user:admin1")
	a, b := r.order[0], r.order[1]
	ada, _, err := r.reg.Enrol(ctx, r.emb, model, r.enrolReq("Ada", a))
	if err != nil {
		t.Fatal(err)
	}
	reqB := r.enrolReq("Bea", b)
	reqB.Consent.Term = time.Hour
	bea, _, err := r.reg.Enrol(ctx, r.emb, model, reqB)
	if err != nil {
		t.Fatal(err)
	}
	var sealed []byte
	if err := r.reg.db.QueryRowContext(context.Background(), "SELECT sealed FROM speakers_voiceprints WHERE subject_id = ?", ada.ID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if err := r.reg.Withdraw(ctx, ada.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r.keys.Open(ctx, vault.ClassVoiceprint, ada.Voiceprints[0].ID, sealed); !errors.Is(err, vault.ErrShredded) {
		t.Fatalf("withdrawn voiceprint still opens: %v", err)
	}
	if g, _ := r.reg.Gallery(ctx, model); g.Len() != 1 {
		t.Fatalf("gallery after withdrawal: %d", g.Len())
	}
	if s, _ := r.reg.Get(ctx, ada.ID); s.EraseReason != "consent_withdrawn" || s.Consenting() || len(s.Voiceprints) != 0 {
		t.Fatalf("after withdrawal: %+v", s)
	}
	// Bea's one-hour consent: still matched just before, gone after.
	r.clock.Advance(59 * time.Minute)
	if n, err := r.reg.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge before the deadline: %d %v", n, err)
	}
	r.clock.Advance(2 * time.Minute)
	if g, _ := r.reg.Gallery(ctx, model); g.Len() != 0 {
		t.Fatal("a voiceprint past its consent deadline is still matched")
	}
	if n, err := r.reg.Purge(ctx); err != nil || n != 1 {
		t.Fatalf("purge after the deadline: %d %v", n, err)
	}
	if s, _ := r.reg.Get(ctx, bea.ID); s.EraseReason != "consent_ended" || len(s.Voiceprints) != 0 {
		t.Fatalf("after expiry: %+v", s)
	}
	if len(r.audit.Find("consent.withdraw", "ok")) != 1 || len(r.audit.Find("consent.expire", "ok")) != 1 {
		t.Fatalf("audit: %+v", r.audit.Events())
	}
}
