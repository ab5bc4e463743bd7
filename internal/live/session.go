// Package live owns live-caption sessions: their lifecycle and records
// (Manager, persisted in the store's live_sessions table, never words or
// audio), the Pipeline that carries a session's audio through voice
// activity detection and recognition to caption events, and the bus
// plumbing between them: audio on izwi.live.<id>.audio (core NATS, bounded
// pending limits), numbered events on .events, catch-up on .history, and
// one hub per session per process fanning events out to viewers' feeds.
// Sub-package source feeds sessions from ALSA devices and files.
//
// A session is an explicit state machine: Next is a pure function from a
// session and an event to the next session and the effects the caller must
// carry out (start or stop the pipeline, persist, notify viewers). The
// Manager calls it for every state change (transition.go) under the
// session's lock and carries out the effects after releasing it, so the
// rules are testable without goroutines, clocks or I/O.
package live

import (
	"errors"
	"fmt"
	"time"
)

// State is where a session is in its life.
type State string

const (
	// Idle: created, not started. Audio is refused.
	Idle State = "idle"
	// Live: the pipeline runs; audio is accepted and captions flow.
	Live State = "live"
	// Interrupted: the process stopped while the session was live (crash,
	// restart). On start-up every Live session becomes Interrupted; Resume
	// brings it back, Stop ends it.
	Interrupted State = "interrupted"
	// Stopped: ended for good. Only its label may change.
	Stopped State = "stopped"
	// Paused: an operator blanked the screens without ending the session.
	// The pipeline is closed, so audio that still arrives is not
	// recognised (nothing is heard, kept or shown; the source stays
	// attached and the input meter keeps working). Resume goes live
	// again; a restart leaves it paused.
	Paused State = "paused"
)

// InputKind names what happened to a session (an input to Next).
type InputKind string

const (
	EvStart     InputKind = "start"     // an operator starts the session
	EvStop      InputKind = "stop"      // an operator stops it
	EvAudio     InputKind = "audio"     // audio arrived; Speech says whether the VAD heard speech (the pipeline reports speech)
	EvTick      InputKind = "tick"      // time passed (drives the silence auto-stop)
	EvRestart   InputKind = "restart"   // the process restarted while the session was stored
	EvResume    InputKind = "resume"    // an operator resumes an interrupted or paused session
	EvPause     InputKind = "pause"     // an operator pauses a live session
	EvLabel     InputKind = "label"     // the session's label changes
	EvReconnect InputKind = "reconnect" // the audio source reconnected (no state change)
)

// Input is one input to Next. At is when it happened (the caller's clock).
type Input struct {
	Kind   InputKind
	At     time.Time
	Speech bool   // EvAudio: the VAD heard speech in this audio
	Label  string // EvLabel: the new label
}

// Effect is something the caller must do after a transition, in order.
type Effect string

const (
	StartPipeline Effect = "start_pipeline"
	StopPipeline  Effect = "stop_pipeline"
	Persist       Effect = "persist"        // write the session record
	NotifyViewers Effect = "notify_viewers" // tell viewers the state changed
)

// Session is the state Next works on. It holds no audio and no words.
type Session struct {
	ID    string
	Label string
	State State
	// StartedAt is when the session last went live; zero before.
	StartedAt time.Time
	// LastSpeech is when speech was last heard (or the session went live).
	LastSpeech time.Time
	// AutoStopAfter stops a live session after this much silence; 0 never.
	AutoStopAfter time.Duration
	// StopReason says why a stopped session ended ("operator", "silence").
	StopReason string
}

// ErrTransition is wrapped by every refused event.
var ErrTransition = errors.New("live: event not allowed in this state")

// MaxLabel is the longest label, in bytes.
const MaxLabel = 200

// Next applies e to s. It returns the new session and the effects to carry
// out, or s unchanged and an error wrapping ErrTransition when e is not
// allowed in s.State. Next never mutates its argument.
func Next(s Session, e Input) (Session, []Effect, error) {
	refuse := func() (Session, []Effect, error) {
		return s, nil, fmt.Errorf("%w: %s while %s", ErrTransition, e.Kind, s.State)
	}
	switch e.Kind {
	case EvLabel:
		if len(e.Label) > MaxLabel {
			return s, nil, fmt.Errorf("%w: label longer than %d bytes", ErrTransition, MaxLabel)
		}
		s.Label = e.Label
		return s, []Effect{Persist, NotifyViewers}, nil
	case EvStart:
		if s.State != Idle {
			return refuse()
		}
		return goLive(s, e.At), []Effect{StartPipeline, Persist, NotifyViewers}, nil
	case EvResume:
		if s.State != Interrupted && s.State != Paused {
			return refuse()
		}
		return goLive(s, e.At), []Effect{StartPipeline, Persist, NotifyViewers}, nil
	case EvPause:
		if s.State != Live {
			return refuse()
		}
		s.State = Paused
		return s, []Effect{StopPipeline, Persist, NotifyViewers}, nil
	case EvStop:
		switch s.State {
		case Live:
			return stop(s, "operator"), []Effect{StopPipeline, Persist, NotifyViewers}, nil
		case Idle, Interrupted, Paused:
			return stop(s, "operator"), []Effect{Persist, NotifyViewers}, nil
		}
		return refuse()
	case EvAudio:
		if s.State != Live {
			return refuse()
		}
		if e.Speech && e.At.After(s.LastSpeech) {
			s.LastSpeech = e.At
		}
		return silenceCheck(s, e.At)
	case EvTick:
		if s.State != Live {
			return s, nil, nil // time passing is not an error anywhere
		}
		return silenceCheck(s, e.At)
	case EvRestart:
		if s.State != Live {
			return s, nil, nil // idle, interrupted and stopped sessions survive a restart as they are
		}
		s.State = Interrupted
		return s, []Effect{Persist, NotifyViewers}, nil
	case EvReconnect:
		if s.State != Live && s.State != Paused {
			return refuse()
		}
		return s, nil, nil
	}
	return s, nil, fmt.Errorf("%w: unknown event %q", ErrTransition, e.Kind)
}

func goLive(s Session, at time.Time) Session {
	s.State, s.StartedAt, s.LastSpeech, s.StopReason = Live, at, at, ""
	return s
}

func stop(s Session, reason string) Session {
	s.State, s.StopReason = Stopped, reason
	return s
}

// silenceCheck stops a live session that has heard no speech for its
// AutoStopAfter.
func silenceCheck(s Session, now time.Time) (Session, []Effect, error) {
	if s.AutoStopAfter > 0 && now.Sub(s.LastSpeech) >= s.AutoStopAfter {
		return stop(s, "silence"), []Effect{StopPipeline, Persist, NotifyViewers}, nil
	}
	return s, nil, nil
}
