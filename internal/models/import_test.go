package models

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testenv"
)

type tarEntry struct {
	name     string
	body     []byte
	typeflag byte
	link     string
}

func buildTar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.body)), Typeflag: e.typeflag, Linkname: e.link}
		if hdr.Typeflag == 0 {
			hdr.Typeflag = tar.TypeReg
		}
		if hdr.Typeflag != tar.TypeReg {
			hdr.Size = 0
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			tw.Write(e.body)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// modelTar lays fx's files out like a sherpa-onnx release: one top-level
// directory plus unrelated files.
func modelTar(t testing.TB, fx *fixture) []byte {
	entries := []tarEntry{{name: "test-whisper/", typeflag: tar.TypeDir}, {name: "test-whisper/README.md", body: []byte("hi")}}
	names := make([]string, 0, len(fx.files))
	for p := range fx.files {
		names = append(names, p)
	}
	sort.Strings(names)
	for _, p := range names {
		entries = append(entries, tarEntry{name: "test-whisper/" + p, body: fx.files[p]})
	}
	entries = append(entries, tarEntry{name: "test-whisper/test_wavs/0.wav", body: make([]byte, 100)})
	return buildTar(t, entries)
}

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func importAndCheck(t *testing.T, fx *fixture, src, name string) {
	t.Helper()
	got, err := fx.store.Import(context.Background(), src, name)
	if err != nil || len(got) != 1 || got[0] != fx.name {
		t.Fatalf("import %s: %v %v", filepath.Base(src), got, err)
	}
	if _, err := fx.store.Resolve(context.Background(), fx.name); err != nil {
		t.Fatalf("resolve after import: %v", err)
	}
	left, _ := filepath.Glob(filepath.Join(fx.store.Dir, ".import-*"))
	if len(left) != 0 {
		t.Fatalf("staging left behind: %v", left)
	}
}

func TestImportFromDirectory(t *testing.T) {
	fx := newFixture(t, "")
	src := t.TempDir()
	sub := filepath.Join(src, "sherpa-onnx-test")
	os.MkdirAll(sub, 0o755)
	for p, b := range fx.files {
		writeFile(t, sub, p, b)
	}
	importAndCheck(t, fx, src, "")
}

func TestImportFromTarGz(t *testing.T) {
	fx := newFixture(t, "")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(modelTar(t, fx))
	zw.Close()
	importAndCheck(t, fx, writeFile(t, t.TempDir(), "m.tar.gz", gz.Bytes()), fx.name)
}

func TestImportFromPlainTar(t *testing.T) {
	fx := newFixture(t, "")
	importAndCheck(t, fx, writeFile(t, t.TempDir(), "m.tar", modelTar(t, fx)), "")
}

func TestImportFromTarBz2(t *testing.T) {
	bz := testenv.LookPath(t, "bzip2", "apt-get install bzip2")
	fx := newFixture(t, "")
	dir := t.TempDir()
	p := writeFile(t, dir, "m.tar", modelTar(t, fx))
	if out, err := exec.Command(bz, "-k", p).CombinedOutput(); err != nil {
		t.Fatalf("bzip2: %v %s", err, out)
	}
	importAndCheck(t, fx, p+".bz2", fx.name)
}

func TestImportRefusesPathTraversal(t *testing.T) {
	fx := newFixture(t, "")
	for _, name := range []string{"../enc.onnx", "test/../../enc.onnx", "/abs/enc.onnx"} {
		tb := buildTar(t, []tarEntry{{name: name, body: fx.files["enc.onnx"]}})
		_, err := fx.store.Import(context.Background(), writeFile(t, t.TempDir(), "evil.tar", tb), "")
		if !errors.Is(err, ErrUnsafeArchive) {
			t.Errorf("%s: want ErrUnsafeArchive, got %v", name, err)
		}
	}
	if exists(filepath.Join(filepath.Dir(fx.store.Dir), "enc.onnx")) {
		t.Fatal("traversal wrote outside the store")
	}
}

func TestImportRefusesLinks(t *testing.T) {
	fx := newFixture(t, "")
	tb := buildTar(t, []tarEntry{{name: "m/enc.onnx", typeflag: tar.TypeSymlink, link: "/etc/passwd"}})
	if _, err := fx.store.Import(context.Background(), writeFile(t, t.TempDir(), "l.tar", tb), ""); !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("symlink entry: %v", err)
	}
	tb = buildTar(t, []tarEntry{{name: "m/enc.onnx", typeflag: tar.TypeLink, link: "m/other"}})
	if _, err := fx.store.Import(context.Background(), writeFile(t, t.TempDir(), "h.tar", tb), ""); !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("hardlink entry: %v", err)
	}
	// A symlink in a source directory is refused too.
	src := t.TempDir()
	for p, b := range fx.files {
		writeFile(t, src, p, b)
	}
	os.Remove(filepath.Join(src, "dec.onnx"))
	if err := os.Symlink(filepath.Join(src, "enc.onnx"), filepath.Join(src, "dec.onnx")); err == nil {
		if _, err := fx.store.Import(context.Background(), src, fx.name); !errors.Is(err, ErrUnsafeArchive) {
			t.Fatalf("symlink in directory: %v", err)
		}
	}
}

func TestImportRefusesOversizedAndCorrupt(t *testing.T) {
	fx := newFixture(t, "")
	big := append(append([]byte(nil), fx.files["dec.onnx"]...), 0)
	tb := buildTar(t, []tarEntry{{name: "dec.onnx", body: big}})
	if _, err := fx.store.Import(context.Background(), writeFile(t, t.TempDir(), "o.tar", tb), fx.name); !errors.Is(err, ErrUnsafeArchive) {
		t.Fatalf("oversized entry: %v", err)
	}
	bad := map[string][]byte{}
	for k, v := range fx.files {
		bad[k] = v
	}
	flipped := append([]byte(nil), fx.files["enc.onnx"]...)
	flipped[0] ^= 1
	bad["enc.onnx"] = flipped
	src := t.TempDir()
	for p, b := range bad {
		writeFile(t, src, p, b)
	}
	_, err := fx.store.Import(context.Background(), src, fx.name)
	if !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "enc.onnx: sha256 mismatch") {
		t.Fatalf("corrupt import: %v", err)
	}
	if exists(fx.path("enc.onnx")) || exists(fx.path("dec.onnx")) {
		t.Fatal("files of a refused import were installed")
	}
	if _, err := fx.store.Import(context.Background(), src, ""); !errors.Is(err, speech.ErrModel) {
		t.Fatalf("discovery over a corrupt source must fail: %v", err)
	}
}

func TestImportMissingFileNamed(t *testing.T) {
	fx := newFixture(t, "")
	src := t.TempDir()
	writeFile(t, src, "enc.onnx", fx.files["enc.onnx"])
	_, err := fx.store.Import(context.Background(), src, fx.name)
	if !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "dec.onnx not found") {
		t.Fatalf("incomplete import: %v", err)
	}
}

func FuzzImportTar(f *testing.F) {
	fx := newSizedFixture(f, "", 3000, 700, 5)
	f.Add(modelTar(f, fx))
	f.Add(buildTar(f, []tarEntry{{name: "../x/enc.onnx", body: []byte("x")}}))
	f.Add(buildTar(f, []tarEntry{{name: "a/tokens.txt", body: []byte("t 1\n")}, {name: "b/tokens.txt", body: []byte("t 2\n")}}))
	f.Add(buildTar(f, []tarEntry{{name: "enc.onnx", typeflag: tar.TypeSymlink, link: "/etc/passwd"}}))
	f.Add([]byte("BZh91AY&SY"))
	f.Add([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fx := newSizedFixture(t, "", 3000, 700, 5)
		fx.store.noSync = true
		root := filepath.Dir(fx.store.Dir)
		stage, err := os.MkdirTemp(fx.store.Dir, ".import-*")
		if err != nil {
			t.Fatal(err)
		}
		im := &importer{s: fx.store, stage: stage, found: map[[2]string]staged{}, bad: map[[2]string]string{}}
		for _, fl := range fx.cat.Models[0].Files {
			im.cands = append(im.cands, candidate{fx.cat.Models[0], fl})
		}
		if err := im.readArchive(context.Background(), bytes.NewReader(data)); err != nil {
			return
		}
		// Whatever was accepted matches its catalogue size and pin.
		for key, st := range im.found {
			for _, fl := range fx.cat.Models[0].Files {
				if fl.Path == key[1] && fl.Verified && (st.sum != fl.SHA256 || st.size != fl.Size) {
					t.Fatalf("accepted %s with wrong hash or size", key[1])
				}
			}
		}
		if _, err := im.install(context.Background(), fx.cat.Models); err == nil {
			if _, err := fx.store.Resolve(context.Background(), fx.name); err != nil {
				t.Fatalf("installed model does not resolve: %v", err)
			}
		}
		// Nothing may appear beside the store directory.
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			if e.Name() != filepath.Base(fx.store.Dir) {
				t.Fatalf("import wrote %s outside the store", e.Name())
			}
		}
	})
}
