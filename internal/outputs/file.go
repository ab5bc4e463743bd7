package outputs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// file writes captions where presentation software (FreeShow, ProPresenter,
// vMix) reads them: "txt" replaces NAME.txt with the current caption
// (written beside and renamed, so a reader never sees half a line), "srt"
// appends each caption to NAME.srt as a cue. The directory is the
// operator's ([outputs] file_dir): writing words to disk is their opt-in.
type file struct {
	path   string
	format string
	n      int
}

func (f *file) Send(_ context.Context, c Caption) error {
	text := strings.Join(strings.Fields(c.Text), " ")
	if f.format == "srt" {
		f.n++
		fh, err := os.OpenFile(f.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
		if err != nil {
			return classify("write", fmt.Errorf("outputs: file: %w", err))
		}
		_, err = fmt.Fprintf(fh, "%d\n%s --> %s\n%s\n\n", f.n, srtTime(c.Start), srtTime(max(c.End, c.Start)), text)
		if cerr := fh.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return classify("write", fmt.Errorf("outputs: file: %w", err))
		}
		return nil
	}
	tmp := filepath.Join(filepath.Dir(f.path), "."+filepath.Base(f.path)+".tmp")
	if err := os.WriteFile(tmp, []byte(text+"\n"), 0o640); err != nil {
		return classify("write", fmt.Errorf("outputs: file: %w", err))
	}
	if err := os.Rename(tmp, f.path); err != nil {
		return classify("write", fmt.Errorf("outputs: file: %w", err))
	}
	return nil
}

func (f *file) Close() error { return nil }

// srtTime formats seconds as an SRT cue time (00:01:02,345).
func srtTime(s float64) string {
	ms := time.Duration(max(s, 0) * float64(time.Second)).Milliseconds()
	return fmt.Sprintf("%02d:%02d:%02d,%03d", ms/3600000, ms/60000%60, ms/1000%60, ms%1000)
}
