package speakershttp

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/audit/audittest"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/consent"
	"github.com/izwi-speech/izwi/internal/speaker"
	"github.com/izwi-speech/izwi/internal/speakers"
	"github.com/izwi-speech/izwi/internal/speech/sherpa/sherpatest"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/vault"
)

const model = sherpatest.SpeakerModel

func serve(t *testing.T, withModel bool) (*httptest.Server, *audittest.Recorder) {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "izwi.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	rec := &audittest.Recorder{}
	kr, err := vault.New(ctx, vault.Options{Store: st, Provider: &vault.FileProvider{Path: filepath.Join(dir, "vault", "k")}, Audit: rec})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := consent.New(ctx, consent.Options{Store: st, Vault: kr, Audit: rec})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := speakers.New(ctx, speakers.Options{Store: st, Vault: kr, Consent: cs, Audit: rec})
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Registry: reg, Model: model, CSRF: func(*http.Request) string { return "csrf-token-x" },
		Requirements: speaker.Requirements{MinSpeech: 3e9}}
	if withModel {
		o.Embedder, o.VAD = sherpatest.Embedder(t), sherpatest.VAD(t)
	}
	h := New(o)
	mux := http.NewServeMux()
	// The console puts the signed-in user's principal on every request.
	as := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), auth.Principal{Kind: auth.KindAdmin, ID: "u1", Subject: "user:u1"})))
		})
	}
	mux.Handle("GET /speakers", as(h.Page()))
	mux.Handle("GET /speakers/assets/{file}", as(h.Asset()))
	mux.Handle("GET /api/speakers", as(h.List()))
	mux.Handle("POST /api/speakers", as(h.Enrol()))
	mux.Handle("GET /api/speakers/{id}/export", as(h.Export()))
	mux.Handle("DELETE /api/speakers/{id}", as(h.Erase()))
	mux.Handle("POST /api/speakers/{id}/withdraw", as(h.Withdraw()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, rec
}

// recording is two shared utterances of one speaker as one WAV file.
func recording(t *testing.T) []byte {
	t.Helper()
	var s []float32
	spk := ""
	for _, u := range testdata.Utterances(t) {
		if spk == "" {
			spk = u.Speaker
		}
		if u.Speaker != spk {
			continue
		}
		c, err := audio.DecodeFile(u.WAV, audio.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		m, _ := audio.Prepare(c, 16000)
		s = append(s, m...)
		if len(s) > 16000*12 {
			break
		}
	}
	var b bytes.Buffer
	if err := audio.EncodeWAV(&b, s, 16000, 1); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func enrol(t *testing.T, url string, fields map[string]string, wav []byte) (*http.Response, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	if wav != nil {
		fw, _ := mw.CreateFormFile("audio", "enrolment.wav")
		_, _ = fw.Write(wav)
	}
	mw.Close()
	resp, err := http.Post(url+"/api/speakers", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func code(b []byte) apierr.Code {
	var body apierr.Body
	_ = json.Unmarshal(b, &body)
	return body.Error.Code
}

func TestEnrolPageFlow(t *testing.T) {
	srv, rec := serve(t, true)
	wav := recording(t)
	ok := map[string]string{"name": "Ada Lovelace", "text_version": "v1", "method": "spoken_script", "consent": "yes"}

	// The page carries the CSRF token and the script, under a CSP that
	// allows only its own scripts.
	resp, err := http.Get(srv.URL + "/speakers")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), `content="csrf-token-x"`) || !strings.Contains(string(page), "withdraw") ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("page: %s", resp.Header.Get("Content-Security-Policy"))
	}
	for _, f := range []string{"speakers.js", "recorder-worklet.js", "speakers.css"} {
		if r, err := http.Get(srv.URL + "/speakers/assets/" + f); err != nil || r.StatusCode != 200 {
			t.Fatalf("asset %s: %v %v", f, err, r.StatusCode)
		}
	}
	if r, _ := http.Get(srv.URL + "/speakers/assets/speakers.html"); r.StatusCode != 404 {
		t.Fatalf("template served as an asset: %d", r.StatusCode)
	}

	// Without consent: refused, nothing stored.
	noConsent := map[string]string{"name": "Ada Lovelace", "text_version": "v1", "method": "spoken_script"}
	if resp, b := enrol(t, srv.URL, noConsent, wav); resp.StatusCode != 403 || code(b) != apierr.CodeForbidden {
		t.Fatalf("no consent: %d %s", resp.StatusCode, b)
	}
	// Too little speech for the bar: 422 with the reason.
	short := wav[:44+2*16000]
	if resp, b := enrol(t, srv.URL, ok, short); resp.StatusCode != 422 || code(b) != apierr.CodeUnprocessable || !strings.Contains(string(b), "speech") {
		t.Fatalf("short recording: %d %s", resp.StatusCode, b)
	}
	if resp, b := enrol(t, srv.URL, ok, []byte("not audio at all")); resp.StatusCode != 400 {
		t.Fatalf("garbage: %d %s", resp.StatusCode, b)
	}
	resp, b := enrol(t, srv.URL, ok, wav)
	if resp.StatusCode != 201 {
		t.Fatalf("enrol: %d %s", resp.StatusCode, b)
	}
	var created struct {
		Subject speakers.Subject
		Quality speaker.Quality
	}
	if err := json.Unmarshal(b, &created); err != nil || !created.Subject.Consenting() || created.Quality.SpeechS < 3 {
		t.Fatalf("created: %s", b)
	}
	// List, export, erase.
	r, _ := http.Get(srv.URL + "/api/speakers")
	lb, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if !strings.Contains(string(lb), "Ada Lovelace") || !strings.Contains(string(lb), `"enabled":true`) {
		t.Fatalf("list: %s", lb)
	}
	r, _ = http.Get(srv.URL + "/api/speakers/" + created.Subject.ID + "/export")
	eb, _ := io.ReadAll(r.Body)
	r.Body.Close()
	// The export holds the consent evidence (operator, client address) but
	// never the voiceprint.
	if r.StatusCode != 200 || !strings.Contains(string(eb), `"operator":"user:u1"`) || !strings.Contains(string(eb), "127.0.0.1") ||
		strings.Contains(string(eb), "vector") {
		t.Fatalf("export: %d %s", r.StatusCode, eb)
	}
	// Withdrawing is one POST, as easy as consenting.
	if r, err := http.Post(srv.URL+"/api/speakers/"+created.Subject.ID+"/withdraw", "", nil); err != nil || r.StatusCode != 204 {
		t.Fatalf("withdraw: %v %v", err, r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/api/speakers/"+created.Subject.ID, nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 204 {
		t.Fatalf("erase: %v %v", err, r.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodDelete, srv.URL+"/api/speakers/sub_missing", nil)
	if r, _ := http.DefaultClient.Do(req); r.StatusCode != 404 {
		t.Fatalf("erase unknown: %d", r.StatusCode)
	}
	if len(rec.Find("speaker.enrol", "ok")) != 1 || len(rec.Find("speaker.erase", "ok")) != 1 || len(rec.Find("consent.withdraw", "ok")) != 1 {
		t.Fatalf("audit: %+v", rec.Events())
	}
	if e := rec.Find("speaker.enrol", "ok")[0]; e.Actor != "user:u1" {
		t.Fatalf("enrolment audited as %q", e.Actor)
	}
}

// Without a speaker model the feature is off and says why.
func TestEnrolOffWithoutModel(t *testing.T) {
	srv, _ := serve(t, false)
	resp, b := enrol(t, srv.URL, map[string]string{"name": "x", "consent": "yes"}, []byte("RIFF"))
	if resp.StatusCode != 503 || !strings.Contains(string(b), "no speaker model") {
		t.Fatalf("enrol without a model: %d %s", resp.StatusCode, b)
	}
	r, _ := http.Get(srv.URL + "/api/speakers")
	lb, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(lb), `"enabled":false`) || !strings.Contains(string(lb), "no speaker model") {
		t.Fatalf("list: %s", lb)
	}
	r, _ = http.Get(srv.URL + "/speakers")
	pb, _ := io.ReadAll(r.Body)
	if !strings.Contains(string(pb), "identification is off") {
		t.Fatal("page does not say identification is off")
	}

}
