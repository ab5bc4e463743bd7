package live

import (
	"crypto/sha256"
	"fmt"
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
// engine of a chain, or the engine's own.
func contextReports(rec speech.Recognizer, text string) []speech.ContextReport {
	switch r := rec.(type) {
	case interface {
		ContextReports(string) []speech.ContextReport
	}:
		return r.ContextReports(text)
	case speech.ContextReporter:
		if rep, ok := r.ContextReport(text); ok {
			return []speech.ContextReport{rep}
		}
	}
	return nil
}

// contextInfo describes text for the API (nil when there is none).
func (m *Manager) contextInfo(text string) *ContextInfo {
	if text == "" {
		return nil
	}
	return &ContextInfo{Bytes: len(text), SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte(text))),
		Engines: contextReports(m.rec, text)}
}
