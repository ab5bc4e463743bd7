package audio

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
)

// manifestDurations reads the "| utterance | seconds | reference |" table
// of shared/models/MANIFEST.md, returning seconds and the tolerance implied
// by the number of decimals written.
func manifestDurations(t *testing.T) map[string][2]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(testdata.ModelsDir(t), "MANIFEST.md"))
	if err != nil {
		t.Fatalf("manifest: %v", err)
	}
	defer f.Close()
	out := map[string][2]float64{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		cells := strings.Split(strings.Trim(sc.Text(), "| "), "|")
		if len(cells) != 3 {
			continue
		}
		id, sec := strings.TrimSpace(cells[0]), strings.TrimSpace(cells[1])
		v, err := strconv.ParseFloat(sec, 64)
		if err != nil {
			continue
		}
		decimals := 0
		if _, frac, ok := strings.Cut(sec, "."); ok {
			decimals = len(frac)
		}
		out[id] = [2]float64{v, 0.5*math.Pow(10, -float64(decimals)) + 1.0/16000}
	}
	return out
}

func TestRealDataWAVAndFLACTwinsMatch(t *testing.T) {
	durs := manifestDurations(t)
	utts := testdata.Utterances(t)
	flacs := 0
	for _, u := range utts {
		w, err := DecodeFile(u.WAV, Limits{})
		if err != nil {
			t.Fatalf("%s: wav: %v", u.ID, err)
		}
		if w.SampleRate != 16000 || w.Channels != 1 || w.Format != "wav/pcm16" {
			t.Errorf("%s: wav decoded as %d Hz × %d %s, want 16000 × 1 wav/pcm16", u.ID, w.SampleRate, w.Channels, w.Format)
		}
		want, ok := durs[u.ID]
		if !ok {
			t.Fatalf("%s: no duration in the manifest", u.ID)
		}
		if got := w.Duration().Seconds(); math.Abs(got-want[0]) > want[1] {
			t.Errorf("%s: duration %.4f s, manifest says %.3f s (±%.4f)", u.ID, got, want[0], want[1])
		}
		if u.FLAC == "" {
			continue
		}
		flacs++
		fl, err := DecodeFile(u.FLAC, Limits{})
		if err != nil {
			t.Fatalf("%s: flac: %v", u.ID, err)
		}
		if fl.SampleRate != 16000 || fl.Channels != 1 || fl.Format != "flac/16" {
			t.Errorf("%s: flac decoded as %d Hz × %d %s", u.ID, fl.SampleRate, fl.Channels, fl.Format)
		}
		if len(fl.Samples) != len(w.Samples) {
			t.Fatalf("%s: flac has %d samples, wav %d", u.ID, len(fl.Samples), len(w.Samples))
		}
		for i := range w.Samples {
			if w.Samples[i] != fl.Samples[i] {
				t.Fatalf("%s: sample %d differs: wav %v, flac %v", u.ID, i, w.Samples[i], fl.Samples[i])
			}
		}
	}
	if flacs != 14 {
		t.Errorf("compared %d FLAC twins, the manifest lists 14", flacs)
	}
}
