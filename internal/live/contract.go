package live

import (
	"context"
	"errors"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// This file is the contract between the session manager (Manager, which
// owns sessions, pipelines and the bus) and its consumers: the HTTP and
// WebSocket handlers (package livehttp), audio sources (ALSA, file), the
// Deepgram-compatible endpoint and the pages.

// Errors the Sessions methods wrap; handlers map them to API codes.
var (
	ErrNotFound  = errors.New("live: no such session")                     // 404 not_found
	ErrBusy      = errors.New("live: session already has a source")        // 409 conflict
	ErrLimit     = errors.New("live: too many sessions")                   // 429 quota_exceeded
	ErrBadConfig = errors.New("live: invalid session settings")            // 400 bad_request
	ErrNoEngine  = errors.New("live: no streaming recognizer loaded")      // 503 engine_unavailable
	ErrSecret    = errors.New("live: wrong viewer password or link token") // 401 unauthenticated
	ErrSlow      = errors.New("live: viewer fell behind")                  // feed ends; reconnect with After
	// ErrTransition (session.go): start/stop/resume not allowed now → 409 conflict.
)

// ViewerMode is who may watch a session's captions.
type ViewerMode string

const (
	// ViewPublic: anyone who knows the session id.
	ViewPublic ViewerMode = "public"
	// ViewLink: holders of the session's link token (shown once at
	// creation, in the share link's #fragment so it never reaches logs),
	// exchanged for a ticket.
	ViewLink ViewerMode = "link"
	// ViewPassword: viewers who type the session's password (argon2id
	// hashed at rest), exchanged for a ticket.
	ViewPassword ViewerMode = "password"
	// ViewPrivate: only principals holding live.read for the owner
	// (the owner's keys, admins, tickets they issue).
	ViewPrivate ViewerMode = "private"
)

// Info is a session as the API shows it. It never holds audio, words or
// secrets.
type Info struct {
	ID         string     `json:"id"`
	Label      string     `json:"label"`
	Owner      string     `json:"-"` // quota subject of the creator; compared, never shown
	State      State      `json:"state"`
	ViewerMode ViewerMode `json:"viewer_mode"`
	Language   string     `json:"language,omitempty"`
	Hotwords   []string   `json:"hotwords,omitempty"`
	// AutoStopAfter stops the session after this much silence (0: never).
	AutoStopAfter time.Duration `json:"-"`
	AutoStopSecs  float64       `json:"auto_stop_after"`
	// PreRoll is how much audio from before Start is transcribed too.
	PreRoll     time.Duration `json:"-"`
	PreRollSecs float64       `json:"pre_roll"`
	CreatedAt   time.Time     `json:"created_at"`
	StartedAt   *time.Time    `json:"started_at,omitempty"`
	StoppedAt   *time.Time    `json:"stopped_at,omitempty"`
	StopReason  string        `json:"stop_reason,omitempty"`
	// Source describes the attached audio source ("websocket", "alsa:hw:1,0",
	// "file:demo.wav"), empty when none.
	Source string `json:"source,omitempty"`
	// LastSeq is the Seq of the session's latest event.
	LastSeq uint64 `json:"last_seq"`
	// KeepTranscript: the session's final captions are kept, sealed, for
	// [privacy] transcript_retention (off unless the operator opts in).
	KeepTranscript bool `json:"keep_transcript"`
	// IdentifySpeakers: captions carry enrolled people's names and
	// "Speaker N" for other voices (when a speaker model is installed).
	IdentifySpeakers bool `json:"identify_speakers"`
	// Context describes the session's prepared text (never the text).
	Context *ContextInfo `json:"context,omitempty"`
}

// PreparedText is what a venue knows will be said: readings, hymns, names,
// notes. The recognizer adapts to it (docs/prepared-text.md). It is held
// in memory for the session only.
type PreparedText struct {
	Text string `json:"text"`
}

// ContextInfo describes a session's prepared text: its size and hash, and
// what each engine made of it once a stream opened with it.
type ContextInfo struct {
	Bytes   int                    `json:"bytes"`
	SHA256  string                 `json:"sha256"`
	Engines []speech.ContextReport `json:"engines,omitempty"`
}

// CreateRequest is the POST /v1/sessions body. Zero values take the
// configured defaults.
type CreateRequest struct {
	Label      string     `json:"label"`
	ViewerMode ViewerMode `json:"viewer_mode"` // default public
	// Password is required for ViewPassword (at least 8 characters).
	Password string   `json:"password,omitempty"`
	Language string   `json:"language,omitempty"`
	Hotwords []string `json:"hotwords,omitempty"`
	// AutoStopAfter and PreRoll in seconds; nil takes the default.
	AutoStopAfter *float64 `json:"auto_stop_after,omitempty"`
	PreRoll       *float64 `json:"pre_roll,omitempty"`
	// Start the session at once.
	Start bool `json:"start,omitempty"`
	// KeepTranscript and IdentifySpeakers; nil takes [privacy]'s default.
	KeepTranscript   *bool `json:"keep_transcript,omitempty"`
	IdentifySpeakers *bool `json:"identify_speakers,omitempty"`
	// Context is the session's prepared text.
	Context *PreparedText `json:"context,omitempty"`
}

// UpdateRequest is the PATCH /v1/sessions/{id} body; nil fields stay.
type UpdateRequest struct {
	Label         *string     `json:"label,omitempty"`
	ViewerMode    *ViewerMode `json:"viewer_mode,omitempty"`
	Password      *string     `json:"password,omitempty"`
	Hotwords      *[]string   `json:"hotwords,omitempty"`
	AutoStopAfter *float64    `json:"auto_stop_after,omitempty"`
	// KeepTranscript and IdentifySpeakers apply from the next start.
	KeepTranscript   *bool `json:"keep_transcript,omitempty"`
	IdentifySpeakers *bool `json:"identify_speakers,omitempty"`
	// Context replaces the prepared text (an empty text removes it); a
	// live session takes it from the next utterance.
	Context *PreparedText `json:"context,omitempty"`
}

// Created is what Create returns: the session and, for ViewLink, the link
// token (shown once; only its hash is kept).
type Created struct {
	Info
	LinkToken string `json:"link_token,omitempty"`
}

// Sessions is what the handlers need from the manager. All methods are safe
// for concurrent use. Methods that take an owner act only on that owner's
// sessions (another owner's session is ErrNotFound); owner "" means an
// administrator acting on any session.
type Sessions interface {
	Create(ctx context.Context, owner string, req CreateRequest) (Created, error)
	Get(ctx context.Context, owner, id string) (Info, error)
	List(ctx context.Context, owner string) ([]Info, error)
	Update(ctx context.Context, owner, id string, req UpdateRequest) (Info, error)
	Start(ctx context.Context, owner, id string) (Info, error)
	Stop(ctx context.Context, owner, id string) (Info, error)
	Resume(ctx context.Context, owner, id string) (Info, error)
	Pause(ctx context.Context, owner, id string) (Info, error)
	// Delete stops the session if needed and forgets it.
	Delete(ctx context.Context, owner, id string) error

	// CheckViewer verifies a viewer's password (ViewPassword) or link
	// token (ViewLink) in constant time; ErrSecret when wrong, nil for
	// ViewPublic. It reveals nothing else.
	CheckViewer(ctx context.Context, id, secret string) (Info, error)

	// Attach connects an audio source to the session. One source at a
	// time (ErrBusy). Audio written while the session is idle fills the
	// pre-roll buffer only; while live it is recognised; while stopped
	// Write fails with ErrTransition.
	Attach(ctx context.Context, owner, id, source string) (Ingest, error)

	// Watch returns the session's events with Seq > after: first what the
	// session still holds (catch-up), then live ones, without gaps or
	// duplicates. The feed ends (channel closed, Err set) when ctx ends,
	// the session is deleted, or the viewer falls behind (ErrSlow).
	Watch(ctx context.Context, id string, after uint64) (Feed, error)
}

// Ingest is an attached audio source.
type Ingest interface {
	// SampleRate is the rate Write expects (the recognizer's).
	SampleRate() int
	// Write hands mono samples in [-1, 1] at SampleRate to the session.
	// It never blocks on recognition: when the pipeline is behind, audio
	// is dropped and counted (metrics), never queued without bound.
	Write(samples []float32) error
	// Finalize ends the current utterance now (Deepgram's Finalize).
	Finalize() error
	// Close detaches the source; the session stays in its state.
	Close() error
}

// Feed is a viewer's subscription.
type Feed interface {
	Events() <-chan Event
	// Err says why Events was closed (nil while open).
	Err() error
	Close()
}
