package live

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
)

// pipelines owns the recognition pipelines of the sessions this process
// runs: the live slots (live.max_sessions), opening a pipeline for a
// session (the recognizer's stream, its speaker tracker, its privacy
// hooks) with its events wired to the session's publisher, and draining
// one. It holds no session lock: the caller copies what it needs under
// session.mu into a pipeSpec, and installs the pipeline afterwards.
type pipelines struct {
	ctx     context.Context // the manager's: ends every pipeline at shutdown
	rec     speech.Recognizer
	vad     speech.VAD
	cfg     config.Live
	hooks   hooks
	caption func(sessionID string, e Event) Event
	met     *metrics
	log     *slog.Logger
	bus     *clusterBus // nil unless clustered: where finals end in the audio stream
	replay  time.Duration

	n atomic.Int32 // pipelines open
}

// pipeSpec is what a session's pipeline is opened with, copied under
// session.mu.
type pipeSpec struct {
	id               string
	hotwords         []string
	context          string
	preRoll          time.Duration
	audioMS          int64
	keepTranscript   bool
	identifySpeakers bool
	told             float64 // skip captions ending before this (a session taken over)
	resumed          bool    // taken over from a mark: more audio may come at once
	pub              *publisher
	// speech is called (pipeline goroutine) when speech is heard;
	// final when a final caption ends at end (session seconds) on a
	// pipeline that began at audioMS.
	speech func()
	final  func(off int64, end float64)
}

// rate is the recognizer's sample rate (16 kHz without one).
func (ps *pipelines) rate() int {
	if ps.rec == nil {
		return 16000
	}
	return ps.rec.SampleRate()
}

// open reserves a live slot and opens sp's pipeline.
func (ps *pipelines) open(sp pipeSpec) (*Pipeline, error) {
	if ps.rec == nil {
		return nil, ErrNoEngine
	}
	if ps.n.Add(1) > int32(ps.cfg.MaxSessions) {
		ps.n.Add(-1)
		return nil, fmt.Errorf("%w: %d live already", ErrLimit, ps.cfg.MaxSessions)
	}
	if sp.pub == nil {
		ps.n.Add(-1)
		return nil, fmt.Errorf("live: session %s: no publisher", sp.id)
	}
	if !sp.resumed {
		ps.bus.setMark(sp.id, mark{}) // marks of an earlier run are void
	}
	keep := ps.hooks.keeper(sp.keepTranscript)
	pub, told, off := sp.pub, sp.told, sp.audioMS
	onEvent := func(e Event) {
		var ok bool
		if e, ok = afterTold(e, told); !ok {
			return // recognised again after a takeover, and already told
		}
		if e.Type == TypeEngine {
			ps.met.switches.WithLabelValues(e.EngineFrom, e.Engine, e.Reason).Inc()
			ps.log.Info("live: recognition moved to another engine", "session_id", sp.id,
				"from", e.EngineFrom, "to", e.Engine, "reason", e.Reason, "at", e.At)
		}
		if e.Type == TypeSpeechStarted || (e.Type == TypeCaption && e.Text != "") {
			sp.speech()
		}
		if ps.bus != nil && e.Type == TypeCaption && e.Final {
			sp.final(off, e.End)
		}
		if ps.caption != nil && e.Type == TypeCaption {
			e = ps.caption(sp.id, e)
		}
		pub.publishKept(e, keep)
	}
	pv := ps.hooks.privacy
	pc := PipelineConfig{Recognizer: ps.rec, VAD: ps.vad, Hotwords: sp.hotwords, Context: sp.context,
		QueueAudio:  time.Duration(ps.cfg.QueueAudio) + sp.preRoll,
		IdleRelease: ps.cfg.IdleReleaseDuration(),
		// The audio a fallback engine served is held (sealed, in memory)
		// for the primary's catch-up only when the transcript is kept.
		KeepForCatchUp: sp.keepTranscript,
		Offset:         time.Duration(sp.audioMS) * time.Millisecond,
		Logger:         ps.log.With("session", sp.id)}
	if sp.resumed {
		pc.QueueAudio += ps.replay
	}
	if keep != nil && pv.Replace != nil {
		sessionID, replace := sp.id, pv.Replace
		pc.CatchUp = func(from, to float64, finals []Event) { replace(sessionID, from, to, finals) }
	}
	if sp.keepTranscript && pv.Snippet != nil {
		sessionID, snip := sp.id, pv.Snippet
		pc.Snippet, pc.SnippetBelow = func(e Event, samples []float32, rate int) {
			e.SessionID = sessionID
			snip(e, samples, rate)
		}, pv.SnippetBelow
	}
	if sp.identifySpeakers && pv.Speakers != nil {
		tr, err := pv.Speakers(ps.ctx)
		if err != nil {
			ps.log.Warn("speaker identification off for this session", "session_id", sp.id, "err", err)
		}
		pc.Speakers = tr
	}
	p, err := NewPipeline(ps.ctx, pc, onEvent)
	if err != nil {
		ps.n.Add(-1)
		return nil, err
	}
	return p, nil
}

// drainTimeout bounds how long stopping a session's pipeline may take to
// recognise its queued audio outside a shutdown (which has its own bound,
// server.shutdown_timeout, in the ctx given to Manager.Close).
const drainTimeout = 10 * time.Second

// close drains p within ctx (its last finals are published), frees its
// slot and returns its counters.
func (ps *pipelines) close(ctx context.Context, id string, p *Pipeline) PipelineStats {
	if err := p.Close(ctx); err != nil {
		ps.log.Warn("live: pipeline drain cut short", "session_id", id, "err", err)
	}
	ps.n.Add(-1)
	return p.Stats()
}

// live is the number of pipelines open.
func (ps *pipelines) live() int { return int(ps.n.Load()) }
