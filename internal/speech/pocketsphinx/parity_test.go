package pocketsphinx

import (
	"bufio"
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
	"github.com/izwi-speech/izwi/internal/wer"
)

// maxCorpusWER bounds Izwi's corpus WER over the 19 shared utterances.
// Measured 2026-11-23 on Debian pocketsphinx 0.8+5prealpha+1-15 with
// pocketsphinx-en-us: 0.3290 for both Izwi and pocketsphinx_continuous
// (19/19 files identical text). 0.34 is that plus a small margin.
const maxCorpusWER = 0.34

// cliHypothesis runs pocketsphinx_continuous on wav with the same model
// files and returns its hypothesis lines joined. With -logfn /dev/null and
// no -time, stdout holds exactly one line per utterance.
func cliHypothesis(t *testing.T, wav string) string {
	t.Helper()
	cmd := exec.Command("pocketsphinx_continuous", "-infile", wav,
		"-hmm", debianHMM, "-lm", debianLM, "-dict", debianDict, "-logfn", "/dev/null")
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("pocketsphinx_continuous on %s: %v", wav, err)
	}
	return parseCLIOutput(out.String())
}

// parseCLIOutput joins the hypothesis lines of pocketsphinx_continuous's
// stdout, dropping blank lines and -time word lines ("word start end conf").
func parseCLIOutput(out string) string {
	var parts []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	for sc.Scan() {
		line := strings.Join(strings.Fields(sc.Text()), " ")
		if line == "" || isTimeLine(line) {
			continue
		}
		parts = append(parts, line)
	}
	return strings.Join(parts, " ")
}

// isTimeLine recognises "-time yes" output: four fields, the last three
// numbers.
func isTimeLine(line string) bool {
	f := strings.Fields(line)
	if len(f) != 4 {
		return false
	}
	for _, x := range f[1:] {
		if strings.Trim(x, "0123456789.-") != "" {
			return false
		}
	}
	return true
}

func TestCLIParity(t *testing.T) {
	testenv.LookPath(t, "pocketsphinx_continuous", "apt-get install pocketsphinx")
	reg := speech.NewRegistry()
	Register(reg)
	tr, err := reg.Transcribers.New(context.Background(), speech.Spec{Engine: Name}, speech.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	var izwi, cli wer.Errors
	same := 0
	us := testdata.Utterances(t)
	for _, u := range us {
		got, err := tr.Transcribe(context.Background(), readWAV(t, u.WAV), speech.TranscribeOptions{})
		if err != nil {
			t.Fatalf("%s: %v", u.ID, err)
		}
		want := cliHypothesis(t, u.WAV)
		izwi.Add(wer.Compute(u.Reference, got.Text))
		cli.Add(wer.Compute(u.Reference, want))
		if got.Text == want {
			same++
		} else {
			t.Logf("%s differs:\n izwi %q\n cli  %q", u.ID, got.Text, want)
		}
	}
	t.Logf("corpus WER over %d files: izwi %.4f, pocketsphinx_continuous %.4f; identical text on %d/%d",
		len(us), izwi.Rate(), cli.Rate(), same, len(us))
	if izwi.Rate() > cli.Rate() {
		t.Errorf("izwi WER %.4f worse than the CLI's %.4f on the same model", izwi.Rate(), cli.Rate())
	}
	if izwi.Rate() > maxCorpusWER {
		t.Errorf("izwi corpus WER %.4f > %.2f", izwi.Rate(), maxCorpusWER)
	}
}

func FuzzParseCLIOutput(f *testing.F) {
	f.Add("hello world\n")
	f.Add("and mr john\n<s> 0.000 0.140 0.999400\nand(2) 0.150 0.360 0.26\n</s> 7.050 7.080 1.000000\n")
	f.Add("\n\n  \t\n")
	f.Add("a b c d\n1 2 3 4\n")
	f.Fuzz(func(t *testing.T, out string) {
		got := parseCLIOutput(out)
		if got != strings.Join(strings.Fields(got), " ") {
			t.Errorf("parseCLIOutput(%q) = %q: not single-spaced", out, got)
		}
		if len(got) > len(out) {
			t.Errorf("output longer than input")
		}
	})
}
