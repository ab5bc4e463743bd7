package main

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
)

// The progress bar goes to stderr only on a terminal and only for files
// longer than progressAfter; stdout carries nothing but the transcripts.
func TestProgressBarOnlyForLongFilesOnTTY(t *testing.T) {
	var long, short string
	for _, u := range testdata.Utterances(t) {
		switch u.ID {
		case "1089-134686-0000": // 10.4 s
			long = u.WAV
		case "1089-134691-0000": // 2.1 s
			short = u.WAV
		}
	}
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, isTTY: true}
	if code := c.dispatch(t.Context(), []string{"transcribe", long, short}); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), filepath.Base(long)) || !strings.Contains(errb.String(), "%") {
		t.Fatalf("no progress bar for the long file on a TTY; stderr %q", errb.String())
	}
	if strings.Contains(errb.String(), filepath.Base(short)) {
		t.Fatalf("progress bar shown for a 2 s file; stderr %q", errb.String())
	}
	if strings.Contains(out.String(), "%|") || !strings.Contains(out.String(), "==> "+long+" <==") {
		t.Fatalf("stdout is not just the transcripts: %q", out.String())
	}
}
