package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
	"github.com/izwi-speech/izwi/internal/wer"
)

// `izwi transcribe --context notes.md` on speaker 1089's four utterances:
// the notes (their references hidden in Debian's GPL-3 text, fifteen times
// longer, written as Markdown) at least halve the corpus WER of the same
// command without them. A context file that is not what it claims exits
// 3 and names the file.
func TestTranscribeWithContext(t *testing.T) {
	var files, refs []string
	for _, u := range testdata.Utterances(t) {
		if u.Speaker == "1089" {
			files = append(files, u.WAV)
			refs = append(refs, u.Reference)
		}
	}
	gpl, err := os.ReadFile(testenv.Exists(t, "/usr/share/common-licenses/GPL-3", "Debian's base-files"))
	if err != nil {
		t.Fatal(err)
	}
	half := len(gpl) / 2
	notes := "# Order of service\n\n" + string(gpl[:half]) + "\n\n## Readings\n\n* " + strings.Join(refs, "\n* ") + "\n\n" + string(gpl[half:])
	dir := t.TempDir()
	notesPath := filepath.Join(dir, "notes.md")
	if err := os.WriteFile(notesPath, []byte(notes), 0o600); err != nil {
		t.Fatal(err)
	}
	corpus := func(args ...string) float64 {
		t.Helper()
		r := run(t, nil, append(append([]string{"transcribe"}, args...), files...)...)
		if r.code != 0 {
			t.Fatalf("transcribe %v: exit %d: %s", args, r.code, r.stderr)
		}
		parts := strings.Split(r.stdout, "==> ")[1:]
		if len(parts) != len(files) {
			t.Fatalf("%d blocks for %d files:\n%s", len(parts), len(files), r.stdout)
		}
		var total wer.Errors
		for i, p := range parts {
			_, body, _ := strings.Cut(p, " <==\n")
			total.Add(wer.Compute(refs[i], body))
		}
		return total.Rate()
	}
	plain := corpus()
	prepared := corpus("--context", notesPath)
	t.Logf("corpus WER without notes %.3f, with notes %.3f", plain, prepared)
	if prepared > plain/2 {
		t.Errorf("with notes WER %.3f, want at most half of %.3f", prepared, plain)
	}
	bad := filepath.Join(dir, "notes.pdf")
	if err := os.WriteFile(bad, []byte("%PDF-1.4 not really"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "transcribe", "--context", bad, files[0])
	if r.code != exitInput || !strings.Contains(r.stderr, "notes.pdf") {
		t.Errorf("a broken context file: exit %d, stderr %q; want %d naming it", r.code, r.stderr, exitInput)
	}
	r = run(t, nil, "transcribe", "--context", filepath.Join(dir, "missing.txt"), files[0])
	if r.code != exitInput {
		t.Errorf("a missing context file: exit %d, want %d", r.code, exitInput)
	}
}
