package models

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// installed returns a fixture whose model was imported from a directory.
func installed(t testing.TB) *fixture {
	t.Helper()
	fx := newFixture(t, "")
	src := t.TempDir()
	for p, b := range fx.files {
		if err := os.WriteFile(filepath.Join(src, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := fx.store.Import(context.Background(), src, fx.name)
	if err != nil || len(got) != 1 {
		t.Fatalf("import: %v %v", got, err)
	}
	return fx
}

func TestResolveRefusesTruncatedFile(t *testing.T) {
	fx := installed(t)
	if err := os.Truncate(fx.path("dec.onnx"), 1000); err != nil {
		t.Fatal(err)
	}
	_, err := fx.store.Resolve(context.Background(), fx.name)
	if !errors.Is(err, speech.ErrModel) {
		t.Fatalf("want ErrModel, got %v", err)
	}
	for _, want := range []string{"model test-whisper", "dec.onnx", "size mismatch", "izwi models pull test-whisper"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestResolveRefusesFlippedByte(t *testing.T) {
	fx := installed(t)
	b := append([]byte(nil), fx.files["enc.onnx"]...)
	b[len(b)-7] ^= 0x80
	if err := os.WriteFile(fx.path("enc.onnx"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := fx.store.Resolve(context.Background(), fx.name)
	if !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "enc.onnx: sha256 mismatch (want "+sum(fx.files["enc.onnx"])[:12]) ||
		!strings.Contains(err.Error(), "got "+sum(b)[:12]) || !strings.Contains(err.Error(), "corrupt or tampered") {
		t.Fatalf("want a sha256 mismatch naming enc.onnx with both hashes, got %v", err)
	}
	st, _ := fx.store.Verify(context.Background(), fx.name)
	if st.State != ModelCorrupt || st.Files[0].State != FileCorrupt || st.Files[1].State != FileOK {
		t.Fatalf("status %+v", st)
	}
}

func TestUnpinnedFileCheckedAgainstRecord(t *testing.T) {
	fx := installed(t)
	// Changing the unpinned tokens file is caught via the lock file.
	if err := os.WriteFile(fx.path("tokens.txt"), []byte(strings.Repeat("tok 2\n", 500)), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.store.Resolve(context.Background(), fx.name); !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "tokens.txt: sha256 mismatch") {
		t.Fatalf("tampered unpinned file: %v", err)
	}
	// Without a record, an unpinned file is never trusted.
	if err := os.Remove(fx.path(lockName)); err != nil {
		t.Fatal(err)
	}
	st, err := fx.store.Verify(context.Background(), fx.name)
	if !errors.Is(err, speech.ErrModel) || st.Files[2].State != FileUnrecorded {
		t.Fatalf("unrecorded file: state %v err %v", st.Files[2].State, err)
	}
}

func TestResolveMissingAndUnknown(t *testing.T) {
	fx := newFixture(t, "")
	st, err := fx.store.Verify(context.Background(), fx.name)
	if !errors.Is(err, speech.ErrModel) || st.State != ModelMissing || !strings.Contains(err.Error(), "not installed") {
		t.Fatalf("missing model: %v %v", st.State, err)
	}
	if _, err := fx.store.Resolve(context.Background(), "no-such-model"); !errors.Is(err, speech.ErrModel) {
		t.Fatalf("unknown model: %v", err)
	}
	if got := fx.store.List(context.Background()); len(got) != 1 || got[0].State != ModelMissing {
		t.Fatalf("list: %+v", got)
	}
}

func TestResolveRefusesSymlinkedFile(t *testing.T) {
	fx := installed(t)
	other := filepath.Join(t.TempDir(), "elsewhere")
	if err := os.WriteFile(other, fx.files["dec.onnx"], 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(fx.path("dec.onnx"))
	if err := os.Symlink(other, fx.path("dec.onnx")); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.store.Resolve(context.Background(), fx.name); !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "not a regular file") {
		t.Fatalf("symlinked model file: %v", err)
	}
}

func TestResolveGivesAbsolutePaths(t *testing.T) {
	fx := installed(t)
	t.Chdir(filepath.Dir(fx.store.Dir))
	fx.store.Dir = filepath.Base(fx.store.Dir) // relative, like ./data/models
	m, err := fx.store.Resolve(context.Background(), fx.name)
	if err != nil {
		t.Fatal(err)
	}
	for role, f := range m.Files {
		if !filepath.IsAbs(f.Path) || !exists(f.Path) {
			t.Errorf("%s: path %q is not an absolute path to the file", role, f.Path)
		}
	}
}

func TestResolveHonoursCancel(t *testing.T) {
	fx := installed(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fx.store.Resolve(ctx, fx.name); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

// The real Silero VAD from ../shared/models imports under the real
// catalogue and verifies against the MANIFEST hash.
func TestSileroVADFromSharedModels(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	vadPath := testdata.SileroVAD(t)
	s := &Store{Dir: t.TempDir(), Catalog: cat}
	got, err := s.Import(context.Background(), filepath.Dir(vadPath), "silero-vad-v5")
	if err != nil || len(got) != 1 {
		t.Fatalf("import shared silero: %v %v", got, err)
	}
	m, err := s.Resolve(context.Background(), "silero-vad-v5")
	if err != nil {
		t.Fatalf("resolve silero: %v", err)
	}
	if f := m.Files["model"]; f.SHA256 != testdata.SileroVADSHA256 || f.Size != 2327524 {
		t.Fatalf("silero resolved as %+v, want MANIFEST hash", f)
	}
	if m.Meta["window_size"] != "512" || m.Meta["threshold"] != "0.5" {
		t.Fatalf("silero meta %v", m.Meta)
	}
	// Discovery without a name finds it too, and only it.
	s2 := &Store{Dir: t.TempDir(), Catalog: cat}
	if got, err := s2.Import(context.Background(), testdata.ModelsDir(t), ""); err != nil || len(got) != 1 || got[0] != "silero-vad-v5" {
		t.Fatalf("import all from shared models: %v %v", got, err)
	}
}

// pocketsphinx-en-us verifies in place against Debian's installed files.
func TestPocketsphinxResolvesFromDebian(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	e, _ := cat.Lookup("pocketsphinx-en-us")
	testenv.Exists(t, e.SystemDir, "apt-get install pocketsphinx-en-us")
	s := &Store{Dir: t.TempDir(), Catalog: cat}
	m, err := s.Resolve(context.Background(), "pocketsphinx-en-us")
	if err != nil {
		t.Fatalf("resolve pocketsphinx: %v", err)
	}
	if m.File("lm") != filepath.Join(e.SystemDir, "en-us.lm.bin") || m.File("hmm/mdef") != filepath.Join(e.SystemDir, "en-us", "mdef") {
		t.Fatalf("pocketsphinx paths: lm %q mdef %q", m.File("lm"), m.File("hmm/mdef"))
	}
	if len(m.Files) != len(e.Files) {
		t.Fatalf("resolved %d files, catalogue has %d", len(m.Files), len(e.Files))
	}
	if err := s.Pull(context.Background(), "pocketsphinx-en-us", nil); err == nil || !strings.Contains(err.Error(), "apt-get") {
		t.Fatalf("pull of a Debian model must point at apt: %v", err)
	}
}

func BenchmarkResolveSilero(b *testing.B) {
	cat, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	s := &Store{Dir: b.TempDir(), Catalog: cat}
	if _, err := s.Import(context.Background(), filepath.Dir(testdata.SileroVAD(b)), "silero-vad-v5"); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(2327524)
	for b.Loop() {
		if _, err := s.Resolve(context.Background(), "silero-vad-v5"); err != nil {
			b.Fatal(err)
		}
	}
}
