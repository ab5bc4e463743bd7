package speech

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

type fakeVAD struct{ VAD }

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	var gotSpec Spec
	r.VADs.Register("b", func(ctx context.Context, s Spec, d Deps) (VAD, error) {
		gotSpec = s
		if d.Logger == nil {
			t.Error("factory got a nil logger; New must default it")
		}
		return fakeVAD{}, nil
	})
	r.VADs.Register("a", func(context.Context, Spec, Deps) (VAD, error) { return nil, ErrModel })

	if _, err := r.VADs.New(context.Background(), Spec{Engine: "b", Model: "m"}, Deps{}); err != nil || gotSpec.Model != "m" {
		t.Fatalf("New(b) = %v, spec %+v", err, gotSpec)
	}
	if _, err := r.VADs.New(context.Background(), Spec{Engine: "a"}, Deps{}); !errors.Is(err, ErrModel) {
		t.Fatalf("factory error lost: %v", err)
	}
	_, err := r.VADs.New(context.Background(), Spec{Engine: "zzz"}, Deps{})
	if !errors.Is(err, ErrUnknownEngine) || !strings.Contains(err.Error(), "[a b]") || !strings.Contains(err.Error(), "vad") {
		t.Fatalf("unknown engine error = %v, want ErrUnknownEngine naming the role and the choices", err)
	}
	if got := r.Roles()["vad"]; !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("Roles()[vad] = %v", got)
	}
	if got := r.Roles()["asr"]; len(got) != 0 {
		t.Fatalf("Roles()[asr] = %v, want none", got)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("registering a name twice did not panic")
		}
	}()
	r.VADs.Register("a", nil)
}

func TestNewTranscript(t *testing.T) {
	tr := NewTranscript([]Result{
		{Segment: 7, Text: " hello  ", Start: 0, End: time.Second},
		{Segment: 9, Text: "world", Start: 2 * time.Second, End: 3 * time.Second},
	}, 4*time.Second)
	if tr.Text != "hello world" || tr.Duration != 4*time.Second || len(tr.Segments) != 2 {
		t.Fatalf("transcript = %+v", tr)
	}
	for i, s := range tr.Segments {
		if s.Segment != i || !s.Final {
			t.Errorf("segment %d = %+v, want renumbered and final", i, s)
		}
	}
}

func TestCheckSamples(t *testing.T) {
	if err := CheckSamples([]float32{0, 1, -1, 0.5}); err != nil {
		t.Fatal(err)
	}
	var zero float32
	for _, bad := range []float32{zero / zero, 1 / zero, -1 / zero} {
		if err := CheckSamples([]float32{0, bad}); !errors.Is(err, ErrBadAudio) {
			t.Errorf("CheckSamples(%v) = %v, want ErrBadAudio", bad, err)
		}
	}
	if d := SamplesToDuration(8000, 16000); d != 500*time.Millisecond {
		t.Errorf("SamplesToDuration = %v", d)
	}
	if d := SamplesToDuration(10, 0); d != 0 {
		t.Errorf("SamplesToDuration(rate 0) = %v", d)
	}
}
