package models

import (
	"context"
	"os"
	"path"
	"strings"
	"testing"
)

func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"bytes 0-9/10", "bytes */100", "bytes 5-/x", "bytes -1-2/3", "", "bytes 99999999999999999999-1/2", "items 1-2/3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if n, ok := contentRangeStart(v); ok && n < 0 {
			t.Fatalf("negative start %d accepted from %q", n, v)
		}
		if n, ok := contentRangeTotal(v); ok && n < 0 {
			t.Fatalf("negative total %d accepted from %q", n, v)
		}
	})
}

func FuzzSafeName(f *testing.F) {
	for _, s := range []string{"a/b.onnx", "../x", "./a/../../b", "/etc/passwd", "a\\..\\b", "a/./b", "", "..", "a/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got, err := safeName(name)
		if err != nil {
			return
		}
		if path.IsAbs(got) || got == ".." || strings.HasPrefix(got, "../") {
			t.Fatalf("safeName(%q) = %q escapes the root", name, got)
		}
	})
}

// FuzzLockFile feeds arbitrary bytes as a model's lock file: a lock can never
// override a pinned hash, and an unpinned file is trusted only when the lock
// records its actual hash.
func FuzzLockFile(f *testing.F) {
	fx := installed(f)
	good, _ := os.ReadFile(fx.path(lockName))
	f.Add(good)
	f.Add([]byte(`{"model":"test-whisper","files":{"tokens.txt":{"sha256":"` + sum(fx.files["tokens.txt"]) + `","size":-1}}}`))
	f.Add([]byte(`{"model":"test-whisper","files":{"enc.onnx":{"sha256":"00","size":1}}}`))
	f.Add([]byte(`{"model":"other","files":{}}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		fx := newSizedFixture(t, "", 3000, 700, 500)
		fx.store.noSync = true
		if err := os.MkdirAll(fx.path(""), 0o755); err != nil {
			t.Fatal(err)
		}
		for p, b := range fx.files {
			if err := os.WriteFile(fx.path(p), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(fx.path(lockName), data, 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := fx.store.Verify(context.Background(), fx.name)
		if len(st.Files) == 3 && (st.Files[0].State != FileOK || st.Files[1].State != FileOK) {
			t.Fatalf("lock content changed the verdict on a pinned file: %+v", st.Files[:2])
		}
		if err == nil && !strings.Contains(string(data), sum(fx.files["tokens.txt"])) {
			t.Fatalf("unpinned file trusted without its hash in the lock")
		}
	})
}
