package config

import (
	"fmt"
	"time"
)

// Live configures live-caption sessions ([live]): how many run at once,
// their defaults, and the memory each may hold. Nothing here ever puts
// audio or words on disk.
type Live struct {
	// MaxSessions caps sessions live at once in this process
	// (IZWI_LIVE_MAX_SESSIONS). Default 4, PocketSphinx's default decoder
	// pool (options.decoders): each busy session holds one decoder.
	MaxSessions int `json:"max_sessions,omitempty" toml:"max_sessions"`
	// AutoStopAfter is the default silence after which a live session
	// stops itself; 0 never (IZWI_LIVE_AUTO_STOP_AFTER).
	AutoStopAfter Duration `json:"auto_stop_after,omitempty" toml:"auto_stop_after"`
	// PreRoll is the default audio from before Start that is transcribed
	// too, at most 30s; 0 takes 2s, a negative value turns it off
	// (IZWI_LIVE_PRE_ROLL).
	PreRoll Duration `json:"pre_roll,omitempty" toml:"pre_roll"`
	// HistoryEvents bounds the events (finals and state changes) a session
	// keeps in memory for viewers that join late or reconnect
	// (IZWI_LIVE_HISTORY_EVENTS). Default 10000.
	HistoryEvents int `json:"history_events,omitempty" toml:"history_events"`
	// ViewerBuffer is how many events one viewer may fall behind before
	// its feed is closed (it reconnects and catches up)
	// (IZWI_LIVE_VIEWER_BUFFER). Default 256.
	ViewerBuffer int `json:"viewer_buffer,omitempty" toml:"viewer_buffer"`
	// IdleRelease gives a live session's recognizer stream (a decoder, a
	// cloud connection) back after this long without audio; the next audio
	// takes one again (IZWI_LIVE_IDLE_RELEASE). Default 30s; 0 is the
	// default, a negative value never releases.
	IdleRelease Duration `json:"idle_release,omitempty" toml:"idle_release"`
	// QueueAudio is how much audio may wait for the recognizer before new
	// audio is dropped and counted (IZWI_LIVE_QUEUE_AUDIO). Default 5s.
	QueueAudio Duration `json:"queue_audio,omitempty" toml:"queue_audio"`
	// ResumeOnRestart resumes, at start-up, the sessions a crash or restart
	// interrupted (IZWI_LIVE_RESUME_ON_RESTART). Default true.
	ResumeOnRestart *bool `json:"resume_on_restart,omitempty" toml:"resume_on_restart"`
	// PublicURL is the address phones reach this server at
	// (scheme://host[:port]), put in the display page's QR code; empty
	// takes the address the display itself was opened at
	// (IZWI_LIVE_PUBLIC_URL).
	PublicURL string `json:"public_url,omitempty" toml:"public_url"`
}

// Live limits.
const (
	// MaxPreRoll is the longest pre-roll a session may keep.
	MaxPreRoll = 30 * time.Second
	// DefaultPreRoll is the pre-roll when none is configured.
	DefaultPreRoll = 2 * time.Second
	// DefaultIdleRelease is live.idle_release when none is configured.
	DefaultIdleRelease = 30 * time.Second
	// DefaultLiveMaxSessions agrees with PocketSphinx's default decoder
	// pool, so a session that may start can get a decoder.
	DefaultLiveMaxSessions = 4
)

// IdleReleaseDuration is the effective idle release (0: never).
func (x Live) IdleReleaseDuration() time.Duration { return max(time.Duration(x.IdleRelease), 0) }

// Resume reports whether interrupted sessions resume at start-up.
func (x Live) Resume() bool { return x.ResumeOnRestart == nil || *x.ResumeOnRestart }

// PreRollDuration is the effective default pre-roll (0 when turned off).
func (x Live) PreRollDuration() time.Duration { return max(time.Duration(x.PreRoll), 0) }

// defaults fills empty fields with their defaults.
func (x Live) defaults(c Config) Live {
	if x.MaxSessions == 0 {
		x.MaxSessions = DefaultLiveMaxSessions
	}
	if x.IdleRelease == 0 {
		x.IdleRelease = Duration(DefaultIdleRelease)
	}
	if x.PreRoll == 0 {
		x.PreRoll = Duration(DefaultPreRoll)
	}
	if x.HistoryEvents == 0 {
		x.HistoryEvents = 10000
	}
	if x.ViewerBuffer == 0 {
		x.ViewerBuffer = 256
	}
	if x.QueueAudio == 0 {
		x.QueueAudio = Duration(5 * time.Second)
	}
	if x.ResumeOnRestart == nil {
		t := true
		x.ResumeOnRestart = &t
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x Live) validate() []error {
	var errs []error
	if x.MaxSessions < 1 || x.MaxSessions > 10000 {
		errs = append(errs, fmt.Errorf("config: live.max_sessions %d: want 1 to 10000", x.MaxSessions))
	}
	if x.AutoStopAfter < 0 {
		errs = append(errs, fmt.Errorf("config: live.auto_stop_after %v: want 0 (never) or more", time.Duration(x.AutoStopAfter)))
	}
	if time.Duration(x.PreRoll) > MaxPreRoll {
		errs = append(errs, fmt.Errorf("config: live.pre_roll %v: at most %v", time.Duration(x.PreRoll), MaxPreRoll))
	}
	if x.HistoryEvents < 1 || x.HistoryEvents > 1_000_000 {
		errs = append(errs, fmt.Errorf("config: live.history_events %d: want 1 to 1000000", x.HistoryEvents))
	}
	if x.ViewerBuffer < 1 || x.ViewerBuffer > 100_000 {
		errs = append(errs, fmt.Errorf("config: live.viewer_buffer %d: want 1 to 100000", x.ViewerBuffer))
	}
	if d := time.Duration(x.IdleRelease); d > 0 && d < time.Second {
		errs = append(errs, fmt.Errorf("config: live.idle_release %v: want at least 1s (or negative: never)", d))
	}
	if q := time.Duration(x.QueueAudio); q < 100*time.Millisecond || q > 5*time.Minute {
		errs = append(errs, fmt.Errorf("config: live.queue_audio %v: want 100ms to 5m", q))
	}
	return errs
}

// applyEnv reads this section's IZWI_* variables.
func (x *Live) applyEnv(e envReader) {
	e.Int("IZWI_LIVE_MAX_SESSIONS", &x.MaxSessions)
	e.Duration("IZWI_LIVE_AUTO_STOP_AFTER", &x.AutoStopAfter)
	e.Duration("IZWI_LIVE_PRE_ROLL", &x.PreRoll)
	e.Int("IZWI_LIVE_HISTORY_EVENTS", &x.HistoryEvents)
	e.Int("IZWI_LIVE_VIEWER_BUFFER", &x.ViewerBuffer)
	e.Duration("IZWI_LIVE_QUEUE_AUDIO", &x.QueueAudio)
	e.Duration("IZWI_LIVE_IDLE_RELEASE", &x.IdleRelease)
	e.String("IZWI_LIVE_PUBLIC_URL", &x.PublicURL)
	if _, ok := e.get("IZWI_LIVE_RESUME_ON_RESTART"); ok {
		var b bool
		e.Bool("IZWI_LIVE_RESUME_ON_RESTART", &b)
		x.ResumeOnRestart = &b
	}
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Live) envVars() []string {
	return []string{"IZWI_LIVE_MAX_SESSIONS", "IZWI_LIVE_AUTO_STOP_AFTER", "IZWI_LIVE_PRE_ROLL",
		"IZWI_LIVE_HISTORY_EVENTS", "IZWI_LIVE_VIEWER_BUFFER", "IZWI_LIVE_QUEUE_AUDIO", "IZWI_LIVE_IDLE_RELEASE", "IZWI_LIVE_RESUME_ON_RESTART", "IZWI_LIVE_PUBLIC_URL"}
}
