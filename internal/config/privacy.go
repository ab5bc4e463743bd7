package config

import (
	"fmt"
	"time"
)

// Privacy configures what Izwi may keep about people ([privacy]): speaker
// identification in live captions, and the opt-in persistence of
// transcripts and review snippets. Everything kept is sealed by the vault
// and destroyed by crypto-shredding when its retention ends. Keeping is off
// by default, as the seeds require.
type Privacy struct {
	// IdentifySpeakers puts enrolled people's names (and "Speaker 1", …
	// for unknown voices) on live captions when a speaker model is
	// installed; a session can opt out (IZWI_PRIVACY_IDENTIFY_SPEAKERS).
	// Default true.
	IdentifySpeakers *bool `json:"identify_speakers,omitempty" toml:"identify_speakers"`
	// MatchThreshold is the cosine similarity at which a voice is given an
	// enrolled person's name (IZWI_PRIVACY_MATCH_THRESHOLD). Default 0.6.
	MatchThreshold float64 `json:"match_threshold,omitempty" toml:"match_threshold"`
	// KeepTranscripts makes sessions keep their final captions by default
	// (a session can still say otherwise) (IZWI_PRIVACY_KEEP_TRANSCRIPTS).
	// Default false.
	KeepTranscripts bool `json:"keep_transcripts,omitempty" toml:"keep_transcripts"`
	// TranscriptRetention is how long a kept transcript lives after its
	// last caption (IZWI_PRIVACY_TRANSCRIPT_RETENTION). Default 720h.
	TranscriptRetention Duration `json:"transcript_retention,omitempty" toml:"transcript_retention"`
	// ReviewSnippets keeps the audio of captions the recognizer was unsure
	// of, for review (IZWI_PRIVACY_REVIEW_SNIPPETS). Default false.
	ReviewSnippets bool `json:"review_snippets,omitempty" toml:"review_snippets"`
	// SnippetBelow is the confidence under which a final caption's audio
	// is kept as a snippet (IZWI_PRIVACY_SNIPPET_BELOW). Default 0.5.
	SnippetBelow float64 `json:"snippet_below,omitempty" toml:"snippet_below"`
	// SnippetRetention keeps snippets 7 to 30 days
	// (IZWI_PRIVACY_SNIPPET_RETENTION). Default 336h (14 days).
	SnippetRetention Duration `json:"snippet_retention,omitempty" toml:"snippet_retention"`
	// PurgeInterval is how often expired data is destroyed
	// (IZWI_PRIVACY_PURGE_INTERVAL). Default 1h.
	PurgeInterval Duration `json:"purge_interval,omitempty" toml:"purge_interval"`
}

// Identify reports whether live captions name speakers (the default).
func (x Privacy) Identify() bool { return x.IdentifySpeakers == nil || *x.IdentifySpeakers }

func (x Privacy) defaults(Config) Privacy {
	if x.IdentifySpeakers == nil {
		t := true
		x.IdentifySpeakers = &t
	}
	if x.MatchThreshold == 0 {
		x.MatchThreshold = 0.6
	}
	if x.TranscriptRetention == 0 {
		x.TranscriptRetention = Duration(30 * 24 * time.Hour)
	}
	if x.SnippetBelow == 0 {
		x.SnippetBelow = 0.5
	}
	if x.SnippetRetention == 0 {
		x.SnippetRetention = Duration(14 * 24 * time.Hour)
	}
	if x.PurgeInterval == 0 {
		x.PurgeInterval = Duration(time.Hour)
	}
	return x
}

func (x Privacy) validate() []error {
	var errs []error
	if x.MatchThreshold <= 0 || x.MatchThreshold >= 1 {
		errs = append(errs, fmt.Errorf("config: privacy.match_threshold %v: want between 0 and 1", x.MatchThreshold))
	}
	if d := x.TranscriptRetention.Std(); d < time.Hour || d > 365*24*time.Hour {
		errs = append(errs, fmt.Errorf("config: privacy.transcript_retention %v: want 1h to 8760h (a year)", d))
	}
	if x.SnippetBelow <= 0 || x.SnippetBelow >= 1 {
		errs = append(errs, fmt.Errorf("config: privacy.snippet_below %v: want between 0 and 1", x.SnippetBelow))
	}
	if d := x.SnippetRetention.Std(); d < 7*24*time.Hour || d > 30*24*time.Hour {
		errs = append(errs, fmt.Errorf("config: privacy.snippet_retention %v: want 168h to 720h (7 to 30 days)", d))
	}
	if d := x.PurgeInterval.Std(); d < time.Minute || d > 24*time.Hour {
		errs = append(errs, fmt.Errorf("config: privacy.purge_interval %v: want 1m to 24h", d))
	}
	return errs
}

func (x *Privacy) applyEnv(e envReader) {
	if _, ok := e.get("IZWI_PRIVACY_IDENTIFY_SPEAKERS"); ok {
		var b bool
		e.Bool("IZWI_PRIVACY_IDENTIFY_SPEAKERS", &b)
		x.IdentifySpeakers = &b
	}
	e.Float("IZWI_PRIVACY_MATCH_THRESHOLD", &x.MatchThreshold)
	e.Bool("IZWI_PRIVACY_KEEP_TRANSCRIPTS", &x.KeepTranscripts)
	e.Duration("IZWI_PRIVACY_TRANSCRIPT_RETENTION", &x.TranscriptRetention)
	e.Bool("IZWI_PRIVACY_REVIEW_SNIPPETS", &x.ReviewSnippets)
	e.Float("IZWI_PRIVACY_SNIPPET_BELOW", &x.SnippetBelow)
	e.Duration("IZWI_PRIVACY_SNIPPET_RETENTION", &x.SnippetRetention)
	e.Duration("IZWI_PRIVACY_PURGE_INTERVAL", &x.PurgeInterval)
}

func (x Privacy) envVars() []string {
	return []string{"IZWI_PRIVACY_IDENTIFY_SPEAKERS", "IZWI_PRIVACY_MATCH_THRESHOLD", "IZWI_PRIVACY_KEEP_TRANSCRIPTS",
		"IZWI_PRIVACY_TRANSCRIPT_RETENTION", "IZWI_PRIVACY_REVIEW_SNIPPETS", "IZWI_PRIVACY_SNIPPET_BELOW",
		"IZWI_PRIVACY_SNIPPET_RETENTION", "IZWI_PRIVACY_PURGE_INTERVAL"}
}
