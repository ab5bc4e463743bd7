package live

import (
	"context"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/store"
)

// ManagerOptions are what a Manager is built from.
type ManagerOptions struct {
	Store      *store.Store
	Conn       *nats.Conn
	Recognizer speech.Recognizer // nil: sessions can be created but not started (ErrNoEngine)
	VAD        speech.VAD        // optional
	Config     config.Live
	Logger     *slog.Logger
	Now        func() time.Time
	// Metrics: nil registers nothing. Labels carry no session ids or PII.
	Metrics prometheus.Registerer
	// Audit records session create/delete/start/stop by whom (ids only).
	Audit audit.Recorder
	// TickEvery is how often the silence auto-stop is checked and live
	// sessions' counters saved; 0 means 1 s.
	TickEvery time.Duration
	// Privacy holds the per-session privacy defaults and hooks (issue 6);
	// the zero value keeps nothing and names nobody.
	Privacy Privacy
	// Cluster, when set, shares the sessions with other processes through
	// leases (cluster.go); nil: this process owns them all (role all).
	Cluster *Cluster
	// Captions, if set, rewrites each caption event of a session before
	// it is kept and published (the formatter and word filters,
	// internal/captionfilter). It runs on the pipeline's goroutine and
	// must not block.
	Captions func(sessionID string, e Event) Event
}

// Privacy is what a session may keep and whom it may name, and the hooks
// that do it. Keep and Snippet are called from the pipeline goroutine and
// must not block (hand the event to a bounded queue); they receive events
// of sessions that opted in only.
type Privacy struct {
	// Defaults for sessions that do not say.
	KeepTranscript, IdentifySpeakers bool
	// Keep receives every final caption of a session keeping its
	// transcript (with Seq and SessionID set) before viewers are sent it,
	// and returns once it is stored (bounded: it may give up and log), so
	// a crash never loses a final a viewer saw.
	Keep func(Event)
	// Replace receives, for a session keeping its transcript, the primary
	// engine's finals for a span [from, to] (session seconds) a fallback
	// engine served: they replace the kept captions there (catch-up).
	Replace func(sessionID string, from, to float64, finals []Event)
	// Snippet receives, for a keeping session, each final caption whose
	// confidence is below SnippetBelow with its audio (mono, the
	// recognizer's rate). Nil keeps no snippets.
	Snippet      func(e Event, samples []float32, rate int)
	SnippetBelow float32
	// Speakers makes a tracker for a session that names speakers, or nil
	// when identification is off (no speaker model installed).
	Speakers func(ctx context.Context) (SpeakerTracker, error)
	// Forget is called when a session is deleted (its kept data is
	// destroyed).
	Forget func(sessionID string)
}

// orDefault is *p, or def when p is nil.
func orDefault(p *bool, def bool) bool {
	if p == nil {
		return def
	}
	return *p
}

func withDefaults(c config.Live) config.Live {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 8
	}
	if c.PreRoll == 0 {
		c.PreRoll = config.Duration(config.DefaultPreRoll)
	}
	if c.HistoryEvents <= 0 {
		c.HistoryEvents = 10000
	}
	if c.ViewerBuffer <= 0 {
		c.ViewerBuffer = 256
	}
	if c.QueueAudio <= 0 {
		c.QueueAudio = config.Duration(5 * time.Second)
	}
	return c
}
