package live

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// fullRecognizer has no free stream: NewStream waits for its context, as
// PocketSphinx does when every decoder of its pool is in use.
type fullRecognizer struct{}

func (fullRecognizer) SampleRate() int { return 16000 }
func (fullRecognizer) NewStream(ctx context.Context, _ speech.StreamOptions) (speech.Stream, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}
func (fullRecognizer) Info() speech.EngineInfo { return speech.EngineInfo{Engine: "full"} }
func (fullRecognizer) Close() error            { return nil }

// A recognizer with no free stream is a refusal (ErrLimit), never a hang
// that would hold the manager's locks.
func TestNewPipelineFullEngineIsLimit(t *testing.T) {
	done := make(chan error, 1)
	go func() {
		_, err := NewPipeline(context.Background(), PipelineConfig{Recognizer: fullRecognizer{}, StreamWait: 50 * time.Millisecond}, nil)
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrLimit) {
			t.Fatalf("err = %v, want ErrLimit", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("NewPipeline hung on a full recognizer")
	}
	// The caller's own cancellation stays a cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := NewPipeline(ctx, PipelineConfig{Recognizer: fullRecognizer{}}, nil); errors.Is(err, ErrLimit) || err == nil {
		t.Fatalf("cancelled: %v", err)
	}
}
