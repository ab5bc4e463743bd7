package admin

import (
	"context"
	"errors"
	"time"
)

// Live is what the console's session pages need from live captions.
// cmd/izwi adapts live.Manager to it (in process: the console never calls
// the API over HTTP). Methods act as an administrator on any session.
type Live interface {
	List(ctx context.Context) ([]LiveSession, error)
	Create(ctx context.Context, req NewSession) (LiveSession, error)
	// Act starts, stops, pauses or resumes a session.
	Act(ctx context.Context, id string, a LiveAction) (LiveSession, error)
	// Status is the session's live figures (never a word or a sample).
	Status(ctx context.Context, id string) (LiveStatus, error)
	// SetContext replaces the session's prepared text ("" removes it); a
	// live session takes it from its next utterance.
	SetContext(ctx context.Context, id, text string) (LiveSession, error)
}

// MicPairer issues the one-click microphone pairing: a short-lived,
// single-use code, bound to one session, that the /mic page exchanges for
// the right to send that session audio. Never an API key.
type MicPairer interface {
	PairMic(ctx context.Context, sessionID, origin string) (code string, expires time.Time, err error)
}

// LiveAction is a session control the console offers.
type LiveAction string

// The session controls.
const (
	ActStart  LiveAction = "start"
	ActStop   LiveAction = "stop"
	ActPause  LiveAction = "pause"
	ActResume LiveAction = "resume"
)

// Errors a Live implementation returns, shown to the user as they are.
var (
	// ErrLiveUnsupported: this build cannot do the action (pause before it exists).
	ErrLiveUnsupported = errors.New("admin: this action is not available")
	// ErrRefused wraps a refusal the user can act on (bad label, a
	// state that does not allow it, every decoder busy); its text is shown.
	ErrRefused = errors.New("admin: refused")
)

// LiveSession is a session as the console lists it.
type LiveSession struct {
	ID             string    `json:"id"`
	Label          string    `json:"label"`
	State          string    `json:"state"`
	ViewerMode     string    `json:"viewer_mode"`
	KeepTranscript bool      `json:"keep_transcript"`
	Vocabulary     []string  `json:"vocabulary,omitempty"`
	Source         string    `json:"source,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	// LinkToken is set once, on creating a link-mode session.
	LinkToken string `json:"link_token,omitempty"`
	// Context describes the session's prepared text (never the text).
	Context *LiveContext `json:"context,omitempty"`
}

// LiveContext is what a session's prepared text became: its size and, per
// engine that has used it, the words it added and what it cost.
type LiveContext struct {
	Bytes   int                 `json:"bytes"`
	Engines []LiveContextEngine `json:"engines,omitempty"`
}

// LiveContextEngine is one engine's adaptation to a prepared text.
type LiveContextEngine struct {
	Engine     string        `json:"engine"`
	Words      int           `json:"words"`
	Added      []string      `json:"added,omitempty"`
	Dropped    int           `json:"dropped"`
	KeyTerms   []string      `json:"key_terms,omitempty"`
	ModelBytes int           `json:"model_bytes,omitempty"`
	BuildTime  time.Duration `json:"build_time"`
}

// NewSession is the console's create form.
type NewSession struct {
	Label, ViewerMode, Password string
	Vocabulary                  []string
	KeepTranscript              bool
}

// LiveStatus is what the session page polls (GET /api/sessions/{id}/status).
type LiveStatus struct {
	State     string  `json:"state"`
	Level     float64 `json:"level"`
	PeakDBFS  float64 `json:"peak_dbfs"`
	Clipping  bool    `json:"clipping"`
	Receiving bool    `json:"receiving"`
	Engine    string  `json:"engine"`
	Viewers   int     `json:"viewers"`
	// Capacity describes the recognizer's streams, "2 of 4 in use".
	Capacity string `json:"capacity"`
}
