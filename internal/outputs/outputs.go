// Package outputs owns caption outputs (issue 18): pushing a live
// session's final captions, in its language or a translation, to where a
// venue needs them besides the viewer pages: YouTube Live's caption
// ingestion (HTTP POST with sequence numbers and timestamps), OBS over
// obs-websocket v5 (SendStreamCaption, so a stream carries CEA-608
// captions), an HMAC-signed webhook, and a plain-text or SRT file that
// presentation software reads. Each output has a delay (to match a
// stream's latency), a bounded queue, retries with backoff, and health
// (last success, last error class, queued) for the API and /metrics.
//
// Credentials (a stream's ingestion URL, OBS's password, a webhook's key)
// are files under the configured credentials directory, named by the API
// and read at send time: they are never logged, stored or returned. Nor
// is caption text, except into the file output an operator configured.
package outputs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// Kinds of output.
const (
	KindYouTube = "youtube"
	KindOBS     = "obs"
	KindWebhook = "webhook"
	KindFile    = "file"
)

// Spec is one output as the API creates it (POST
// /v1/sessions/{id}/outputs).
type Spec struct {
	Kind string `json:"kind"`
	// Lang: the captions' language (empty: the session's own); any other
	// must be one the session was created to translate into.
	Lang string `json:"lang,omitempty"`
	// Delay holds each caption this many seconds before sending (0 to 600).
	Delay float64 `json:"delay,omitempty"`
	// URL: obs (ws://host:4455) and webhook (https://...). YouTube's
	// ingestion URL carries the stream's key, so it is a credential.
	URL string `json:"url,omitempty"`
	// Credentials names a file in the credentials directory: youtube the
	// caption ingestion URL, obs the obs-websocket password (optional),
	// webhook the HMAC key.
	Credentials string `json:"credentials,omitempty"`
	// Name is the file output's base name (letters, digits, - and _);
	// Format "txt" (the current caption) or "srt" (every caption).
	Name   string `json:"name,omitempty"`
	Format string `json:"format,omitempty"`
}

// Caption is one final caption an output sends.
type Caption struct {
	SessionID string
	Seq       uint64
	Segment   int
	Text      string
	Lang      string
	// Start and End are seconds of session audio; At is when it was
	// published (wall clock).
	Start, End float64
	At         time.Time
}

func captionOf(e live.Event) Caption {
	return Caption{SessionID: e.SessionID, Seq: e.Seq, Segment: e.Segment, Text: e.Text, Lang: e.Lang,
		Start: e.Start, End: e.End, At: e.Time}
}

// Sender delivers captions to one destination.
//
// Contract: Send delivers c or returns an error; a *Permanent error means
// retrying the same caption cannot help. Send honours ctx. Close releases
// connections; Send is never called concurrently.
type Sender interface {
	Send(ctx context.Context, c Caption) error
	Close() error
}

// Permanent marks an error retrying cannot fix (a refused caption).
type Permanent struct {
	Class string
	Err   error
}

func (p *Permanent) Error() string { return p.Err.Error() }
func (p *Permanent) Unwrap() error { return p.Err }

// classed is an error with a class for health ("auth", "http_503",
// "unreachable", ...); the class never carries text or secrets.
type classed struct {
	class string
	err   error
}

func (c *classed) Error() string { return c.err.Error() }
func (c *classed) Unwrap() error { return c.err }

func classify(class string, err error) error { return &classed{class: class, err: err} }

// ErrorClass names what went wrong in err, for health and metrics.
func ErrorClass(err error) string {
	var c *classed
	var p *Permanent
	switch {
	case err == nil:
		return ""
	case errors.As(err, &p):
		return p.Class
	case errors.As(err, &c):
		return c.class
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, ErrCredentials):
		return "credentials"
	}
	return "error"
}

// ErrCredentials means a credentials file could not be read.
var ErrCredentials = errors.New("outputs: credentials unreadable")

// readCredential reads a credentials file's first line (at most 4 KiB).
func readCredential(dir, name string) (string, error) {
	if name == "" {
		return "", nil
	}
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil || len(b) > 4096 {
		return "", fmt.Errorf("%w: %s", ErrCredentials, name)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSpace(line), nil
}

// validName is a file or credentials name: one path element of letters,
// digits, '.', '-' and '_', not starting with a dot.
func validName(s string) bool {
	if s == "" || len(s) > 64 || s[0] == '.' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}
