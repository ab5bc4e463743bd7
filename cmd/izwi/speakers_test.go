package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speakers"
	"github.com/izwi-speech/izwi/internal/speech/sherpa/sherpatest"
	"github.com/izwi-speech/izwi/internal/testdata"
)

func speakerReq() speaker.Requirements { return speaker.Requirements{MinSpeech: 2 * time.Second} }

func speakersCLI(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader("")}
	code := runSpeakers(context.Background(), c, append(args, "--data-dir", dir))
	return code, out.String(), errb.String()
}

// izwi speakers list / export / delete against a subject enrolled through
// the same wiring (database, vault, audit log) the server uses.
func TestSpeakersCLI(t *testing.T) {
	t.Setenv("IZWI_CONFIG", "")
	t.Setenv("IZWI_VAULT_PROVIDER", "")
	dir := t.TempDir()
	ctx := context.Background()
	_, db, alog, kr := openPrivacyWiring(t, dir)
	cs, err := consent.New(ctx, consent.Options{Store: db, Vault: kr, Audit: alog})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := speakers.New(ctx, speakers.Options{Store: db, Vault: kr, Consent: cs, Audit: alog})
	if err != nil {
		t.Fatal(err)
	}
	const model = sherpatest.SpeakerModel
	emb := sherpatest.Embedder(t)
	u := testdata.Utterances(t)[0]
	clip, err := audio.DecodeFile(u.WAV, audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	samples, _ := audio.Prepare(clip, emb.SampleRate())
	sub, _, err := reg.Enrol(ctx, emb, model, speakers.EnrolRequest{Name: "Grace Hopper", Samples: samples,
		Speech: clip.Duration() * 8 / 10, Requirements: speakerReq(),
		Consent: speakers.ConsentInput{TextVersion: "v1", Method: consent.MethodPaper, Operator: "user:ops", Granted: true}})
	if err != nil {
		t.Fatal(err)
	}
	alog.Close()
	db.Close()

	code, out, errs := speakersCLI(t, dir, "list", "--json")
	var list []speakers.Subject
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 || list[0].Name != "Grace Hopper" {
		t.Fatalf("list: %d %s %s", code, out, errs)
	}
	code, out, errs = speakersCLI(t, dir, "export", "Grace Hopper")
	var ex speakers.Export
	if code != exitOK || json.Unmarshal([]byte(out), &ex) != nil || ex.ID != sub.ID || len(ex.ConsentRecords) != 1 ||
		strings.Contains(out, "vector") {
		t.Fatalf("export: %d %s %s", code, out, errs)
	}
	if code, _, _ := speakersCLI(t, dir, "delete", "Nobody"); code != exitFailure {
		t.Fatalf("delete of an unknown name: exit %d", code)
	}
	if code, out, errs := speakersCLI(t, dir, "withdraw", "Grace Hopper"); code != exitOK || !strings.Contains(out, "shredded") {
		t.Fatalf("withdraw: %d %s %s", code, out, errs)
	}
	code, out, _ = speakersCLI(t, dir, "list")
	if code != exitOK || strings.Contains(out, "Grace") || !strings.Contains(out, "consent_withdrawn") || !strings.Contains(out, "withdrawn until") {
		t.Fatalf("list after withdrawal:\n%s", out)
	}
	if code, out, errs := speakersCLI(t, dir, "delete", sub.ID); code != exitOK || !strings.Contains(out, "erased") {
		t.Fatalf("delete: %d %s %s", code, out, errs)
	}
	if code, out, _ := speakersCLI(t, dir, "script"); code != exitOK || !strings.Contains(out, "withdraw") {
		t.Fatalf("script: %d %s", code, out)
	}
	// Enrolment needs a configured speaker model, and says so.
	if code, _, errs := speakersCLI(t, dir, "enrol", u.WAV, "--name", "X", "--consent-given", "--operator", "user:ops"); code != exitModel ||
		!strings.Contains(errs, "speaker model") {
		t.Fatalf("enrol without a model: %d %s", code, errs)
	}
	// The audit log verifies and holds the CLI's erasure.
	if r := run(t, nil, "audit", "verify", "--data-dir", dir); r.code != 0 {
		t.Fatalf("audit verify: %d %s", r.code, r.stderr)
	}
}
