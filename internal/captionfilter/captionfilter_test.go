package captionfilter

import (
	"testing"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/store/storetest"
	"github.com/izwi-speech/izwi/internal/wordfilter"
)

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func caption(text string, final bool, words ...live.Word) live.Event {
	return live.Event{Type: live.TypeCaption, SessionID: "ses_a", Final: final, Text: text, Words: words}
}

func TestApplyDefaultsAndSettings(t *testing.T) {
	path := storetest.Database(t)
	f, err := New(t.Context(), openStore(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Defaults: formatted, profanity masked.
	if got := f.Apply("ses_a", caption("what the fuck is this", true)).Text; got != "What the **** is this." {
		t.Errorf("defaults: %q", got)
	}
	if got := f.Apply("ses_a", caption("what the fuck", false)).Text; got != "What the ****" {
		t.Errorf("a partial: %q", got)
	}
	// Other events pass untouched.
	if e := f.Apply("ses_a", live.Event{Type: live.TypeState, Text: "fuck"}); e.Text != "fuck" {
		t.Errorf("a state event was changed: %q", e.Text)
	}
	// Words carry times through a replacement and a sentence break.
	e := f.Apply("ses_a", caption("thank you monika", true, live.Word{Word: "thank", Start: 0, End: 0.3},
		live.Word{Word: "you", Start: 0.4, End: 0.6}, live.Word{Word: "monika", Start: 1.6, End: 2}))
	if e.Text != "Thank you. Monika." || len(e.Words) != 3 || e.Words[1].Word != "you." {
		t.Errorf("words: %q %+v", e.Text, e.Words)
	}

	s := Settings{Format: false, Profanity: false, Replace: []wordfilter.Rule{{Find: "monika", Replace: "Monica"}}}
	if err := f.Set(t.Context(), "ses_a", s); err != nil {
		t.Fatal(err)
	}
	if got := f.Apply("ses_a", caption("fuck monika", true)).Text; got != "fuck Monica" {
		t.Errorf("settings: %q", got)
	}
	if got := f.Apply("ses_b", caption("monika", true)).Text; got != "Monika." {
		t.Errorf("another session: %q", got)
	}
	if err := f.Set(t.Context(), "ses_a", Settings{Replace: []wordfilter.Rule{{Find: "", Replace: "x"}}}); err == nil {
		t.Error("Set accepted an empty find")
	}

	// The settings survive a restart (a new Filters on the same store).
	f2, err := New(t.Context(), openStore(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f2.Apply("ses_a", caption("fuck monika", true)).Text; got != "fuck Monica" {
		t.Errorf("after a restart: %q", got)
	}
	if got, err := f2.Get(t.Context(), "ses_a"); err != nil || got.Format || len(got.Replace) != 1 {
		t.Errorf("Get: %+v, %v", got, err)
	}
	if err := f2.Forget(t.Context(), "ses_a"); err != nil {
		t.Fatal(err)
	}
	if got := f2.Apply("ses_a", caption("monika", true)).Text; got != "Monika." {
		t.Errorf("after Forget: %q", got)
	}
}

// Two processes on one database: a change made through one reaches the
// other's cache by its Changed notice (Reload), or, if the notice is lost,
// by the next Refresh; a forgotten session falls back to the defaults.
func TestSettingsAcrossProcesses(t *testing.T) {
	path := storetest.Database(t)
	var notices []string
	a, err := New(t.Context(), openStore(t, path), Options{Changed: func(id string) { notices = append(notices, id) }})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(t.Context(), openStore(t, path), Options{})
	if err != nil {
		t.Fatal(err)
	}
	plain := Settings{Replace: []wordfilter.Rule{{Find: "monika", Replace: "Monica"}}}
	if err := a.Set(t.Context(), "ses_a", plain); err != nil {
		t.Fatal(err)
	}
	if len(notices) != 1 || notices[0] != "ses_a" {
		t.Fatalf("notices %q", notices)
	}
	if got := b.Apply("ses_a", caption("monika", true)).Text; got != "Monika." {
		t.Fatalf("b changed before any notice: %q", got)
	}
	if err := b.Reload(t.Context(), "ses_a"); err != nil {
		t.Fatal(err)
	}
	if got := b.Apply("ses_a", caption("monika", true)).Text; got != "Monica" {
		t.Fatalf("after Reload: %q", got)
	}
	// A lost notice: Refresh reads what changed since its last look.
	if err := a.Set(t.Context(), "ses_b", plain); err != nil {
		t.Fatal(err)
	}
	if err := b.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := b.Apply("ses_b", caption("monika", true)).Text; got != "Monica" {
		t.Fatalf("after Refresh: %q", got)
	}
	if err := a.Forget(t.Context(), "ses_a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Reload(t.Context(), "ses_a"); err != nil {
		t.Fatal(err)
	}
	if got := b.Apply("ses_a", caption("monika", true)).Text; got != "Monika." {
		t.Fatalf("after Forget elsewhere: %q", got)
	}
}
