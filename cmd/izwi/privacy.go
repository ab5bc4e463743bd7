package main

// Issue 6 in izwi serve: consent, enrolled speakers, opt-in keeping of
// transcripts and review snippets, the purge job, the admin console's
// speaker pages, and the hooks live sessions call (docs/privacy.md).

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/captionfilter"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/identify"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/openai"
	"github.com/izwi-speech/izwi/internal/retention"
	"github.com/izwi-speech/izwi/internal/retention/retentionhttp"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speakers"
	"github.com/izwi-speech/izwi/internal/speakers/speakershttp"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/izwi-speech/izwi/internal/translate/livetranslate"
	"github.com/izwi-speech/izwi/internal/vault"
)

// keepQueue bounds what waits to be sealed and stored: the pipeline never
// blocks on the database, and a burst beyond it is dropped and logged.
const keepQueue = 1024

// privacyParts is the privacy subsystem serve runs.
type privacyParts struct {
	cfg      config.Config
	set      *engines.Set
	remote   *identify.Finder // identifiers over the bus, for a worker without a speaker engine; nil otherwise
	speakers *speakers.Registry
	keeper   *retention.Keeper
	log      *slog.Logger

	queue  chan func(context.Context) error
	ctx    context.Context // the writer's: ends when the privacy parts close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// buildPrivacy opens consent, the speaker registry and the keeper on the
// vault, and starts the writer and the purge job.
func buildPrivacy(ctx context.Context, cfg config.Config, db *store.Store, kr *vault.Keyring, alog *audit.Log,
	set *engines.Set, remote *identify.Finder, logger *slog.Logger) (*privacyParts, error) {
	p := &privacyParts{cfg: cfg, set: set, remote: remote, log: telemetry.Component(logger, "privacy"),
		queue: make(chan func(context.Context) error, keepQueue)}
	cs, err := consent.New(ctx, consent.Options{Store: db, Vault: kr, Audit: alog, Logger: p.log})
	if err != nil {
		return nil, err
	}
	if p.speakers, err = speakers.New(ctx, speakers.Options{Store: db, Vault: kr, Consent: cs, Audit: alog}); err != nil {
		return nil, err
	}
	if p.keeper, err = retention.New(ctx, retention.Options{Store: db, Vault: kr, Audit: alog,
		TranscriptRetention: cfg.Privacy.TranscriptRetention.Std(), SnippetRetention: cfg.Privacy.SnippetRetention.Std()}); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p.ctx = wctx
	p.cancel = cancel
	p.wg.Add(2)
	go p.writer(wctx)
	go p.purger(wctx, cfg.Privacy.PurgeInterval.Std())
	return p, nil
}

// writer stores what the pipelines handed over, one item at a time.
func (p *privacyParts) writer(ctx context.Context) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case job := <-p.queue:
			if err := job(ctx); err != nil {
				p.log.Error("keeping opted-in data failed", "err", err)
			}
		}
	}
}

// purger destroys expired transcripts and snippets, ends consents past
// their deadline and deletes those subjects' voiceprints.
func (p *privacyParts) purger(ctx context.Context, every time.Duration) {
	defer p.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pctx := retention.WithActor(ctx, "system:retention")
		if rep, err := p.keeper.Purge(pctx); err != nil {
			p.log.Error("retention purge failed", "err", err)
		} else if rep.Transcripts+rep.Snippets > 0 {
			p.log.Info("retention purge", "transcripts", rep.Transcripts, "snippets", rep.Snippets)
		}
		if n, err := p.speakers.Purge(speakers.WithActor(ctx, "system:retention")); err != nil {
			p.log.Error("consent purge failed", "err", err)
		} else if n > 0 {
			p.log.Info("consent purge", "subjects", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// enqueue hands job to the writer without blocking.
func (p *privacyParts) enqueue(what, sessionID string, job func(context.Context) error) {
	select {
	case p.queue <- job:
	default:
		p.log.Warn("opted-in data dropped: the store is behind", "what", what, "session_id", sessionID)
	}
}

// keepTimeout bounds storing one kept caption before it is sent.
const keepTimeout = 2 * time.Second

// liveHooks are the per-session privacy defaults and hooks for live.Manager.
// Catch-up finals pass through the session's caption settings like every
// other caption; a deleted session's settings go with it.
func (p *privacyParts) liveHooks(captions *captionfilter.Filters) live.Privacy {
	pr := p.cfg.Privacy
	h := live.Privacy{KeepTranscript: pr.KeepTranscripts, IdentifySpeakers: pr.Identify(),
		// A kept final is stored before viewers see it (durable across a
		// crash), within keepTimeout so a wedged store cannot stall
		// recognition for long.
		Keep: func(e live.Event) {
			ctx, cancel := context.WithTimeout(p.ctx, keepTimeout)
			defer cancel()
			if err := p.keeper.Keep(ctx, e); err != nil {
				p.log.Warn("kept caption not stored", "session_id", e.SessionID, "seq", e.Seq, "err", err)
			}
		},
		Replace: func(id string, from, to float64, finals []live.Event) {
			for i := range finals {
				finals[i] = captions.Apply(id, finals[i])
			}
			p.enqueue("catch-up", id, func(ctx context.Context) error { return p.keeper.Replace(ctx, id, from, to, finals) })
		},
		Forget: func(id string) {
			p.enqueue("destroy", id, func(ctx context.Context) error {
				if err := captions.Forget(ctx, id); err != nil {
					return err
				}
				return p.keeper.DestroySession(retention.WithActor(ctx, "system:live"), id, "deleted")
			})
		}}
	if pr.ReviewSnippets {
		h.SnippetBelow = float32(pr.SnippetBelow)
		h.Snippet = func(e live.Event, samples []float32, rate int) {
			pcm := audio.EncodePCM16(samples)
			s := retention.Snippet{SessionID: e.SessionID, Start: time.Duration(e.Start * float64(time.Second)),
				End: time.Duration(e.End * float64(time.Second)), Confidence: e.Confidence, Text: e.Text, Rate: rate, PCM16: pcm}
			p.enqueue("snippet", e.SessionID, func(ctx context.Context) error {
				_, err := p.keeper.AddSnippet(ctx, s)
				clear(s.PCM16)
				return err
			})
		}
	}
	if trackers := p.trackers(); trackers != nil {
		h.Speakers = func(ctx context.Context) (live.SpeakerTracker, error) {
			tr, err := trackers(ctx, nil)
			if err != nil {
				return nil, err // not a typed nil in the interface
			}
			return tr, nil
		}
	}
	return h
}

// openaiSpeakers is trackers for /v1/audio/transcriptions' diarized_json,
// nil when the operator turned identification off ([privacy]
// identify_speakers = false) or it cannot run.
func (p *privacyParts) openaiSpeakers() func(ctx context.Context, names []string) (openai.SpeakerTracker, error) {
	trackers := p.trackers()
	if trackers == nil || !p.cfg.Privacy.Identify() {
		return nil
	}
	return func(ctx context.Context, names []string) (openai.SpeakerTracker, error) {
		tr, err := trackers(ctx, names)
		if err != nil {
			return nil, err
		}
		return tr, nil
	}
}

// trackers makes speaker trackers over the enrolled voiceprints whose
// consent stands (the gallery is rebuilt, and consent checked, for each),
// limited to the people named when names are given; nil when speaker
// identification is off. Live sessions and diarized_json share it. A worker
// without a speaker engine of its own embeds through an identifier
// (internal/identify), found when the first tracker is made; the gallery
// is then the identifier's model's.
func (p *privacyParts) trackers() func(ctx context.Context, names []string) (*speaker.Tracker, error) {
	emb, rec := p.set.Embedder, p.set.Recognizer
	if rec == nil || (emb == nil && p.remote == nil) {
		return nil
	}
	if emb != nil && emb.SampleRate() != rec.SampleRate() {
		p.log.Warn("speaker identification off: the speaker model's rate differs from the recognizer's",
			"speaker_rate", emb.SampleRate(), "asr_rate", rec.SampleRate())
		return nil
	}
	model, threshold := p.cfg.Engines.Speaker.Model, float32(p.cfg.Privacy.MatchThreshold)
	return func(ctx context.Context, names []string) (*speaker.Tracker, error) {
		emb, model := emb, model
		if emb == nil {
			r, err := p.remote.Find(ctx)
			if err != nil {
				return nil, err
			}
			if r.SampleRate() != rec.SampleRate() {
				return nil, fmt.Errorf("speakers: the identifier's rate %d differs from the recognizer's %d",
					r.SampleRate(), rec.SampleRate())
			}
			emb, model = r, r.Model()
		}
		g, err := p.speakers.Gallery(ctx, model)
		if err != nil {
			return nil, err
		}
		if names != nil {
			g = g.Only(names)
		}
		return speaker.NewTracker(emb, g, speaker.Config{Threshold: threshold})
	}
}

// adminRoutes are the console's speaker pages and API.
func (p *privacyParts) adminRoutes() []admin.Route {
	h := speakershttp.New(speakershttp.Options{Registry: p.speakers, Embedder: p.set.Embedder, VAD: p.set.VAD,
		Model: p.cfg.Engines.Speaker.Model, Logger: p.log, CSRF: func(r *http.Request) string {
			s, _ := admin.SessionFrom(r.Context())
			return s.CSRFToken()
		}, Chrome: admin.Chrome})
	return []admin.Route{
		{Method: http.MethodGet, Pattern: "/speakers", Access: admin.AdminOnly, Handler: h.Page()},
		{Method: http.MethodGet, Pattern: "/speakers/assets/{file}", Access: admin.AdminOnly, Handler: h.Asset()},
		{Method: http.MethodGet, Pattern: "/api/speakers", Access: admin.AdminOnly, Handler: h.List()},
		{Method: http.MethodPost, Pattern: "/api/speakers", Access: admin.AdminOnly, Handler: h.Enrol(), MaxBody: speakershttp.MaxRecording + 1<<20},
		{Method: http.MethodGet, Pattern: "/api/speakers/{id}/export", Access: admin.AdminOnly, Handler: h.Export()},
		{Method: http.MethodPost, Pattern: "/api/speakers/{id}/withdraw", Access: admin.AdminOnly, Handler: h.Withdraw()},
		{Method: http.MethodDelete, Pattern: "/api/speakers/{id}", Access: admin.AdminOnly, Handler: h.Erase()},
	}
}

// archiveRoutes are the console's Archive and Review pages (operators and
// admins: running a service includes its transcript).
func (p *privacyParts) archiveRoutes(sessions live.Sessions) []admin.Route {
	h := p.archive(sessions)
	return []admin.Route{
		{Method: http.MethodGet, Pattern: "/archive", Access: admin.Operator, Handler: h.ArchivePage()},
		{Method: http.MethodGet, Pattern: "/archive-assets/{file}", Access: admin.Operator, Handler: h.Asset()},
		{Method: http.MethodGet, Pattern: "/archive/{id}", Access: admin.Operator, Handler: h.TranscriptPage()},
		{Method: http.MethodGet, Pattern: "/archive/{id}/export", Access: admin.Operator, Handler: h.ExportFile()},
		{Method: http.MethodPost, Pattern: "/archive/{id}/captions/{seq}", Access: admin.Operator, Handler: h.CorrectCaption()},
		{Method: http.MethodDelete, Pattern: "/archive/{id}", Access: admin.Operator, Handler: h.DeleteTranscript()},
		{Method: http.MethodGet, Pattern: "/review", Access: admin.Operator, Handler: h.ReviewPage()},
		{Method: http.MethodGet, Pattern: "/review/{id}/audio", Access: admin.Operator, Handler: h.SnippetAudio()},
		{Method: http.MethodPost, Pattern: "/review/{id}", Access: admin.Operator, Handler: h.ResolveSnippet()},
	}
}

// transcriptHandler serves GET /v1/sessions/{id}/transcript (exports in
// every format, retentionhttp).
// A session that offers translations exports per-language tracks with
// ?lang= (translated as they are read, never stored).
func (p *privacyParts) transcriptHandler(sessions live.Sessions, lt *livetranslate.Service) http.Handler {
	o := retentionhttp.Options{Keeper: p.keeper, Sessions: sessions, Logger: p.log}
	if lt != nil {
		o.Translate = lt.Track
	}
	return retentionhttp.New(o).Transcript()
}

// consoleTranscript serves the console's GET /sessions/{id}/transcript: the
// same exports as the API. Console sessions belong to no key (owner ""), so
// the console user reads them as an administrator would; the keeper audits
// the read as that user.
func (p *privacyParts) consoleTranscript(sessions live.Sessions) admin.Route {
	return admin.Route{Method: http.MethodGet, Pattern: "/sessions/{id}/transcript", Access: admin.Operator,
		Handler: p.archive(sessions).ExportFile()}
}

// archive is the console's view of kept data (retentionhttp).
func (p *privacyParts) archive(sessions live.Sessions) *retentionhttp.Handler {
	return retentionhttp.New(retentionhttp.Options{Keeper: p.keeper, Sessions: sessions, Logger: p.log, Chrome: admin.Chrome,
		CSRF: func(r *http.Request) string {
			s, _ := admin.SessionFrom(r.Context())
			return s.CSRFToken()
		}})
}

// close stops the writer (what is queued is written first, within ctx)
// and the purge job.
func (p *privacyParts) close(ctx context.Context) {
	for {
		select {
		case job := <-p.queue:
			if err := job(ctx); err != nil {
				p.log.Error("keeping opted-in data failed", "err", err)
			}
			continue
		default:
		}
		break
	}
	p.cancel()
	p.wg.Wait()
}
