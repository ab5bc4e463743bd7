// Package schedule owns timed live-caption sessions: weekly recurring
// services and one-off events (Rule), the pure arithmetic of when each
// occurrence starts and stops in its time zone (DST-correct through
// time.LoadLocation), and the Runner that starts and stops sessions on time
// with an injectable clock, remembering what it started in a Store so a
// restart neither loses a running service nor starts one twice. It knows
// nothing of HTTP or of live captions' internals: the runner drives a
// Sessions interface that cmd/izwi adapts. Only cmd/izwi and the console
// (through cmd/izwi) use it.
package schedule

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is a rule's repetition.
type Kind string

// The kinds of rule.
const (
	Weekly Kind = "weekly" // on the given weekdays, every week
	Once   Kind = "once"   // on one date
)

// Limits of a rule.
const (
	MaxLabel      = 200
	MaxGrace      = 6 * time.Hour
	MaxDuration   = 24 * time.Hour
	MaxVocabulary = 100
)

// ErrInvalid wraps every reason a rule is refused; its text is safe to show.
var ErrInvalid = errors.New("schedule: invalid rule")

// Rule is one scheduled service.
type Rule struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Kind  Kind   `json:"kind"`
	// TimeZone is an IANA name ("Africa/Johannesburg"); times are local to it.
	TimeZone string `json:"time_zone"`
	// Weekdays of a Weekly rule.
	Weekdays []time.Weekday `json:"weekdays,omitempty"`
	// Date of a Once rule, YYYY-MM-DD.
	Date string `json:"date,omitempty"`
	// Start and Stop are HH:MM local times; a Stop not after Start ends the
	// next day.
	Start string `json:"start"`
	Stop  string `json:"stop"`
	// Grace is how late a start may still happen (a server that was down
	// at the start time starts the service when it comes back within it).
	Grace time.Duration `json:"grace"`
	// Source is the audio source to attach ("alsa:hw:1,0", "file:…"), or
	// "" for one paired from the console or sent over the API.
	Source     string   `json:"source,omitempty"`
	ViewerMode string   `json:"viewer_mode"`
	Vocabulary []string `json:"vocabulary,omitempty"`
	Disabled   bool     `json:"disabled,omitempty"`
}

// Window is one occurrence of a rule, [Start, Stop), in UTC.
type Window struct{ Start, Stop time.Time }

func (w Window) contains(t time.Time) bool { return !t.Before(w.Start) && t.Before(w.Stop) }

// clock parses HH:MM.
func clock(s string) (h, m int, err error) {
	t, err := time.Parse("15:04", s)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: times are HH:MM (24-hour)", ErrInvalid)
	}
	return t.Hour(), t.Minute(), nil
}

// Validate checks r and loads its time zone.
func (r Rule) Validate() error {
	if r.Label == "" || len(r.Label) > MaxLabel || !utf8.ValidString(r.Label) || strings.ContainsFunc(r.Label, func(c rune) bool { return c < 0x20 }) {
		return fmt.Errorf("%w: a label of 1 to %d characters is required", ErrInvalid, MaxLabel)
	}
	if _, err := time.LoadLocation(r.TimeZone); err != nil || r.TimeZone == "" {
		return fmt.Errorf("%w: unknown time zone (use an IANA name such as Africa/Johannesburg)", ErrInvalid)
	}
	if _, _, err := clock(r.Start); err != nil {
		return err
	}
	if _, _, err := clock(r.Stop); err != nil {
		return err
	}
	if r.Grace < 0 || r.Grace > MaxGrace {
		return fmt.Errorf("%w: grace must be 0 to %s", ErrInvalid, MaxGrace)
	}
	if len(r.Vocabulary) > MaxVocabulary {
		return fmt.Errorf("%w: at most %d vocabulary entries", ErrInvalid, MaxVocabulary)
	}
	switch r.Kind {
	case Weekly:
		if len(r.Weekdays) == 0 {
			return fmt.Errorf("%w: a weekly service needs at least one weekday", ErrInvalid)
		}
		for _, d := range r.Weekdays {
			if d < time.Sunday || d > time.Saturday {
				return fmt.Errorf("%w: weekdays are 0 (Sunday) to 6", ErrInvalid)
			}
		}
	case Once:
		if _, err := time.Parse(time.DateOnly, r.Date); err != nil {
			return fmt.Errorf("%w: a one-off event needs a date, YYYY-MM-DD", ErrInvalid)
		}
	default:
		return fmt.Errorf("%w: kind must be weekly or once", ErrInvalid)
	}
	return nil
}

// window is the occurrence that starts on the local date y-m-d.
func (r Rule) window(loc *time.Location, y int, mo time.Month, d int) Window {
	sh, sm, _ := clock(r.Start)
	eh, em, _ := clock(r.Stop)
	start := time.Date(y, mo, d, sh, sm, 0, 0, loc)
	stop := time.Date(y, mo, d, eh, em, 0, 0, loc)
	if !stop.After(start) {
		stop = time.Date(y, mo, d+1, eh, em, 0, 0, loc)
	}
	return Window{Start: start.UTC(), Stop: stop.UTC()}
}

// Occurrences returns r's windows that end after from and start before to,
// in order. An invalid or disabled rule has none.
func (r Rule) Occurrences(from, to time.Time) []Window {
	if r.Disabled || r.Validate() != nil || !to.After(from) {
		return nil
	}
	loc, _ := time.LoadLocation(r.TimeZone)
	var out []Window
	add := func(w Window) {
		if w.Stop.After(from) && w.Start.Before(to) {
			out = append(out, w)
		}
	}
	if r.Kind == Once {
		d, _ := time.Parse(time.DateOnly, r.Date)
		add(r.window(loc, d.Year(), d.Month(), d.Day()))
		return out
	}
	// Start a day early: an occurrence that began yesterday may still run.
	day := from.In(loc).AddDate(0, 0, -1)
	for i := 0; ; i++ {
		y, mo, d := day.Date()
		w := r.window(loc, y, mo, d+i)
		if !w.Start.Before(to) {
			return out
		}
		if slices.Contains(r.Weekdays, time.Date(y, mo, d+i, 12, 0, 0, 0, loc).Weekday()) {
			add(w)
		}
	}
}

// Current returns the occurrence running at now, if any.
func (r Rule) Current(now time.Time) (Window, bool) {
	for _, w := range r.Occurrences(now, now.Add(time.Nanosecond)) {
		if w.contains(now) {
			return w, true
		}
	}
	return Window{}, false
}

// Next returns the first occurrence that starts after now.
func (r Rule) Next(now time.Time) (Window, bool) {
	for _, w := range r.Occurrences(now, now.Add(nextHorizon)) {
		if w.Start.After(now) {
			return w, true
		}
	}
	return Window{}, false
}

// nextHorizon is how far ahead Next looks.
const nextHorizon = 370 * 24 * time.Hour
