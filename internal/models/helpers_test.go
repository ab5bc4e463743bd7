package models

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fixture is a generated model: its bytes, a catalogue pinning them, and a
// store over a temporary directory.
type fixture struct {
	name  string
	files map[string][]byte // path → content
	cat   *Catalog
	store *Store
}

func sum(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

func genBytes(seed uint64, n int) []byte {
	var key [32]byte
	key[0] = byte(seed)
	key[1] = byte(seed >> 8)
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// newFixture builds a whisper-shaped model of three files served from
// baseURL (which may be "" for import-only tests). The tokens file is left
// unpinned to exercise trust on first use.
func newFixture(t testing.TB, baseURL string) *fixture {
	t.Helper()
	return newSizedFixture(t, baseURL, 300_000, 70_000, 500)
}

// newSizedFixture is newFixture with chosen file sizes. Fuzz targets use
// small ones: Go's fuzzer stalls on seeds of hundreds of kilobytes.
func newSizedFixture(t testing.TB, baseURL string, enc, dec, tokens int) *fixture {
	t.Helper()
	fx := &fixture{name: "test-whisper", files: map[string][]byte{
		"enc.onnx":   genBytes(1, enc),
		"dec.onnx":   genBytes(2, dec),
		"tokens.txt": []byte(strings.Repeat("tok 1\n", tokens)),
	}}
	if baseURL == "" {
		baseURL = "https://example.invalid/m"
	}
	pin := func(role, p string) File {
		return File{Role: role, Path: p, URL: baseURL + "/" + p, SHA256: sum(fx.files[p]),
			Size: int64(len(fx.files[p])), Verified: true, Source: "generated in test"}
	}
	e := Entry{Name: fx.name, Engine: "sherpa", Family: "offline-whisper", Description: "test",
		Licence: "test", Languages: []string{"en"}, Meta: map[string]string{"language": "en", "task": "transcribe"},
		Files: []File{pin("encoder", "enc.onnx"), pin("decoder", "dec.onnx"),
			{Role: "tokens", Path: "tokens.txt", URL: baseURL + "/tokens.txt", MaxSize: 1 << 20, Source: "unpinned: test"}}}
	fx.cat = &Catalog{Version: 1, Models: []Entry{e}}
	if err := fx.cat.Validate(); err != nil {
		t.Fatalf("test catalogue invalid: %v", err)
	}
	fx.store = &Store{Dir: t.TempDir(), Catalog: fx.cat, attempts: 3, backoff: time.Millisecond}
	return fx
}

func (fx *fixture) path(p string) string { return filepath.Join(fx.store.Dir, fx.name, p) }

// server serves fx's files with http.ServeContent (which honours Range) and
// records every Range header it sees. hook may take over a request.
type server struct {
	*httptest.Server
	mu     sync.Mutex
	ranges []string
	hits   map[string]int
}

func newServer(t *testing.T, files func() map[string][]byte, hook func(w http.ResponseWriter, r *http.Request, hit int) bool) *server {
	t.Helper()
	s := &server{hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/m/")
		s.mu.Lock()
		s.hits[name]++
		hit := s.hits[name]
		if rg := r.Header.Get("Range"); rg != "" {
			s.ranges = append(s.ranges, name+" "+rg)
		}
		s.mu.Unlock()
		if hook != nil && hook(w, r, hit) {
			return
		}
		b, ok := files()[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *server) sawRanges() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ranges...)
}

func (s *server) hitCount(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[name]
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
