// Package captionfilter owns each live session's caption settings — the
// formatter on or off, profanity masking on or off, the replacement list —
// and applies them to every caption the session publishes, before viewers,
// outputs or the kept transcript see it (docs/captions.md). Settings are
// kept in the store and cached in memory, so applying them on the
// pipeline's goroutine never touches the database.
package captionfilter

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/wordfilter"
)

// Settings are one session's caption settings. A session that never set
// them gets Defaults.
type Settings struct {
	// Format applies the rule-based formatter (sentence case and
	// punctuation where the engine gave none).
	Format bool `json:"format"`
	// Profanity masks profane words with asterisks.
	Profanity bool `json:"profanity_filter"`
	// Replace is the replacement list (names the engine mishears).
	Replace []wordfilter.Rule `json:"replace"`
}

// Defaults: formatted, profanity masked, no replacements.
func Defaults() Settings {
	return Settings{Format: true, Profanity: true, Replace: []wordfilter.Rule{}}
}

// compiled is a session's settings, ready to apply.
type compiled struct {
	format bool
	filter *wordfilter.Filter
}

func compile(s Settings) (compiled, error) {
	f, err := wordfilter.New(wordfilter.Config{Replace: s.Replace, Profanity: s.Profanity})
	if err != nil {
		return compiled{}, err
	}
	return compiled{format: s.Format, filter: f}, nil
}

// Options are what New needs besides the store.
type Options struct {
	// Changed, if set, is called with a session's id after this process
	// set or forgot its settings, so the other processes sharing the
	// database Reload them (cmd/izwi sends it as a bus notice). It must
	// not block.
	Changed func(sessionID string)
}

// Filters holds every session's settings. Safe for concurrent use.
type Filters struct {
	st      *store.Store
	now     func() time.Time
	def     compiled
	changed func(string)
	// refreshed is the updated_at (UnixNano) Refresh reads from next.
	refreshed atomic.Int64

	mu       sync.RWMutex // guards sessions; never held during I/O
	sessions map[string]compiled
}

// migrations are the captionfilter table (component "captionfilter").
var migrations = store.Portable(`
CREATE TABLE captionfilter_sessions (
	session_id TEXT PRIMARY KEY,
	settings   TEXT NOT NULL,      -- Settings as JSON (no words spoken: the operator's choices)
	updated_at INTEGER NOT NULL
);`,
	// Refresh reads the rows changed since its last look.
	`CREATE INDEX captionfilter_sessions_updated ON captionfilter_sessions(updated_at)`)

// Migrate brings the captionfilter table in st to this binary's schema
// (New does it; izwi migrate prepares a new database with it).
func Migrate(ctx context.Context, st *store.Store) error {
	return st.Migrate(ctx, "captionfilter", migrations)
}

// New migrates the table and loads every session's settings.
func New(ctx context.Context, st *store.Store, opts Options) (*Filters, error) {
	if err := Migrate(ctx, st); err != nil {
		return nil, fmt.Errorf("captionfilter: %w", err)
	}
	def, _ := compile(Defaults())
	f := &Filters{st: st, now: time.Now, def: def, changed: opts.Changed, sessions: map[string]compiled{}}
	if err := f.load(ctx, "SELECT session_id, settings, updated_at FROM captionfilter_sessions"); err != nil {
		return nil, err
	}
	return f, nil
}

// refreshSlack widens Refresh's look back: updated_at comes from the
// writing process's clock, which may run behind this one's.
const refreshSlack = time.Minute

// Refresh re-reads the settings other processes changed since the last
// look (an indexed read of the changed rows only): the fallback for the
// Changed notices a down bus loses. Call it every few seconds.
func (f *Filters) Refresh(ctx context.Context) error {
	return f.load(ctx, "SELECT session_id, settings, updated_at FROM captionfilter_sessions WHERE updated_at >= ?",
		f.refreshed.Load()-int64(refreshSlack))
}

// Reload re-reads one session's settings (another process changed them).
func (f *Filters) Reload(ctx context.Context, sessionID string) error {
	s, ok, err := f.read(ctx, sessionID)
	if err != nil {
		return err
	}
	var c compiled
	if ok {
		if c, err = compile(s); err != nil {
			return fmt.Errorf("captionfilter: session %s: %w", sessionID, err)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if ok {
		f.sessions[sessionID] = c
	} else {
		delete(f.sessions, sessionID)
	}
	return nil
}

// load compiles the rows query returns into the cache (I/O first, the
// lock only for the map).
func (f *Filters) load(ctx context.Context, query string, args ...any) error {
	rows, err := f.st.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("captionfilter: %w", err)
	}
	defer rows.Close()
	got := map[string]compiled{}
	latest := f.refreshed.Load()
	for rows.Next() {
		var id, raw string
		var at int64
		if err := rows.Scan(&id, &raw, &at); err != nil {
			return fmt.Errorf("captionfilter: %w", err)
		}
		var s Settings
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			return fmt.Errorf("captionfilter: session %s: %w", id, err)
		}
		c, err := compile(s)
		if err != nil {
			return fmt.Errorf("captionfilter: session %s: %w", id, err)
		}
		got[id] = c
		latest = max(latest, at)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("captionfilter: %w", err)
	}
	f.mu.Lock()
	maps.Copy(f.sessions, got)
	f.mu.Unlock()
	f.refreshed.Store(latest)
	return nil
}

// Get returns a session's settings.
func (f *Filters) Get(ctx context.Context, sessionID string) (Settings, error) {
	s, ok, err := f.read(ctx, sessionID)
	if !ok && err == nil {
		return Defaults(), nil
	}
	return s, err
}

// read returns a session's stored settings; ok is false when it has none.
func (f *Filters) read(ctx context.Context, sessionID string) (Settings, bool, error) {
	var raw string
	err := f.st.QueryRowContext(ctx, "SELECT settings FROM captionfilter_sessions WHERE session_id = ?", sessionID).Scan(&raw)
	if err == sql.ErrNoRows {
		return Settings{}, false, nil
	}
	if err != nil {
		return Settings{}, false, fmt.Errorf("captionfilter: %w", err)
	}
	var s Settings
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return Settings{}, false, fmt.Errorf("captionfilter: %w", err)
	}
	if s.Replace == nil {
		s.Replace = []wordfilter.Rule{}
	}
	return s, true, nil
}

// Set validates and stores a session's settings; the next caption uses
// them.
func (f *Filters) Set(ctx context.Context, sessionID string, s Settings) error {
	c, err := compile(s)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("captionfilter: %w", err)
	}
	if _, err := f.st.ExecContext(ctx, `INSERT INTO captionfilter_sessions (session_id, settings, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (session_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at`,
		sessionID, string(raw), f.now().UnixNano()); err != nil {
		return fmt.Errorf("captionfilter: %w", err)
	}
	f.mu.Lock()
	f.sessions[sessionID] = c
	f.mu.Unlock()
	if f.changed != nil {
		f.changed(sessionID)
	}
	return nil
}

// Forget deletes a session's settings (the session was deleted).
func (f *Filters) Forget(ctx context.Context, sessionID string) error {
	f.mu.Lock()
	delete(f.sessions, sessionID)
	f.mu.Unlock()
	if _, err := f.st.ExecContext(ctx, "DELETE FROM captionfilter_sessions WHERE session_id = ?", sessionID); err != nil {
		return fmt.Errorf("captionfilter: %w", err)
	}
	if f.changed != nil {
		f.changed(sessionID)
	}
	return nil
}

// Apply returns caption e as the session's settings show it: formatted,
// then filtered. Other events pass unchanged. It never blocks.
func (f *Filters) Apply(sessionID string, e live.Event) live.Event {
	if e.Type != live.TypeCaption || e.Text == "" && len(e.Words) == 0 {
		return e
	}
	f.mu.RLock()
	c, ok := f.sessions[sessionID]
	f.mu.RUnlock()
	if !ok {
		c = f.def
	}
	return c.apply(e)
}

func (c compiled) apply(e live.Event) live.Event {
	if !c.format && c.filter.Empty() {
		return e
	}
	secs := func(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
	words := make([]wordfilter.Token, len(e.Words))
	for i, w := range e.Words {
		words[i] = wordfilter.Token{Text: w.Word, Start: secs(w.Start), End: secs(w.End), Confidence: w.Confidence}
	}
	if len(words) > 0 && len(words) == len(strings.Fields(e.Text)) {
		// The usual case: the text is the words, so the words' times
		// place sentence breaks and carry through replacements.
		words = c.filter.Caption(words, c.format, e.Final)
		e.Text = wordfilter.Join(words)
	} else {
		e.Text = wordfilter.Join(c.filter.Caption(wordfilter.Tokens(e.Text), c.format, e.Final))
		words = c.filter.Apply(words) // no profanity survives in the words either
	}
	if len(e.Words) > 0 {
		e.Words = make([]live.Word, len(words))
		for i, t := range words {
			e.Words[i] = live.Word{Word: t.Text, Start: t.Start.Seconds(), End: t.End.Seconds(), Confidence: t.Confidence}
		}
	}
	return e
}
