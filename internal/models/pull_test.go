package models

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

func pulled(t *testing.T, fx *fixture) speech.ResolvedModel {
	t.Helper()
	m, err := fx.store.Resolve(context.Background(), fx.name)
	if err != nil {
		t.Fatalf("resolve after pull: %v", err)
	}
	for p, want := range fx.files {
		got, err := os.ReadFile(fx.path(p))
		if err != nil || string(got) != string(want) {
			t.Fatalf("%s: installed bytes differ (err %v)", p, err)
		}
		if exists(fx.path(p) + ".part") {
			t.Fatalf("%s.part left behind", p)
		}
	}
	return m
}

func TestPullVerifiesAndResolves(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte { return fx.files }, nil)
	fx = newFixture(t, srv.URL+"/m")
	var last, total int64
	err := fx.store.Pull(context.Background(), fx.name, func(d, tot int64) {
		if d < last {
			t.Errorf("progress went backwards: %d after %d", d, last)
		}
		last, total = d, tot
	})
	if err != nil {
		t.Fatalf("pull: %v", err)
	}
	if want := int64(len(fx.files["enc.onnx"]) + len(fx.files["dec.onnx"]) + len(fx.files["tokens.txt"])); total != want || last != want {
		t.Errorf("progress ended at %d/%d, want ≥%d of %d", last, total, want, want)
	}
	m := pulled(t, fx)
	if m.File("encoder") != fx.path("enc.onnx") || m.Files["encoder"].SHA256 != sum(fx.files["enc.onnx"]) {
		t.Errorf("resolved encoder = %+v", m.Files["encoder"])
	}
	if m.Meta["language"] != "en" || m.Family != "offline-whisper" {
		t.Errorf("meta/family not carried: %+v", m)
	}
	// The unpinned tokens file was recorded on first use and is reported so.
	st, err := fx.store.Verify(context.Background(), fx.name)
	if err != nil || st.State != ModelUnpinned {
		t.Fatalf("verify: state %s err %v, want unpinned", st.State, err)
	}
	// A second pull downloads nothing.
	before := srv.hitCount("enc.onnx")
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil || srv.hitCount("enc.onnx") != before {
		t.Fatalf("second pull: err %v, hits %d→%d", err, before, srv.hitCount("enc.onnx"))
	}
}

// dropHalf answers the first request for enc.onnx with half the body and
// then kills the connection.
func dropHalf(files func() map[string][]byte) func(http.ResponseWriter, *http.Request, int) bool {
	return func(w http.ResponseWriter, r *http.Request, hit int) bool {
		if !strings.HasSuffix(r.URL.Path, "enc.onnx") || hit != 1 {
			return false
		}
		b := files()["enc.onnx"]
		w.Header().Set("Content-Length", "300000")
		w.WriteHeader(http.StatusOK)
		w.Write(b[:len(b)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return true
	}
}

func TestPullResumesWithRange(t *testing.T) {
	var fx *fixture
	files := func() map[string][]byte { return fx.files }
	srv := newServer(t, files, dropHalf(files))
	fx = newFixture(t, srv.URL+"/m")
	fx.store.attempts = 1 // the first pull must fail and leave a .part
	err := fx.store.Pull(context.Background(), fx.name, nil)
	if err == nil {
		t.Fatal("pull over a dropped connection succeeded with one attempt")
	}
	info, err := os.Stat(fx.path("enc.onnx") + ".part")
	if err != nil || info.Size() != 150_000 {
		t.Fatalf("want a 150000-byte .part after the drop, got %v %v", info, err)
	}
	if exists(fx.path("enc.onnx")) {
		t.Fatal("a partial file was installed")
	}
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatalf("resumed pull: %v", err)
	}
	if !slices.Contains(srv.sawRanges(), "enc.onnx bytes=150000-") {
		t.Fatalf("server never saw the resume Range; saw %v", srv.sawRanges())
	}
	pulled(t, fx)
}

func TestPullRetriesWithinOneCall(t *testing.T) {
	var fx *fixture
	files := func() map[string][]byte { return fx.files }
	srv := newServer(t, files, dropHalf(files))
	fx = newFixture(t, srv.URL+"/m")
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatalf("pull with retries: %v", err)
	}
	if !slices.Contains(srv.sawRanges(), "enc.onnx bytes=150000-") {
		t.Fatalf("retry did not resume; ranges %v", srv.sawRanges())
	}
	pulled(t, fx)
}

func TestPullRestartsWhenServerIgnoresRange(t *testing.T) {
	var fx *fixture
	files := func() map[string][]byte { return fx.files }
	srv := newServer(t, files, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		w.Write(files()[strings.TrimPrefix(r.URL.Path, "/m/")]) // 200, whole body, Range ignored
		return true
	})
	fx = newFixture(t, srv.URL+"/m")
	// A stale part holding the wrong bytes: only a restart from zero can fix it.
	if err := os.MkdirAll(fx.path(""), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fx.path("enc.onnx")+".part", make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatalf("pull: %v", err)
	}
	if !slices.Contains(srv.sawRanges(), "enc.onnx bytes=1000-") {
		t.Fatalf("pull did not try to resume the stale part: %v", srv.sawRanges())
	}
	pulled(t, fx)
}

func TestPullRefusesCorruptDownload(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte {
		bad := map[string][]byte{}
		for k, v := range fx.files {
			bad[k] = append([]byte(nil), v...)
		}
		bad["enc.onnx"][12345] ^= 0x01
		return bad
	}, nil)
	fx = newFixture(t, srv.URL+"/m")
	err := fx.store.Pull(context.Background(), fx.name, nil)
	if !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "sha256 mismatch") || !strings.Contains(err.Error(), "enc.onnx") {
		t.Fatalf("want a sha256 mismatch naming enc.onnx, got %v", err)
	}
	if exists(fx.path("enc.onnx")) || exists(fx.path("enc.onnx")+".part") {
		t.Fatal("a corrupt download was left on disk")
	}
	if _, err := fx.store.Resolve(context.Background(), fx.name); !errors.Is(err, speech.ErrModel) {
		t.Fatalf("resolve after refused pull: %v", err)
	}
}

func TestPullRefusesOversizedBody(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte {
		big := map[string][]byte{}
		for k, v := range fx.files {
			big[k] = v
		}
		big["dec.onnx"] = append(append([]byte(nil), fx.files["dec.onnx"]...), make([]byte, 5000)...)
		return big
	}, nil)
	fx = newFixture(t, srv.URL+"/m")
	err := fx.store.Pull(context.Background(), fx.name, nil)
	if err == nil || !strings.Contains(err.Error(), "more than the catalogue") {
		t.Fatalf("want oversize refusal, got %v", err)
	}
	if exists(fx.path("dec.onnx")) || exists(fx.path("dec.onnx")+".part") {
		t.Fatal("oversized download left on disk")
	}
}

func TestPullRefusesConcurrentPull(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte { return fx.files }, nil)
	fx = newFixture(t, srv.URL+"/m")
	unlock, err := lockModel(fx.path(""), fx.name)
	if err != nil {
		t.Fatal(err)
	}
	if err := fx.store.Pull(context.Background(), fx.name, nil); err == nil || !strings.Contains(err.Error(), "another pull or import") {
		t.Fatalf("pull while another holds the model: %v", err)
	}
	unlock()
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatalf("pull after unlock: %v", err)
	}
	pulled(t, fx)
}

func TestPullHonoursCancel(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte { return fx.files }, nil)
	fx = newFixture(t, srv.URL+"/m")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := fx.store.Pull(ctx, fx.name, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
}

func TestPullRefusesNonLoopbackHTTP(t *testing.T) {
	fx := newFixture(t, "")
	fx.cat.Models[0].Files[0].URL = "http://example.com/enc.onnx" // bypasses Validate on purpose
	err := fx.store.Pull(context.Background(), fx.name, nil)
	if err == nil || !strings.Contains(err.Error(), "https") {
		t.Fatalf("want an https refusal, got %v", err)
	}
}

func TestPullRefusesOversizedChunkedBody(t *testing.T) {
	var fx *fixture
	files := func() map[string][]byte { return fx.files }
	srv := newServer(t, files, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		if !strings.HasSuffix(r.URL.Path, "tokens.txt") {
			return false
		}
		// No Content-Length: only the byte count can catch this.
		for i := 0; i < 40; i++ {
			w.Write(make([]byte, 32<<10))
			w.(http.Flusher).Flush()
		}
		return true
	})
	fx = newFixture(t, srv.URL+"/m")
	err := fx.store.Pull(context.Background(), fx.name, nil)
	if err == nil || !strings.Contains(err.Error(), "more than the catalogue's 1048576 bytes") {
		t.Fatalf("want a byte-count refusal, got %v", err)
	}
	if exists(fx.path("tokens.txt")) || exists(fx.path("tokens.txt")+".part") {
		t.Fatal("oversized unpinned download left on disk")
	}
}

func TestPullRestartsStaleFullLengthPart(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte { return fx.files }, nil)
	fx = newFixture(t, srv.URL+"/m")
	if err := os.MkdirAll(fx.path(""), 0o755); err != nil {
		t.Fatal(err)
	}
	// A part of the full length from some other upstream version.
	if err := os.WriteFile(fx.path("dec.onnx")+".part", genBytes(99, len(fx.files["dec.onnx"])), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatalf("pull over a stale part: %v", err)
	}
	pulled(t, fx)
}

func TestPullRepairsCorruptInstalledFile(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte { return fx.files }, nil)
	fx = newFixture(t, srv.URL+"/m")
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fx.path("enc.onnx"), []byte("garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := fx.store.Resolve(context.Background(), fx.name); !errors.Is(err, speech.ErrModel) {
		t.Fatalf("corrupt file resolved: %v", err)
	}
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatalf("repairing pull: %v", err)
	}
	pulled(t, fx)
}

func TestPullRefusesWrongSizeUpFront(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte {
		short := map[string][]byte{}
		for k, v := range fx.files {
			short[k] = v
		}
		short["enc.onnx"] = fx.files["enc.onnx"][:1000]
		return short
	}, nil)
	fx = newFixture(t, srv.URL+"/m")
	err := fx.store.Pull(context.Background(), fx.name, nil)
	if !errors.Is(err, speech.ErrModel) || !strings.Contains(err.Error(), "catalogue pins 300000") {
		t.Fatalf("want an up-front size refusal, got %v", err)
	}
	if n := srv.hitCount("enc.onnx"); n != 1 {
		t.Fatalf("a wrong-size file must not be retried; %d requests", n)
	}
}

func TestPullFollowsRedirectAndKeepsRange(t *testing.T) {
	var fx *fixture
	files := func() map[string][]byte { return fx.files }
	drop := dropHalf(files)
	srv := newServer(t, files, func(w http.ResponseWriter, r *http.Request, hit int) bool {
		name, cdn := strings.CutPrefix(r.URL.Path, "/cdn/")
		if !cdn {
			http.Redirect(w, r, "/cdn/"+strings.TrimPrefix(r.URL.Path, "/m/"), http.StatusFound)
			return true
		}
		if drop(w, r, hit) {
			return true
		}
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(files()[name]))
		return true
	})
	fx = newFixture(t, srv.URL+"/m")
	if err := fx.store.Pull(context.Background(), fx.name, nil); err != nil {
		t.Fatalf("pull through redirects: %v", err)
	}
	ranges := srv.sawRanges()
	if !slices.Contains(ranges, "enc.onnx bytes=150000-") || !slices.Contains(ranges, "/cdn/enc.onnx bytes=150000-") {
		t.Fatalf("Range not kept across the redirect: %v", ranges)
	}
	pulled(t, fx)
}

func TestPullRefusesRedirectToPlainHTTP(t *testing.T) {
	var fx *fixture
	srv := newServer(t, func() map[string][]byte { return fx.files }, func(w http.ResponseWriter, r *http.Request, _ int) bool {
		http.Redirect(w, r, "http://example.com/enc.onnx", http.StatusFound)
		return true
	})
	fx = newFixture(t, srv.URL+"/m")
	err := fx.store.Pull(context.Background(), fx.name, nil)
	if err == nil || !strings.Contains(err.Error(), "must be https") {
		t.Fatalf("want the plain-http redirect refused, got %v", err)
	}
}
