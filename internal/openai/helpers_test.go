package openai

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/flite"
	"github.com/izwi-speech/izwi/internal/speech/pocketsphinx"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// engines are real PocketSphinx (asr, and transcribe over the same model)
// and Flite (tts),
// loaded once per test binary: PocketSphinx takes seconds to load.
type engines struct {
	rec speech.Recognizer
	tr  speech.Transcriber
	syn speech.Synthesizer
}

var loadOnce = sync.OnceValues(func() (*engines, error) {
	reg := speech.NewRegistry()
	pocketsphinx.Register(reg)
	flite.Register(reg)
	ctx := context.Background()
	rec, err := reg.Recognizers.New(ctx, speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{})
	if err != nil {
		return nil, err
	}
	// The file role as the server builds it: PocketSphinx's file
	// endpointing profile (the live one cuts utterances at short pauses).
	tr, err := reg.Transcribers.New(ctx, speech.Spec{Engine: pocketsphinx.Name}, speech.Deps{})
	if err != nil {
		return nil, err
	}
	syn, err := reg.Synthesizers.New(ctx, speech.Spec{Engine: "flite"}, speech.Deps{})
	if err != nil {
		return nil, err
	}
	return &engines{rec: rec, tr: tr, syn: syn}, nil
})

func loadEngines(t testing.TB) *engines {
	t.Helper()
	e, err := loadOnce()
	if err != nil {
		t.Fatalf("loading engines: %v", err)
	}
	return e
}

// fakeQuota records charges and refuses once the allowance is spent.
type fakeQuota struct {
	mu      sync.Mutex
	left    time.Duration
	charged time.Duration
	checks  int
}

func (q *fakeQuota) CheckAudio(ctx context.Context, p auth.Principal) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.checks++
	if q.left <= 0 {
		return quotaErr()
	}
	return nil
}

func (q *fakeQuota) AudioLeft(ctx context.Context, p auth.Principal) (time.Duration, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.left, true, nil
}

func (q *fakeQuota) ChargeAudio(ctx context.Context, p auth.Principal, d time.Duration) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d > q.left {
		return quotaErr()
	}
	q.left -= d
	q.charged += d
	return nil
}

// withPrincipal stands in for the gateway: it authenticates every request
// as one key holding every scope (the scope checks themselves are the
// gateway's, tested in internal/api and end to end in cmd/izwi).
func withPrincipal(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.Principal{Kind: auth.KindAPIKey, ID: "k1", Subject: "key:k1", Scopes: []auth.Scope{auth.ScopeASRRead, auth.ScopeTTSRead}}
		next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
	})
}

// newServer serves h's routes on 127.0.0.1 and returns an official
// OpenAI client pointed at it.
func newServer(t testing.TB, h *Handlers) (*httptest.Server, openai.Client) {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("POST /v1/audio/transcriptions", h.Transcriptions())
	mux.Handle("POST /v1/audio/translations", h.Translations())
	mux.Handle("POST /v1/audio/speech", h.Speech())
	mux.Handle("GET /v1/models", h.Models())
	srv := httptest.NewServer(withPrincipal(mux))
	t.Cleanup(srv.Close)
	c := openai.NewClient(option.WithBaseURL(srv.URL+"/v1/"), option.WithAPIKey("izk_test"), option.WithMaxRetries(0))
	return srv, c
}

func newHandlers(t testing.TB, opts Options) *Handlers {
	t.Helper()
	e := loadEngines(t)
	if opts.Transcriber == nil {
		opts.Transcriber = e.tr
	}
	if opts.Recognizer == nil {
		opts.Recognizer = e.rec
	}
	if opts.Synthesizer == nil {
		opts.Synthesizer = e.syn
	}
	return New(opts)
}

// utterance returns a shared recording by ID.
func utterance(t testing.TB, id string) testdata.Utterance {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == id {
			return u
		}
	}
	t.Fatalf("no shared utterance %s", id)
	return testdata.Utterance{}
}

// werBelow fails t when text's WER against ref exceeds limit.
func werBelow(t testing.TB, ref, text string, limit float64) {
	t.Helper()
	if got := wer.Compute(ref, text).Rate(); got > limit {
		t.Errorf("WER %.3f > %.3f: %q", got, limit, text)
	}
}
