package live

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/speech"
)

// A session's prepared text lives on its session struct only: never in the
// record, the audit log or a log line (it is words), never on disk — a
// resumed session after a restart has none until it is given again. The
// recognizer adapts to it when the pipeline opens a stream, and shares the
// adaptation between streams with the same text.

// checkContext validates prepared text from a request; nil means none.
func checkContext(p *PreparedText) (string, error) {
	if p == nil {
		return "", nil
	}
	if len(p.Text) > prepare.MaxTextBytes {
		return "", fmt.Errorf("%w: context.text is %d bytes, at most %d", ErrBadConfig, len(p.Text), prepare.MaxTextBytes)
	}
	if !utf8.ValidString(p.Text) {
		return "", fmt.Errorf("%w: context.text must be UTF-8 text", ErrBadConfig)
	}
	return p.Text, nil
}

// contextReports is what the recognizer made of text: one report per
// engine of a chain, or the engine's own; complete is false while an
// engine that adapts to prepared text has no report yet.
func contextReports(rec speech.Recognizer, text string) ([]speech.ContextReport, bool) {
	switch r := rec.(type) {
	case interface {
		ContextReports(string) ([]speech.ContextReport, bool)
	}:
		return r.ContextReports(text)
	case speech.ContextReporter:
		if rep, ok := r.ContextReport(text); ok {
			return []speech.ContextReport{rep}, true
		}
		return nil, false
	}
	return nil, true // an engine that ignores prepared text reports nothing
}

// setContext replaces s's prepared text. The caller holds s.mu (or owns
// s alone, before it is shared).
func (s *session) setContext(text string) {
	s.context, s.contextInfo, s.contextReported, s.contextAsked = text, nil, false, time.Time{}
	if text != "" {
		s.contextInfo = &ContextInfo{Bytes: len(text), SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte(text)))}
	}
}

// reportEvery bounds how often a session asks its engines what they made
// of its prepared text while one has not answered (a chain's fallback
// answers only once it has served the session).
const reportEvery = 5 * time.Second

// contextInfoLocked describes s's prepared text for the API (nil when it
// has none): its size and hash, computed once when it was set, and what
// each engine made of it, asked until every engine has answered (the
// answers do not change for the same text), at most every reportEvery.
// The caller holds s.mu.
func (m *Manager) contextInfoLocked(s *session) *ContextInfo {
	if s.contextInfo == nil {
		return nil
	}
	if now := m.now(); !s.contextReported && m.pipes.rec != nil && now.Sub(s.contextAsked) >= reportEvery {
		s.contextInfo.Engines, s.contextReported = contextReports(m.pipes.rec, s.context)
		s.contextAsked = now
	}
	c := *s.contextInfo
	c.Engines = slices.Clone(c.Engines)
	return &c
}
