package live

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/speech"
)

// checkHotwords validates hotwords and asks the engine whether it can
// honour them (PocketSphinx must be able to spell each word).
func (m *Manager) checkHotwords(ctx context.Context, hw []string) ([]string, error) {
	if len(hw) > MaxHotwords {
		return nil, fmt.Errorf("%w: at most %d hotwords", ErrBadConfig, MaxHotwords)
	}
	out := make([]string, 0, len(hw))
	for i, w := range hw {
		w = strings.TrimSpace(w)
		if w == "" || len(w) > MaxHotwordBytes || !utf8.ValidString(w) || strings.ContainsFunc(w, isControl) {
			return nil, fmt.Errorf("%w: hotword #%d must be 1 to %d bytes of text", ErrBadConfig, i+1, MaxHotwordBytes)
		}
		out = append(out, w)
	}
	if len(out) == 0 {
		return nil, nil
	}
	if rec := m.pipes.rec; rec != nil {
		st, err := rec.NewStream(ctx, speech.StreamOptions{Hotwords: out})
		if err != nil {
			if errors.Is(err, speech.ErrUnsupported) {
				return nil, fmt.Errorf("%w: %w", ErrBadConfig, err)
			}
			return nil, fmt.Errorf("live: checking hotwords: %w", err)
		}
		st.Close()
	}
	return out, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func checkLabel(l string) error {
	if len(l) > MaxLabel || !utf8.ValidString(l) || strings.ContainsFunc(l, isControl) {
		return fmt.Errorf("%w: label must be at most %d bytes of text", ErrBadConfig, MaxLabel)
	}
	return nil
}

func checkLanguage(l string) error {
	if len(l) > maxLanguage || strings.ContainsFunc(l, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-')
	}) {
		return fmt.Errorf("%w: language must be a BCP 47 tag such as en-US", ErrBadConfig)
	}
	return nil
}

func checkPassword(pw string) error {
	if utf8.RuneCountInString(pw) < MinPassword || len(pw) > MaxPassword {
		return fmt.Errorf("%w: password must be %d to %d characters", ErrBadConfig, MinPassword, MaxPassword)
	}
	return nil
}

// seconds2 turns an optional seconds value into a duration in [0, limit].
func seconds2(v *float64, def, limit time.Duration, name string) (time.Duration, error) {
	if v == nil {
		return def, nil
	}
	if math.IsNaN(*v) || *v < 0 || *v > limit.Seconds() {
		return 0, fmt.Errorf("%w: %s must be 0 to %v seconds", ErrBadConfig, name, limit.Seconds())
	}
	return time.Duration(*v * float64(time.Second)), nil
}
