package live

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testenv"
)

// sessionWER runs one live session over u's audio with the given create
// request and returns the WER of its finals and its Info after the run.
func sessionWER(t *testing.T, m *Manager, id, ref string, audio []float32) float64 {
	t.Helper()
	_, next := watch(t, m, id, 0)
	in, err := m.Attach(t.Context(), "k", id, "test")
	if err != nil {
		t.Fatal(err)
	}
	push(t, in.Write, audio)
	push(t, in.Write, make([]float32, 16000))
	if err := in.Finalize(); err != nil {
		t.Fatal(err)
	}
	// Live endpointing cuts a reading at its pauses: wait for the final
	// that reaches its last second.
	end := float64(len(audio))/16000 - 1
	evs := next("the last final", func(evs []Event) bool {
		for _, e := range evs {
			if e.Type == TypeCaption && e.Final && e.Text != "" && e.End >= end {
				return true
			}
		}
		return false
	})
	in.Close()
	r, hyp := werOf(ref, finalsOf(evs))
	t.Logf("WER %.3f: %q", r, hyp)
	return r
}

// A live session given the service sheet (the reading hidden in unrelated
// text fifteen times longer) captions the reading with at most half the
// errors of one without; the session view reports what the engine made of
// the text; the text reaches no file of the data directory; an update
// replaces it and an empty one removes it.
func TestPreparedTextInLiveSession(t *testing.T) {
	gpl, err := os.ReadFile(testenv.Exists(t, "/usr/share/common-licenses/GPL-3", "Debian's base-files"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	m := e.manager(bigQueue)
	// Speaker 1089's longest utterance: its reading, hidden in the GPL,
	// is recognised word for word from a file (cmd/izwi
	// TestTranscribeWithContext); the live path must keep that gain.
	u := utterance(t, "1089-134686-0000")
	audio := samples(t, u)
	const marker = "Thandeka Mbeki reads the lesson"
	sheet := string(gpl[:len(gpl)/2]) + "\n" + marker + ".\n" + u.Reference + ".\n" + string(gpl[len(gpl)/2:])

	plain, err := m.Create(t.Context(), "k", CreateRequest{Label: "plain", Start: true})
	if err != nil {
		t.Fatal(err)
	}
	plainWER := sessionWER(t, m, plain.ID, u.Reference, audio)

	prep, err := m.Create(t.Context(), "k", CreateRequest{Label: "prepared", Start: true, Context: &PreparedText{Text: sheet}})
	if err != nil {
		t.Fatal(err)
	}
	prepWER := sessionWER(t, m, prep.ID, u.Reference, audio)
	if plainWER < 0.1 || prepWER > plainWER/2 {
		t.Errorf("WER without the sheet %.3f, with it %.3f; want at most half", plainWER, prepWER)
	}
	// The engine answers once its stream has used the text; the session
	// asks again at most every reportEvery.
	e.clk.Advance(reportEvery)
	info, err := m.Get(t.Context(), "k", prep.ID)
	if err != nil {
		t.Fatal(err)
	}
	c := info.Context
	if c == nil || c.Bytes != len(sheet) || len(c.SHA256) != 64 || len(c.Engines) != 1 || c.Engines[0].Words < 500 || c.Engines[0].NGrams == 0 {
		t.Fatalf("session view of the prepared text: %+v", c)
	}
	if i, _ := m.Get(t.Context(), "k", plain.ID); i.Context != nil {
		t.Errorf("a session without prepared text reports %+v", i.Context)
	}

	// Replace while live, then remove.
	if info, err = m.Update(t.Context(), "k", prep.ID, UpdateRequest{Context: &PreparedText{Text: "Psalm 23. The Lord is my shepherd."}}); err != nil || info.Context == nil || info.Context.Bytes != 34 {
		t.Fatalf("replacing the text: %+v %v", info.Context, err)
	}
	if info, err = m.Update(t.Context(), "k", prep.ID, UpdateRequest{Context: &PreparedText{}}); err != nil || info.Context != nil {
		t.Fatalf("removing the text: %+v %v", info.Context, err)
	}
	if _, err := m.Update(t.Context(), "k", prep.ID, UpdateRequest{Context: &PreparedText{Text: strings.Repeat("x", 1<<20+1)}}); err == nil {
		t.Error("a text over 1 MiB was accepted")
	}
	if _, err := m.Create(t.Context(), "k", CreateRequest{Context: &PreparedText{Text: "\xff\xfe"}}); err == nil {
		t.Error("prepared text that is not UTF-8 was accepted")
	}

	// Nothing of the text reached the data directory (database and WAL).
	files := 0
	err = filepath.WalkDir(e.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, needle := range []string{"Thandeka", "Mbeki", "lesson"} {
			if bytes.Contains(b, []byte(needle)) {
				t.Errorf("%s holds %q from the prepared text", p, needle)
			}
		}
		return nil
	})
	if err != nil || files == 0 {
		t.Fatalf("walked %d files: %v", files, err)
	}
}
