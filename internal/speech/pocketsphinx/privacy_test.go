package pocketsphinx

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/testdata"
)

// PocketSphinx logs its configuration and every hypothesis to stderr by
// default. Loading a model and decoding speech must write nothing there.
func TestNothingOnStderr(t *testing.T) {
	u := testdata.Utterances(t)[3]
	samples := readWAV(t, u.WAV)
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Dup3(int(f.Fd()), 2, 0); err != nil {
		t.Fatal(err)
	}
	func() {
		defer syscall.Dup3(saved, 2, 0)
		rec, err := New(context.Background(), speech.Spec{Engine: Name}, speech.Deps{})
		if err != nil {
			t.Error(err)
			return
		}
		defer rec.Close()
		st, err := rec.NewStream(context.Background(), speech.StreamOptions{Hotwords: []string{"zzyzxq:Z IH Z IH K S"}})
		if err != nil {
			t.Error(err)
			return
		}
		defer st.Close()
		rs, err := st.Accept(context.Background(), samples)
		if err != nil {
			t.Error(err)
		}
		more, err := st.Flush(context.Background())
		if err != nil || len(rs)+len(more) == 0 {
			t.Errorf("Accept and Flush: %v, %d results; want words", err, len(rs)+len(more))
		}
	}()
	syscall.Close(saved)
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("native code wrote %d bytes to stderr, e.g. %.200q", len(got), got)
	}
}
