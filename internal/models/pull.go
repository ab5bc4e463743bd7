package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Download tuning. Store fields override them in tests.
const (
	defaultAttempts = 5
	defaultBackoff  = 500 * time.Millisecond
	maxBackoff      = 15 * time.Second
	defaultStall    = 60 * time.Second
)

// permanent marks a download error that retrying cannot fix.
type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Pull downloads every file of name that is not already installed and
// intact, verifying each as it arrives. progress, if set, is called with the
// bytes done and the total the catalogue declares.
//
// Each file goes to <file>.part, resuming with a Range request when a part
// exists; it is hashed as it is written, checked against the catalogue's
// size and SHA-256, synced and renamed into place. A file whose hash does
// not match is deleted and the pull fails. Files upstream publishes no hash
// for are recorded in the model's lock file (trust on first use).
func (s *Store) Pull(ctx context.Context, name string, progress func(done, total int64)) error {
	e, err := s.entry(name)
	if err != nil {
		return err
	}
	if e.SystemDir != "" {
		return fmt.Errorf("%w: model %s is installed by its Debian package, not pulled: apt-get install pocketsphinx-en-us", speech.ErrModel, e.Name)
	}
	for _, f := range e.Files {
		if f.URL == "" {
			return fmt.Errorf("%w: local model %s has no download URL for %s: install it with `izwi models import DIR %s`", speech.ErrModel, e.Name, f.Path, e.Name)
		}
	}
	unlock, err := lockModel(s.modelDir(e), e.Name)
	if err != nil {
		return err
	}
	defer unlock()
	lock, _ := s.readLock(e)
	var base, total int64
	for _, f := range e.Files {
		total += f.Size
	}
	// report takes how far into the current file the download is.
	report := func(n int64) {
		// Files without a known size can push past the declared total.
		total = max(total, base+n)
		if progress != nil {
			progress(base+n, total)
		}
	}
	for _, f := range e.Files {
		st, err := s.checkFile(ctx, e, f, lock)
		if err != nil {
			return err
		}
		if st.State == FileOK || st.State == FileUnpinned {
			base += st.Size
			report(0)
			continue
		}
		target := s.filePath(e, f)
		if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
			return fmt.Errorf("models: %w", err)
		}
		s.logger().Info("model download started", "model", e.Name, "file", f.Path)
		sum, size, err := s.download(ctx, f, target, report)
		if err != nil {
			return fmt.Errorf("models: pull %s: %s: %w", e.Name, f.Path, err)
		}
		if !f.Verified {
			if err := s.record(e, f, sum, size, "pull"); err != nil {
				return err
			}
			s.logger().Warn("model file has no pinned hash; recorded on first use", "model", e.Name, "file", f.Path, "sha256", sum)
		}
		base += size
		report(0)
		s.logger().Info("model file verified", "model", e.Name, "file", f.Path, "bytes", size)
	}
	_, err = s.Verify(ctx, e.Name)
	return err
}

func (s *Store) client() *http.Client {
	if s.HTTPClient != nil {
		return s.HTTPClient
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSHandshakeTimeout:   15 * time.Second,
			ResponseHeaderTimeout: 60 * time.Second,
			IdleConnTimeout:       90 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return checkURL(req.URL.String())
		},
	}
}

// download fetches f into target with retries and backoff.
func (s *Store) download(ctx context.Context, f File, target string, report func(int64)) (string, int64, error) {
	attempts, backoff := s.attempts, s.backoff
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	if backoff <= 0 {
		backoff = defaultBackoff
	}
	if err := checkURL(f.URL); err != nil {
		return "", 0, err
	}
	var last error
	for i := 0; i < attempts; i++ {
		if i > 0 {
			wait := min(backoff<<(i-1), maxBackoff)
			s.logger().Info("model download retry", "file", f.Path, "attempt", i+1, "wait", wait.String(), "error", last.Error())
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return "", 0, ctx.Err()
			case <-t.C:
			}
		}
		sum, size, err := s.fetchOnce(ctx, f, target, report)
		if err == nil {
			return sum, size, nil
		}
		if ctx.Err() != nil {
			return "", 0, ctx.Err()
		}
		var p permanent
		if errors.As(err, &p) {
			return "", 0, p.err
		}
		last = err
	}
	return "", 0, fmt.Errorf("giving up after %d attempts: %w", attempts, last)
}

// fetchOnce makes one request, appending to target.part.
func (s *Store) fetchOnce(ctx context.Context, f File, target string, report func(int64)) (string, int64, error) {
	part := target + ".part"
	limit := f.limit()
	out, err := os.OpenFile(part, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return "", 0, permanent{err}
	}
	defer out.Close()
	h := sha256.New()
	have, err := resumeHash(ctx, out, h, limit)
	if err != nil {
		return "", 0, err
	}
	resumed := have > 0
	if f.Size > 0 && have == f.Size {
		return s.finish(out, part, target, f, h, have, resumed)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.URL, nil)
	if err != nil {
		return "", 0, permanent{err}
	}
	// identity: a transparently gunzipped body would break ranges and sizes.
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(have, 10)+"-")
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusPartialContent:
		if start, ok := contentRangeStart(resp.Header.Get("Content-Range")); !ok || start != have {
			return "", 0, restart(out, "server answered a different range")
		}
	case http.StatusOK:
		if have > 0 {
			// The server ignored our Range: start over.
			if err := truncate(out); err != nil {
				return "", 0, err
			}
			h.Reset()
			have = 0
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if t, ok := contentRangeTotal(resp.Header.Get("Content-Range")); ok && t == have && have > 0 {
			return s.finish(out, part, target, f, h, have, resumed)
		}
		return "", 0, restart(out, "range not satisfiable")
	case http.StatusNotFound, http.StatusGone, http.StatusForbidden, http.StatusUnauthorized:
		return "", 0, permanent{fmt.Errorf("server answered %s", resp.Status)}
	default:
		return "", 0, fmt.Errorf("server answered %s", resp.Status)
	}
	if resp.ContentLength > 0 && have+resp.ContentLength > limit {
		out.Close()
		os.Remove(part)
		return "", 0, permanent{fmt.Errorf("server offers %d bytes, more than the catalogue's %d", have+resp.ContentLength, limit)}
	}
	if f.Size > 0 && resp.ContentLength >= 0 && have+resp.ContentLength != f.Size {
		// The server's file is not the one the catalogue pins: fail before
		// downloading it rather than after.
		out.Close()
		os.Remove(part)
		return "", 0, permanent{fmt.Errorf("%w: server offers %d bytes, the catalogue pins %d: refused", speech.ErrModel, have+resp.ContentLength, f.Size)}
	}
	stall := time.AfterFunc(defaultStall, cancel)
	defer stall.Stop()
	report(have)
	body := &watchReader{r: io.LimitReader(resp.Body, limit-have+1), stall: stall, report: report, pos: have}
	n, cerr := io.Copy(io.MultiWriter(out, h), body)
	have += n
	if have > limit {
		out.Close()
		os.Remove(part)
		return "", 0, permanent{fmt.Errorf("server sent more than the catalogue's %d bytes", limit)}
	}
	if cerr != nil {
		_ = s.fsync(out) // keep what arrived for the next attempt
		return "", 0, fmt.Errorf("transfer interrupted after %d bytes: %w", have, cerr)
	}
	if f.Size > 0 && have < f.Size {
		_ = s.fsync(out)
		return "", 0, fmt.Errorf("transfer ended early at %d of %d bytes", have, f.Size)
	}
	return s.finish(out, part, target, f, h, have, resumed)
}

// resumeHash feeds the bytes already in part to h, discarding a part that is
// over the limit.
func resumeHash(ctx context.Context, out *os.File, h hash.Hash, limit int64) (int64, error) {
	info, err := out.Stat()
	if err != nil {
		return 0, permanent{err}
	}
	if info.Size() > limit {
		return 0, truncate(out)
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return 0, permanent{err}
	}
	n, err := copyCtx(ctx, h, io.LimitReader(out, info.Size()))
	if err != nil {
		return 0, err
	}
	if _, err := out.Seek(n, io.SeekStart); err != nil {
		return 0, permanent{err}
	}
	return n, nil
}

// finish verifies the completed part and renames it into place. A part that
// was resumed and fails is deleted and retried from zero (its first bytes may
// come from an older upstream file); a fresh download that fails is refused.
func (s *Store) finish(out *os.File, part, target string, f File, h hash.Hash, size int64, resumed bool) (string, int64, error) {
	sum := hex.EncodeToString(h.Sum(nil))
	var bad error
	switch {
	case f.Size > 0 && size != f.Size:
		bad = fmt.Errorf("%w: size mismatch (want %d bytes, got %d): refused", speech.ErrModel, f.Size, size)
	case f.Verified && sum != f.SHA256:
		bad = fmt.Errorf("%w: sha256 mismatch (want %s, got %s): download is corrupt or tampered; refused and deleted",
			speech.ErrModel, short(f.SHA256), short(sum))
	}
	if bad != nil {
		out.Close()
		os.Remove(part)
		if resumed {
			return "", 0, fmt.Errorf("resumed download failed verification, restarting from zero: %w", bad)
		}
		return "", 0, permanent{bad}
	}
	if err := s.fsync(out); err != nil {
		return "", 0, permanent{err}
	}
	if err := out.Close(); err != nil {
		return "", 0, permanent{err}
	}
	if err := os.Rename(part, target); err != nil {
		return "", 0, permanent{err}
	}
	if err := s.syncDir(filepath.Dir(target)); err != nil {
		return "", 0, permanent{err}
	}
	return sum, size, nil
}

func truncate(out *os.File) error {
	if err := out.Truncate(0); err != nil {
		return permanent{err}
	}
	if _, err := out.Seek(0, io.SeekStart); err != nil {
		return permanent{err}
	}
	return nil
}

// restart empties the part so the next attempt starts from zero.
func restart(out *os.File, why string) error {
	if err := truncate(out); err != nil {
		return err
	}
	return errors.New(why + "; restarting from zero")
}

// contentRangeStart parses "bytes START-END/TOTAL".
func contentRangeStart(v string) (int64, bool) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, false
	}
	start, _, ok := strings.Cut(rest, "-")
	n, err := strconv.ParseInt(start, 10, 64)
	return n, ok && err == nil && n >= 0
}

// contentRangeTotal parses the TOTAL of "bytes */TOTAL" or "bytes A-B/TOTAL".
func contentRangeTotal(v string) (int64, bool) {
	_, total, ok := strings.Cut(v, "/")
	n, err := strconv.ParseInt(total, 10, 64)
	return n, ok && err == nil && n >= 0
}

// watchReader resets the stall timer on every read and reports progress.
type watchReader struct {
	r      io.Reader
	stall  *time.Timer
	report func(int64)
	pos    int64
}

func (w *watchReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	if n > 0 {
		w.stall.Reset(defaultStall)
		w.pos += int64(n)
		w.report(w.pos)
	}
	return n, err
}
