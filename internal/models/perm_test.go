package models

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/izwi-speech/izwi/internal/testdata"
)

// The first import creates the data directory too; it must not be readable
// by other users (izwi doctor would flag it).
func TestImportCreatesPrivateDirs(t *testing.T) {
	cat, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(t.TempDir(), "data")
	s := &Store{Dir: filepath.Join(data, "models"), Catalog: cat}
	if _, err := s.Import(context.Background(), filepath.Dir(testdata.SileroVAD(t)), "silero-vad-v5"); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{data, s.Dir, filepath.Join(s.Dir, "silero-vad-v5")} {
		st, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v; want no group/other access", d, st.Mode().Perm())
		}
	}
}
