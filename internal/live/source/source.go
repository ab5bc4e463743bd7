// Package source owns the audio sources a live-caption session can be fed
// from without a client: an ALSA capture device (alsa:<device>, through
// Debian's arecord as a child process) and a file played at real time
// (file:<path>[?loop=1], the demo source). Run pumps a source into a
// session's live.Ingest until its context ends.
package source

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// Source is a parsed source spec.
type Source interface {
	// String is the spec, as shown in the session's Info.Source.
	String() string
	// run captures into ing until ctx ends or the source ends.
	run(ctx context.Context, ing live.Ingest) error
}

// ErrSpec is wrapped by every Parse error.
var ErrSpec = errors.New("source: invalid source")

// maxSpec bounds a spec's length.
const maxSpec = 512

// Parse reads "alsa:<device>" or "file:<path>[?loop=1]".
func Parse(spec string) (Source, error) {
	if len(spec) > maxSpec || strings.ContainsFunc(spec, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, fmt.Errorf("%w: spec must be at most %d printable bytes", ErrSpec, maxSpec)
	}
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok || rest == "" {
		return nil, fmt.Errorf("%w: want alsa:<device> or file:<path>", ErrSpec)
	}
	switch kind {
	case "alsa":
		// Device names are ALSA's: hw:1,0, plughw:CARD=Mic,DEV=0, default.
		// They go to arecord as one argument, never through a shell;
		// a leading '-' would read as a flag.
		if strings.HasPrefix(rest, "-") || strings.ContainsAny(rest, " \t'\"\\$`;|&<>") {
			return nil, fmt.Errorf("%w: alsa device %q", ErrSpec, rest)
		}
		return &ALSA{Device: rest}, nil
	case "file":
		path, query, _ := strings.Cut(rest, "?")
		if path == "" {
			return nil, fmt.Errorf("%w: file needs a path", ErrSpec)
		}
		q, err := url.ParseQuery(query)
		if err != nil {
			return nil, fmt.Errorf("%w: file options: %v", ErrSpec, err)
		}
		f := &File{Path: path}
		for k, v := range q {
			switch {
			case k == "loop" && len(v) == 1 && (v[0] == "1" || v[0] == "true"):
				f.Loop = true
			case k == "loop" && len(v) == 1 && (v[0] == "0" || v[0] == "false"):
			default:
				return nil, fmt.Errorf("%w: unknown file option %q", ErrSpec, k)
			}
		}
		return f, nil
	}
	return nil, fmt.Errorf("%w: unknown kind %q (want alsa or file)", ErrSpec, kind)
}

// Run pumps src into ing until ctx ends (nil) or the source ends or fails.
// It does not close ing.
func Run(ctx context.Context, src Source, ing live.Ingest) error {
	err := src.run(ctx, ing)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// reconnecter is what an Ingest offers when it wants to hear that its
// source came back after a failure (the manager's does).
type reconnecter interface{ Reconnected() error }

func reportReconnect(ing live.Ingest) {
	if r, ok := ing.(reconnecter); ok {
		_ = r.Reconnected()
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
