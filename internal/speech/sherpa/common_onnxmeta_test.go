package sherpa

import (
	"bytes"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
)

func TestReadONNXMetadata(t *testing.T) {
	vits, err := readONNXMetadata(genModel(t, ttsModel).File("model"))
	if err != nil {
		t.Fatal(err)
	}
	if vits["sample_rate"] != "16000" || vits["n_speakers"] != "2" || !strings.Contains(vits["comment"], "izwi") {
		t.Errorf("vits metadata = %v", vits)
	}
	spk, err := readONNXMetadata(genModel(t, speakerModel).File("model"))
	if err != nil || spk["framework"] != "3d-speaker" || spk["output_dim"] != "38" {
		t.Errorf("speaker metadata = %v, %v", spk, err)
	}
	if err := checkSpeakerMeta(spk); err != nil {
		t.Errorf("generated speaker model fails its own check: %v", err)
	}
	// The real Silero VAD parses too (its graph is large and nested).
	if _, err := readONNXMetadata(sileroModel(t).File("model")); err != nil {
		t.Errorf("silero: %v", err)
	}

	dir := t.TempDir()
	real, err := os.ReadFile(sileroModel(t).File("model"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"lfs-pointer": []byte("version https://git-lfs.github.com/spec/v1\noid sha256:2623a2953f6f\nsize 2327524\n"),
		"truncated":   real[:len(real)/2],
		"empty":       nil,
	} {
		p := filepath.Join(dir, name+".onnx")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := readONNXMetadata(p); !errors.Is(err, speech.ErrModel) {
			t.Errorf("%s: %v, want ErrModel", name, err)
		}
	}
	if _, err := readONNXMetadata(filepath.Join(dir, "missing.onnx")); !errors.Is(err, speech.ErrModel) {
		t.Errorf("missing file: %v, want ErrModel", err)
	}
}

func FuzzONNXMetadata(f *testing.F) {
	for _, name := range []string{ttsModel, speakerModel} {
		b, err := os.ReadFile(genModel(f, name).File("model"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("version https://git-lfs.github.com/spec/v1\n"))
	f.Add([]byte{0x3a, 0x00, 0x72, 0x04, 0x0a, 0x01, 'k', 0x12})
	f.Add([]byte{0x72, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, data []byte) {
		meta, err := parseONNXMetadata(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if len(meta) > maxMetaEntries {
			t.Fatalf("%d entries", len(meta))
		}
		n := 0
		for k, v := range meta {
			n += len(k) + len(v)
		}
		if n > len(data) {
			t.Fatalf("metadata of %d bytes from %d input bytes", n, len(data))
		}
	})
}

func TestCheckVITSMeta(t *testing.T) {
	good := map[string]string{"sample_rate": "22050", "n_speakers": "1", "language": "English", "comment": "vits"}
	with := func(k, v string) map[string]string {
		m := map[string]string{}
		for a, b := range good {
			m[a] = b
		}
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, c := range []struct {
		name          string
		meta          map[string]string
		lexicon, data bool
		ok            bool
	}{
		{"lexicon model", good, true, false, true},
		{"no lexicon", good, false, false, false},
		{"no comment", with("comment", ""), true, false, false},
		{"no sample rate", with("sample_rate", ""), true, false, false},
		{"unknown lexicon language", with("language", "Klingon"), true, false, false},
		{"piper with espeak data", with("comment", "piper"), false, true, true},
		{"espeak data but not piper", good, false, true, false},
		{"characters", with("frontend", "characters"), false, false, true},
		{"jieba", with("jieba", "1"), true, false, false},
		{"old melo", with("comment", "melo"), true, false, false},
	} {
		if err := checkVITSMeta(c.meta, c.lexicon, c.data); (err == nil) != c.ok {
			t.Errorf("%s: %v, want ok=%v", c.name, err, c.ok)
		}
	}
}

func TestCheckKokoroMeta(t *testing.T) {
	meta := map[string]string{"sample_rate": "24000", "n_speakers": "2", "has_espeak": "1", "style_dim": "510,1,256"}
	if err := checkKokoroMeta(meta, 2*510*256*4); err != nil {
		t.Errorf("good: %v", err)
	}
	if err := checkKokoroMeta(meta, 2*510*256*4-4); err == nil {
		t.Errorf("voices file one float short accepted (sherpa-onnx would exit)")
	}
	for _, sd := range []string{"510,2,256", "510,256", "a,1,b", "", "510,1,256,1"} {
		bad := map[string]string{"sample_rate": "24000", "n_speakers": "2", "has_espeak": "1", "style_dim": sd}
		if err := checkKokoroMeta(bad, 2*510*256*4); err == nil {
			t.Errorf("style_dim %q accepted", sd)
		}
	}
}

func TestCheckSpeakerMeta(t *testing.T) {
	good := map[string]string{"framework": "wespeaker", "output_dim": "256", "sample_rate": "16000", "normalize_samples": "0", "language": "English"}
	if err := checkSpeakerMeta(good); err != nil {
		t.Errorf("good: %v", err)
	}
	for k, v := range map[string]string{"framework": "kaldi", "language": "", "feature_normalize_type": "cmvn", "output_dim": "0", "normalize_samples": "x"} {
		bad := map[string]string{}
		for a, b := range good {
			bad[a] = b
		}
		bad[k] = v
		if err := checkSpeakerMeta(bad); err == nil {
			t.Errorf("%s=%q accepted", k, v)
		}
	}
}

// withoutMeta copies the ONNX model at src to dir with the metadata key
// removed (using Debian's python3-onnx, as the generator does).
func withoutMeta(t *testing.T, src, dir, key string) string {
	t.Helper()
	dst := filepath.Join(dir, key+"-less.onnx")
	script := `import onnx, sys
m = onnx.load(sys.argv[1])
keep = [p for p in m.metadata_props if p.key != sys.argv[3]]
del m.metadata_props[:]
m.metadata_props.extend(keep)
onnx.save(m, sys.argv[2])`
	if out, err := exec.Command("/usr/bin/python3", "-c", script, src, dst, key).CombinedOutput(); err != nil {
		t.Fatalf("python3: %v\n%s", err, out)
	}
	return dst
}

// TestRefusesModelsSherpaWouldExitOn hands each engine a model that
// sherpa-onnx 1.13.8 answers with exit(): if a check were missing, this
// test binary would die instead of failing politely.
func TestRefusesModelsSherpaWouldExitOn(t *testing.T) {
	dir := t.TempDir()
	vits := genModel(t, ttsModel)
	for _, key := range []string{"comment", "n_speakers", "language"} {
		m := vits
		m.Files = maps.Clone(vits.Files)
		m.Files["model"] = speech.ModelFile{Path: withoutMeta(t, vits.File("model"), dir, key)}
		if _, err := newSynthesizer(m, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
			t.Errorf("vits without %s: %v, want ErrModel", key, err)
		}
	}
	spk := genModel(t, speakerModel)
	for _, key := range []string{"framework", "output_dim", "language"} {
		m := spk
		m.Files = map[string]speech.ModelFile{"model": {Path: withoutMeta(t, spk.File("model"), dir, key)}}
		if _, err := newEmbedder(m, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
			t.Errorf("speaker model without %s: %v, want ErrModel", key, err)
		}
	}
	if _, err := os.Stat("/usr/lib/x86_64-linux-gnu/espeak-ng-data/phondata"); err == nil {
		kok := genModel(t, kokoroModel)
		voices, err := os.ReadFile(kok.File("voices"))
		if err != nil {
			t.Fatal(err)
		}
		short := filepath.Join(dir, "voices.bin")
		if err := os.WriteFile(short, voices[:len(voices)-4], 0o600); err != nil {
			t.Fatal(err)
		}
		m := kok
		m.Files = maps.Clone(kok.Files)
		m.Files["voices"] = speech.ModelFile{Path: short, Size: int64(len(voices) - 4)}
		if _, err := newSynthesizer(m, speech.Spec{}); !errors.Is(err, speech.ErrModel) {
			t.Errorf("kokoro with a voices file one float short: %v, want ErrModel", err)
		}
	}
}
