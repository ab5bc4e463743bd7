package engines

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
)

// fakeVAD stands in for an engine so the load bookkeeping can be tested
// without native code; the real engines are exercised in real_test.go.
type fakeVAD struct{ closed *int }

func (fakeVAD) SampleRate() int                       { return 16000 }
func (fakeVAD) NewDetector() (speech.Detector, error) { return nil, speech.ErrUnsupported }
func (fakeVAD) Info() speech.EngineInfo {
	return speech.EngineInfo{Engine: "fake", Role: "vad", Model: "m"}
}
func (v fakeVAD) Close() error { *v.closed++; return nil }

var _ speech.VAD = fakeVAD{}

func registry(closed *int) *speech.Registry {
	r := speech.NewRegistry()
	r.VADs.Register("ok", func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.VAD, error) {
		return fakeVAD{closed}, nil
	})
	r.VADs.Register("broken", func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.VAD, error) {
		return nil, errors.New("sherpa: model silero-vad-v5: " + speech.ErrModel.Error())
	})
	r.VADs.Register("panics", func(ctx context.Context, spec speech.Spec, deps speech.Deps) (speech.VAD, error) {
		panic("boom")
	})
	return r
}

func role(name, engine string, required bool) config.NamedRole {
	return config.NamedRole{Name: name, Role: config.Role{Spec: speech.Spec{Engine: engine}, Required: required}}
}

func TestLoadStates(t *testing.T) {
	closed := 0
	set, err := Load(t.Context(), registry(&closed), speech.Deps{}, []config.NamedRole{
		role("vad", "ok", true),
		role("speaker", "off", false),
		role("tts", "missing-engine", false),
	})
	if err != nil {
		t.Fatal(err)
	}
	st := set.Status()
	if len(st) != 3 || st[0].State != Ready || st[0].Info == nil || st[0].Info.Engine != "fake" ||
		st[1].State != Off || st[2].State != Failed || !strings.Contains(st[2].Error, "missing-engine") {
		t.Fatalf("status = %+v", st)
	}
	if set.VAD == nil || !set.Ready() {
		t.Fatal("required vad not ready")
	}
	if err := set.Close(); err != nil || closed != 1 {
		t.Fatalf("Close: %v, closed %d", err, closed)
	}
}

func TestOptionalFailureKeepsGoing(t *testing.T) {
	closed := 0
	set, err := Load(t.Context(), registry(&closed), speech.Deps{}, []config.NamedRole{role("vad", "broken", false)})
	if err != nil {
		t.Fatal(err)
	}
	if st := set.Status()[0]; st.State != Failed || !strings.Contains(st.Error, "model unavailable") {
		t.Fatalf("status = %+v", st)
	}
	if !set.Ready() {
		t.Fatal("an optional failure must not make the set unready")
	}
}

func TestRequiredFailureStops(t *testing.T) {
	closed := 0
	// A loaded role must be closed again when a later required one fails.
	_, err := Load(t.Context(), registry(&closed), speech.Deps{}, []config.NamedRole{role("vad", "ok", false), role("vad", "broken", true)})
	if !errors.Is(err, ErrRequired) || closed != 1 {
		t.Fatalf("err = %v, closed = %d", err, closed)
	}
}

func TestPanicBecomesError(t *testing.T) {
	closed := 0
	set, err := Load(t.Context(), registry(&closed), speech.Deps{}, []config.NamedRole{role("vad", "panics", false)})
	if err != nil {
		t.Fatal(err)
	}
	if st := set.Status()[0]; st.State != Failed || !strings.Contains(st.Error, "panicked") {
		t.Fatalf("status = %+v", st)
	}
}
