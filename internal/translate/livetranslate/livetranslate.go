// Package livetranslate owns live translation of caption feeds: the target
// languages each session was created with (kept in the store: codes only,
// never words) and the translated feed a viewer gets with ?lang=, which
// carries the source feed's events in order with each final caption (and,
// when configured, each partial) translated through translate.Service.
// Translated captions keep their Seq, Segment (a correction replaces the
// line it corrects), Start, End and source Words, and say their language
// in Lang; when translation fails the source text stands in, in the source
// language. Translations live in memory only (the service's cache).
// The session's owner (live.Info.Owner) pays for its translations: feeds
// and tracks translate under translate.WithPayer(ctx, info.Owner).
package livetranslate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/translate"
)

// Translator is what a feed needs of the translation role
// (*translate.Service).
type Translator interface {
	Check(from string, targets []string) ([]string, error)
	Translate(ctx context.Context, p translate.Pair, text string) translate.Result
}

var _ Translator = (*translate.Service)(nil)

// Options configure a Service.
type Options struct {
	Translator Translator
	// Store keeps each session's target languages.
	Store *store.Store
	// Partials translates partial captions too (each partial is an engine
	// call); off, a translated feed carries finals only.
	Partials bool
	// DefaultSource is the language of a session that names none ("en").
	DefaultSource string
	Logger        *slog.Logger
}

// Service is live translation. Safe for concurrent use.
type Service struct {
	tr       Translator
	db       store.Querier
	partials bool
	source   string
	log      *slog.Logger

	mu    sync.Mutex
	langs map[string][]string // cache of the table, by session id
}

// ErrNotOffered means a feed asked for a language its session was not
// created with.
var ErrNotOffered = errors.New("livetranslate: the session does not offer this language")

var migrations = store.Same(
	`CREATE TABLE translate_sessions (session_id TEXT PRIMARY KEY, langs TEXT NOT NULL)`,
)

// Migrate brings st's translate_sessions table to this binary's schema
// (New does it too; izwi migrate runs it on both sides of a copy).
func Migrate(ctx context.Context, st *store.Store) error {
	if err := st.Migrate(ctx, "translate", migrations); err != nil {
		return fmt.Errorf("livetranslate: %w", err)
	}
	return nil
}

// New migrates the service's table and returns the service.
func New(ctx context.Context, opts Options) (*Service, error) {
	if opts.Translator == nil || opts.Store == nil {
		return nil, errors.New("livetranslate: Translator and Store are required")
	}
	if err := Migrate(ctx, opts.Store); err != nil {
		return nil, err
	}
	if opts.DefaultSource == "" {
		opts.DefaultSource = "en"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	return &Service{tr: opts.Translator, db: opts.Store, partials: opts.Partials, source: opts.DefaultSource,
		log: opts.Logger, langs: map[string][]string{}}, nil
}

// Source is the language a session's captions are in.
func (s *Service) Source(sessionLanguage string) string {
	if l, ok := translate.NormLang(sessionLanguage); ok {
		return l
	}
	return s.source
}

// Prepare checks a new session's targets against the engines and returns
// them normalised. Its error wraps translate.ErrUnsupported.
func (s *Service) Prepare(_ context.Context, sessionLanguage string, targets []string) ([]string, error) {
	if len(targets) > 16 {
		return nil, fmt.Errorf("%w: at most 16 target languages", translate.ErrUnsupported)
	}
	return s.tr.Check(s.Source(sessionLanguage), targets)
}

// Set records session id's targets (none: forget the session).
func (s *Service) Set(ctx context.Context, id string, langs []string) error {
	var err error
	if len(langs) == 0 {
		_, err = s.db.ExecContext(ctx, `DELETE FROM translate_sessions WHERE session_id = ?`, id)
	} else {
		_, err = s.db.ExecContext(ctx, `INSERT INTO translate_sessions(session_id, langs) VALUES(?, ?)
			ON CONFLICT(session_id) DO UPDATE SET langs = excluded.langs`, id, strings.Join(langs, ","))
	}
	if err != nil {
		return fmt.Errorf("livetranslate: set: %w", err)
	}
	s.mu.Lock()
	s.langs[id] = slices.Clone(langs)
	s.mu.Unlock()
	return nil
}

// Langs returns session id's targets (nil: none).
func (s *Service) Langs(ctx context.Context, id string) ([]string, error) {
	s.mu.Lock()
	l, ok := s.langs[id]
	s.mu.Unlock()
	if ok {
		return slices.Clone(l), nil
	}
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT langs FROM translate_sessions WHERE session_id = ?`, id).Scan(&v)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		l = nil
	case err != nil:
		return nil, fmt.Errorf("livetranslate: langs: %w", err)
	default:
		l = strings.Split(v, ",")
	}
	s.mu.Lock()
	if len(s.langs) > 100000 { // a bound, not an expected size
		clear(s.langs)
	}
	s.langs[id] = l
	s.mu.Unlock()
	return slices.Clone(l), nil
}

// Feed turns src, the feed of session info, into its feed in lang. The
// source language itself is src unchanged; a language the session was
// not created with is ErrNotOffered. The returned feed owns src.
func (s *Service) Feed(ctx context.Context, info live.Info, lang string, src live.Feed) (live.Feed, error) {
	to, ok := translate.NormLang(lang)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrNotOffered, lang)
	}
	from := s.Source(info.Language)
	if to == from {
		return src, nil
	}
	if err := s.Offers(ctx, info, to); err != nil {
		return nil, err
	}
	return newFeed(translate.WithPayer(ctx, info.Owner), s, src, translate.Pair{From: from, To: to}), nil
}

// Offers reports (nil) whether session info offers lang: its own
// language, or one it was created to translate into.
func (s *Service) Offers(ctx context.Context, info live.Info, lang string) error {
	to, ok := translate.NormLang(lang)
	if !ok {
		return fmt.Errorf("%w: %q", ErrNotOffered, lang)
	}
	if to == s.Source(info.Language) {
		return nil
	}
	langs, err := s.Langs(ctx, info.ID)
	if err != nil {
		return err
	}
	if !slices.Contains(langs, to) {
		return fmt.Errorf("%w: %s", ErrNotOffered, to)
	}
	return nil
}

// Track is a kept transcript's captions in lang, for an export's
// per-language track (?lang= on GET /v1/sessions/{id}/transcript):
// translated now, in memory, never stored. A language the session does
// not offer is ErrNotOffered; its own language returns evs as they are.
func (s *Service) Track(ctx context.Context, info live.Info, lang string, evs []live.Event) ([]live.Event, error) {
	if err := s.Offers(ctx, info, lang); err != nil {
		return nil, err
	}
	to, _ := translate.NormLang(lang)
	from := s.Source(info.Language)
	if to == from {
		return evs, nil
	}
	ctx = translate.WithPayer(ctx, info.Owner)
	out := make([]live.Event, len(evs))
	for i, e := range evs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out[i] = e
		if e.Type == live.TypeCaption || e.Type == "" {
			out[i] = Translated(ctx, s.tr, translate.Pair{From: from, To: to}, e)
		}
	}
	return out, nil
}
