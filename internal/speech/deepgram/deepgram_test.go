package deepgram_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/leaktest"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/deepgram"
	"github.com/izwi-speech/izwi/internal/speech/deepgram/dgtest"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/wer"
)

func TestMain(m *testing.M) {
	leaktest.Main(m, "internal/speech/deepgram", "coder/websocket", "net/http.(*persistConn)")
}

// conformanceID has a pause PocketSphinx endpoints on (two segments);
// shortID is a short one for loops.
const (
	conformanceID = "2412-153948-0000"
	shortID       = "1089-134691-0000"
)

type fixture struct {
	dbl       *dgtest.Server
	key, file string
	cfg       deepgram.Config
}

// setup starts the double with PocketSphinx behind it and a canary key.
func setup(t *testing.T) fixture {
	t.Helper()
	key, file := dgtest.CanaryKey(t)
	dbl := dgtest.New(t, dgtest.PocketSphinx(t, 6), key)
	// FlushTimeout is how long Finalize may go without any message: four
	// streams on the double's PocketSphinx, on two busy cores and under
	// -race, can take longer than the 5 s default between answers.
	return fixture{dbl: dbl, key: key, file: file, cfg: deepgram.Config{URL: dbl.URL, APIKeyFile: file, FlushTimeout: 20 * time.Second}}
}

func newRec(t *testing.T, cfg deepgram.Config) *deepgram.Recognizer {
	t.Helper()
	rec, err := deepgram.New(cfg, secrets.Source{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return rec
}

func werBelow(ref string, limit float64) func(t *testing.T, text string) {
	return func(t *testing.T, text string) {
		t.Helper()
		if got := wer.Compute(ref, text).Rate(); got > limit {
			t.Errorf("WER %.3f > %.3f: %q", got, limit, text)
		}
	}
}

func TestRecognizerConformance(t *testing.T) {
	f := setup(t)
	samples, ref := dgtest.Speech(t, conformanceID)
	// PocketSphinx direct scores 0.361 on this file; the double adds nothing.
	speechtest.Recognizer(t, newRec(t, f.cfg), samples, werBelow(ref, 0.40))
}

func TestTranscriberConformance(t *testing.T) {
	f := setup(t)
	samples, ref := dgtest.Speech(t, conformanceID)
	tr, err := deepgram.NewTranscriber(f.cfg, secrets.Source{})
	if err != nil {
		t.Fatal(err)
	}
	speechtest.Transcriber(t, tr, samples, werBelow(ref, 0.40))
}

// TestRegister builds the engine through a registry from a spec, as
// cmd/izwi does.
func TestRegister(t *testing.T) {
	f := setup(t)
	reg := speech.NewRegistry()
	deepgram.Register(reg, secrets.Source{})
	spec := speech.Spec{Engine: deepgram.Name, Model: "nova-2", Options: map[string]string{
		"url": f.dbl.URL, "api_key_file": f.file, "endpointing_ms": "200"}}
	rec, err := reg.Recognizers.New(context.Background(), spec, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	if info := rec.Info(); info.Engine != deepgram.Name || info.Model != "nova-2" || info.Role != "asr" {
		t.Errorf("Info() = %+v", info)
	}
	st, err := rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: []string{"Izwi gateway"}})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	uris, _ := f.dbl.Requests()
	last := uris[len(uris)-1]
	for _, want := range []string{"model=nova-2", "endpointing=200", "keywords=Izwi+gateway", "encoding=linear16", "sample_rate=16000"} {
		if !strings.Contains(last, want) {
			t.Errorf("request %q lacks %q", last, want)
		}
	}
	spec.Options["bogus"] = "1"
	if _, err := reg.Recognizers.New(context.Background(), spec, speech.Deps{}); err == nil {
		t.Error("unknown option accepted")
	}
}

// TestFaults: every way the service fails reads as ErrUnavailable with a
// reason, and bad audio as ErrBadAudio.
func TestFaults(t *testing.T) {
	f := setup(t)
	f.cfg.FlushTimeout = time.Second // the stall case waits this long
	rec := newRec(t, f.cfg)
	samples, _ := dgtest.Speech(t, shortID)
	ctx := context.Background()
	handshake := map[dgtest.Fault]string{dgtest.Fault401: "auth", dgtest.Fault429: "rate_limited",
		dgtest.Fault503: "server_error", dgtest.FaultReset: "reset"}
	for fault, reason := range handshake {
		f.dbl.SetFault(fault)
		_, err := rec.NewStream(ctx, speech.StreamOptions{})
		checkReason(t, fault.String(), err, reason)
	}
	midStream := map[dgtest.Fault]string{dgtest.FaultReset: "reset", dgtest.FaultMalformed: "server_error",
		dgtest.FaultDropMid: "reset", dgtest.FaultStall: "stall"}
	for fault, reason := range midStream {
		f.dbl.SetFault(dgtest.FaultNone)
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		f.dbl.SetFault(fault)
		err = feedUntilError(ctx, st, samples)
		checkReason(t, fault.String(), err, reason)
		st.Close()
	}
	f.dbl.SetFault(dgtest.FaultNone)
	st, err := rec.NewStream(ctx, speech.StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Accept(ctx, []float32{0, float32(math.Inf(1))}); !errors.Is(err, speech.ErrBadAudio) || speech.FailsOver(err) {
		t.Errorf("Accept(Inf) = %v, want ErrBadAudio that does not fail over", err)
	}
}

// feedUntilError streams samples, then Flushes, until an error comes
// (the reader notices a fault asynchronously, so it may take a few calls).
func feedUntilError(ctx context.Context, st speech.Stream, samples []float32) error {
	for range 3 {
		for off := 0; off < len(samples); off += 1600 {
			if _, err := st.Accept(ctx, samples[off:min(off+1600, len(samples))]); err != nil {
				return err
			}
		}
		if _, err := st.Flush(ctx); err != nil {
			return err
		}
	}
	return nil
}

func checkReason(t *testing.T, what string, err error, reason string) {
	t.Helper()
	var de *deepgram.Error
	switch {
	case err == nil:
		t.Errorf("%s: no error", what)
	case !speech.FailsOver(err):
		t.Errorf("%s: %v does not fail over", what, err)
	case !errors.As(err, &de) || de.FailoverReason() != reason:
		t.Errorf("%s: %v, want reason %q", what, err, reason)
	}
}

// TestKeyRotation: the key file is read on every connection, so a rotated
// key works without a restart and the old one is no longer sent.
func TestKeyRotation(t *testing.T) {
	f := setup(t)
	rec := newRec(t, f.cfg)
	ctx := context.Background()
	open := func() error {
		st, err := rec.NewStream(ctx, speech.StreamOptions{})
		if err == nil {
			st.Close()
		}
		return err
	}
	if err := open(); err != nil {
		t.Fatal(err)
	}
	newKey := f.key + "rotated"
	f.dbl.SetKeys(newKey) // the service revokes the old key...
	if err := open(); err == nil {
		t.Fatal("old key still accepted")
	}
	dgtest.WriteKey(t, f.file, newKey) // ...and the operator rotates the file
	if err := open(); err != nil {
		t.Fatalf("after rotation: %v", err)
	}
	_, auths := f.dbl.Requests()
	if got := auths[len(auths)-1]; got != "Token "+newKey {
		t.Errorf("last Authorization header is not the rotated key")
	}
}

// TestKeyNeverLeaks: the canary key travels only in the Authorization
// header: never in a request URI, an error, or the configuration's JSON.
func TestKeyNeverLeaks(t *testing.T) {
	f := setup(t)
	f.cfg.FlushTimeout = time.Second
	rec := newRec(t, f.cfg)
	tr, err := deepgram.NewTranscriber(f.cfg, secrets.Source{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	samples, _ := dgtest.Speech(t, shortID)
	var texts []string
	for _, fault := range []dgtest.Fault{dgtest.FaultNone, dgtest.Fault401, dgtest.Fault429, dgtest.Fault503,
		dgtest.FaultReset, dgtest.FaultMalformed, dgtest.FaultStall, dgtest.FaultDropMid} {
		f.dbl.SetFault(fault)
		if st, err := rec.NewStream(ctx, speech.StreamOptions{Hotwords: []string{"keyword"}}); err != nil {
			texts = append(texts, err.Error())
		} else {
			if err := feedUntilError(ctx, st, samples); err != nil {
				texts = append(texts, err.Error())
			}
			st.Close()
		}
		if fault != dgtest.FaultStall {
			if _, err := tr.Transcribe(ctx, samples, speech.TranscribeOptions{}); err != nil {
				texts = append(texts, err.Error())
			}
		}
	}
	uris, auths := f.dbl.Requests()
	texts = append(texts, uris...)
	for _, a := range auths {
		if a != "Token "+f.key {
			t.Errorf("an Authorization header carried something other than the key")
		}
	}
	if len(texts) < 10 {
		t.Fatalf("only %d errors and requests to check; the faults did not happen", len(texts))
	}
	for _, s := range texts {
		if strings.Contains(s, f.key) || strings.Contains(s, f.key[8:20]) {
			t.Errorf("key leaked into %q", s)
		}
	}
}
