package listen

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
)

// stalledPost sends a pre-recorded request on a raw connection: its
// headers and a WAV header, then nothing more until the connection closes
// (contentLength < 0: chunked). A handler that reads the body before
// checking slot and size blocks on it. The answer, if one comes within
// wait, is on the channel (nil if none).
func stalledPost(t *testing.T, base, key string, contentLength int64, wait time.Duration) <-chan *http.Response {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	head := "POST /v1/listen HTTP/1.1\r\nHost: izwi\r\nAuthorization: Token " + key + "\r\n"
	body := "RIFF\xff\xff\xff\xffWAVEfmt "
	if contentLength < 0 {
		head += "Transfer-Encoding: chunked\r\n\r\n" + fmt.Sprintf("%x\r\n%s\r\n", len(body), body)
	} else {
		head += fmt.Sprintf("Content-Length: %d\r\n\r\n%s", contentLength, body)
	}
	if _, err := c.Write([]byte(head)); err != nil {
		t.Fatal(err)
	}
	out := make(chan *http.Response, 1)
	go func() {
		_ = c.SetReadDeadline(time.Now().Add(wait))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			out <- nil
			return
		}
		resp.Body.Close()
		out <- resp
	}()
	return out
}

// TestFileSlotAndSizeBeforeBody: POST /v1/listen takes the key's session
// slot and checks the declared size before it reads a byte of the body.
// The review saw 256 MiB bodies read into memory before any slot or quota,
// eight at once from one key (250 MB → 4.5 GB): with max_sessions=2, six of
// eight parallel requests whose bodies never finish are refused with 429
// at once, and a body declared over 25 MB is 413 unread.
func TestFileSlotAndSizeBeforeBody(t *testing.T) {
	e := loadEngines(t)
	base, key, _ := gateway(t, e, limit.Limits{MaxSessions: 2})
	asr := key(auth.ScopeASRRead)
	var outs []<-chan *http.Response
	for range 8 {
		outs = append(outs, stalledPost(t, base, asr, -1, 5*time.Second))
	}
	statuses := map[int]int{}
	for _, out := range outs {
		if resp := <-out; resp != nil {
			statuses[resp.StatusCode]++
		}
	}
	if statuses[http.StatusTooManyRequests] != 6 {
		t.Errorf("8 parallel stalled uploads with max_sessions=2: %v, want six 429s before any body was read", statuses)
	}
	if resp := <-stalledPost(t, base, asr, DefaultMaxFileBytes+1, 10*time.Second); resp == nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("declared %d bytes: %v, want 413 before the body is read", DefaultMaxFileBytes+1, resp)
	}
	if DefaultMaxFileBytes != 25<<20 {
		t.Errorf("DefaultMaxFileBytes = %d, want /v1/audio/transcriptions' 25 MB", DefaultMaxFileBytes)
	}
}

// allowance is an AudioCharger with 3 s of audio left today that records
// what it was asked to charge.
type allowance struct{ charged []time.Duration }

func (a *allowance) CheckAudio(context.Context, auth.Principal) error { return nil }
func (a *allowance) ChargeAudio(_ context.Context, _ auth.Principal, d time.Duration) error {
	a.charged = append(a.charged, d)
	return limit.AudioQuotaExceeded(time.Now())
}
func (a *allowance) AudioLeft(context.Context, auth.Principal) (time.Duration, bool, error) {
	return 3 * time.Second, true, nil
}

// TestFileBoundedByAudioLeft: a file longer than the caller's audio left
// today is refused with 429 quota_exceeded while it is decoded (the decode
// is bounded by what is left, as on /v1/audio/transcriptions), so it is
// neither decoded whole nor offered to the quota.
func TestFileBoundedByAudioLeft(t *testing.T) {
	e := loadEngines(t)
	al := &allowance{}
	opts := e.options()
	opts.Charger = al
	h := NewFileHandler(opts)
	_, _, wav := utterance(t, shortID) // 3.2 s: more than the 3 s left
	req := httptest.NewRequest("POST", "/v1/listen", bytes.NewReader(wav))
	req = req.WithContext(auth.WithPrincipal(req.Context(), auth.Principal{ID: "k1"}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusTooManyRequests || !strings.Contains(rec.Body.String(), "quota_exceeded") {
		t.Errorf("3.2 s file with 3 s left: %d %s, want 429 quota_exceeded", rec.Code, rec.Body)
	}
	if len(al.charged) != 0 {
		t.Errorf("charged %v, want the file refused before it was decoded whole and charged", al.charged)
	}
}
