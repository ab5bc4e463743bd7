package flite

import (
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/speechtest"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// TestMatchesFliteCLI checks the streamed audio against Debian's flite
// command reading the same text from a file (flite_file_to_speech, which
// splits utterances the way glue.c does). kal16 is deterministic, so the
// samples must match exactly: streaming must neither drop, repeat nor
// reorder any part of the wave, and duration_stretch must be what the
// command's --setf gives.
func TestMatchesFliteCLI(t *testing.T) {
	bin := testenv.LookPath(t, "flite", "apt-get install flite")
	s := newSynth(t, speech.Spec{})
	dir := t.TempDir()
	prose := "The weather today is cold and windy. Please call me back when you get home tonight!\n\n" +
		"How much does it cost to fly from New York to Chicago? It costs $250, said Dr. Smith."
	// A 38-word clause then a comma: glue.c ends the utterance at the comma
	// (past IZWI_SOFT_TOKENS), which the command does only at a blank line.
	clause := "when the children had finished their lunch in the garden behind the old house near the river " +
		"they ran down the hill to the bridge where their grandfather was waiting with the dog and a basket of apples"
	rest := "and then everyone walked home together in the evening light."
	for _, tc := range []struct {
		name, text, cliText string
		speeds              []float32
	}{
		{"prose", prose, prose, []float32{1, 0.5, 2}},
		{"long-clause", clause + ", " + rest, clause + ",\n\n" + rest, []float32{1}},
	} {
		in := filepath.Join(dir, tc.name+".txt")
		if err := os.WriteFile(in, []byte(tc.cliText), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, speed := range tc.speeds {
			wav := filepath.Join(dir, fmt.Sprintf("%s-%v.wav", tc.name, speed))
			cmd := exec.Command(bin, "-voice", "kal16", "--setf", fmt.Sprintf("duration_stretch=%v", 1/speed), "-f", in, "-o", wav)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("flite command: %v: %s", err, out)
			}
			want := readWAV16(t, wav)
			got, chunks := speechtest.Synthesize(t, s, speech.SynthesisRequest{Text: tc.text, Voice: "kal16", Speed: speed})
			if len(got) != len(want) {
				t.Errorf("%s, speed %v: %d samples streamed in %d chunks, flite command made %d", tc.name, speed, len(got), chunks, len(want))
				continue
			}
			for i := range got {
				if got[i] != float32(want[i])/32768 {
					t.Errorf("%s, speed %v: sample %d = %v, flite command %v", tc.name, speed, i, got[i], float32(want[i])/32768)
					break
				}
			}
		}
	}
}

// readWAV16 reads the samples of the mono 16-bit RIFF file flite writes.
func readWAV16(t *testing.T, path string) []int16 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || string(b[:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		t.Fatalf("%s: not a RIFF WAVE file", path)
	}
	for off := 12; off+8 <= len(b); {
		id, size := string(b[off:off+4]), int(binary.LittleEndian.Uint32(b[off+4:off+8]))
		off += 8
		if size < 0 || off+size > len(b) {
			size = len(b) - off
		}
		if id == "fmt " && (binary.LittleEndian.Uint16(b[off+2:]) != 1 || binary.LittleEndian.Uint32(b[off+4:]) != SampleRate) {
			t.Fatalf("%s: want mono %d Hz", path, SampleRate)
		}
		if id == "data" {
			out := make([]int16, size/2)
			for i := range out {
				out[i] = int16(binary.LittleEndian.Uint16(b[off+2*i:]))
			}
			return out
		}
		off += size + size%2
	}
	t.Fatalf("%s: no data chunk", path)
	return nil
}
