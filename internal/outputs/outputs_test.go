package outputs_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/outputs/outputstest"
)

// feed is a session feed the test writes to.
type feed struct {
	ch   chan live.Event
	once sync.Once
}

func (f *feed) Events() <-chan live.Event { return f.ch }
func (f *feed) Err() error                { return nil }
func (f *feed) Close()                    { f.once.Do(func() { close(f.ch) }) }

// source hands out one feed per Open and lets the test publish finals to
// every feed it handed out.
type source struct {
	mu    sync.Mutex
	feeds []*feed
	seq   uint64
	open  chan struct{}
}

func newSource() *source { return &source{open: make(chan struct{}, 16)} }

func (s *source) Open(context.Context, string, string, uint64) (live.Feed, error) {
	f := &feed{ch: make(chan live.Event, 64)}
	s.mu.Lock()
	s.feeds = append(s.feeds, f)
	s.mu.Unlock()
	s.open <- struct{}{}
	return f, nil
}

func (s *source) Offers(context.Context, live.Info, string) error { return nil }

func (s *source) final(t *testing.T, text string) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	for _, f := range s.feeds {
		f.ch <- live.Event{Type: live.TypeCaption, SessionID: "ses_1", Seq: s.seq, Segment: int(s.seq), Final: true, Text: text,
			Start: float64(s.seq), End: float64(s.seq) + 0.5, Time: time.Now()}
	}
}

func manager(t *testing.T, src *source, dir string) *outputs.Manager {
	t.Helper()
	allow, err := outputs.ParseDestinations([]string{"127.0.0.0/8", "::1", "obs.example.org"})
	if err != nil {
		t.Fatal(err)
	}
	m, err := outputs.New(outputs.Options{Source: src, CredentialsDir: dir, FileDir: dir, Allow: allow,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond, MaxAttempts: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	return m
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeCred(t *testing.T, dir, name, v string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(v+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestYouTubeOutageAndRetry(t *testing.T) {
	yt := outputstest.NewYouTube("stream-key-123")
	defer yt.Close()
	dir := t.TempDir()
	writeCred(t, dir, "yt", yt.IngestionURL())
	src := newSource()
	m := manager(t, src, dir)
	info, err := m.Add(context.Background(), "ses_1", outputs.Spec{Kind: outputs.KindYouTube, Credentials: "yt"})
	if err != nil {
		t.Fatal(err)
	}
	<-src.open
	src.final(t, "good morning everyone")
	waitFor(t, "the first caption", func() bool { return len(yt.Captions()) == 1 })
	yt.Fail(3) // an outage: three 503s, then YouTube is back
	src.final(t, "welcome to the service")
	src.final(t, "please be seated")
	waitFor(t, "three captions", func() bool { return len(yt.Captions()) == 3 })
	got := yt.Captions()
	for i, want := range []string{"good morning everyone", "welcome to the service", "please be seated"} {
		if got[i].Text != want || got[i].Seq != uint64(i+1) {
			t.Errorf("caption %d = %+v, want %q with seq %d", i, got[i], want, i+1)
		}
		if d := time.Since(got[i].Time); d < 0 || d > time.Minute {
			t.Errorf("caption %d timestamp %v is not the caption's time", i, got[i].Time)
		}
	}
	if p := yt.Problems(); len(p) > 0 {
		t.Fatalf("protocol problems: %v", p)
	}
	h := m.List("ses_1")[0].Health
	if h.Failed != 3 || h.LastError != "http_503" || h.LastSuccess == nil || h.Sent != 3 || h.Queued != 0 || h.State != "running" {
		t.Fatalf("health %+v", h)
	}
	// The API shows the credentials file's name, never its contents.
	b, _ := json.Marshal(m.List("ses_1"))
	if strings.Contains(string(b), "stream-key-123") || !strings.Contains(string(b), `"credentials":"yt"`) {
		t.Fatalf("output info %s", b)
	}
	if err := m.Remove(context.Background(), "ses_1", info.ID); err != nil {
		t.Fatal(err)
	}
}

func TestOBS(t *testing.T) {
	o := outputstest.NewOBS("s3cret-pass")
	defer o.Close()
	dir := t.TempDir()
	writeCred(t, dir, "obs", "s3cret-pass")
	writeCred(t, dir, "wrong", "not-the-pass")
	src := newSource()
	m := manager(t, src, dir)

	t.Run("wrong password", func(t *testing.T) {
		src := newSource()
		m := manager(t, src, dir)
		if _, err := m.Add(context.Background(), "ses_2", outputs.Spec{Kind: outputs.KindOBS, URL: o.WSURL(), Credentials: "wrong"}); err != nil {
			t.Fatal(err)
		}
		<-src.open
		src.final(t, "hello")
		waitFor(t, "an auth failure", func() bool { return m.List("ses_2")[0].Health.LastError == "auth" })
		if o.AuthFailures() == 0 || len(o.Captions()) != 0 {
			t.Fatalf("auth failures %d, captions %v", o.AuthFailures(), o.Captions())
		}
	})

	if _, err := m.Add(context.Background(), "ses_1", outputs.Spec{Kind: outputs.KindOBS, URL: o.WSURL(), Credentials: "obs"}); err != nil {
		t.Fatal(err)
	}
	<-src.open
	src.final(t, "first line")
	waitFor(t, "a caption in OBS", func() bool { return len(o.Captions()) == 1 })

	// Not streaming: OBS refuses (501) until the stream starts.
	o.SetStreaming(false)
	src.final(t, "second line")
	waitFor(t, "a 501", func() bool { return m.List("ses_1")[0].Health.LastError == "obs_501" })
	o.SetStreaming(true)
	waitFor(t, "the caption after the stream started", func() bool { return len(o.Captions()) == 2 })

	// OBS goes away and comes back: the output dials again.
	o.SetDown(true)
	src.final(t, "third line")
	waitFor(t, "a failure while OBS is down", func() bool { return m.List("ses_1")[0].Health.Failed >= 2 })
	o.SetDown(false)
	waitFor(t, "the caption after OBS returned", func() bool { return len(o.Captions()) == 3 })
	if got := o.Captions(); got[0] != "first line" || got[1] != "second line" || got[2] != "third line" {
		t.Fatalf("OBS captions %q", got)
	}
}

func TestWebhookSignedAndFileOutput(t *testing.T) {
	dir := t.TempDir()
	writeCred(t, dir, "hook", "hmac-key")
	got := make(chan bool, 4)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		ts := r.Header.Get("X-Izwi-Timestamp")
		var body outputs.WebhookBody
		ok := json.Unmarshal(b, &body) == nil && body.Text == "signed words" &&
			r.Header.Get("X-Izwi-Signature") == outputs.WebhookSignature("hmac-key", ts, b)
		got <- ok
	}))
	defer hook.Close()
	src := newSource()
	m := manager(t, src, dir)
	for _, s := range []outputs.Spec{{Kind: outputs.KindWebhook, URL: hook.URL, Credentials: "hook"},
		{Kind: outputs.KindFile, Name: "stage", Format: "txt"}, {Kind: outputs.KindFile, Name: "stage", Format: "srt"}} {
		if _, err := m.Add(context.Background(), "ses_1", s); err != nil {
			t.Fatal(err)
		}
		<-src.open
	}
	src.final(t, "signed words")
	select {
	case ok := <-got:
		if !ok {
			t.Fatal("the webhook's body or signature is wrong")
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook call")
	}
	waitFor(t, "the live files", func() bool {
		txt, _ := os.ReadFile(filepath.Join(dir, "stage.txt"))
		srt, _ := os.ReadFile(filepath.Join(dir, "stage.srt"))
		return string(txt) == "signed words\n" && string(srt) == "1\n00:00:01,000 --> 00:00:01,500\nsigned words\n\n"
	})
}

func TestSpecRefusals(t *testing.T) {
	m := manager(t, newSource(), t.TempDir())
	for _, s := range []outputs.Spec{
		{Kind: "rtmp"},
		{Kind: outputs.KindYouTube},
		{Kind: outputs.KindYouTube, Credentials: "../etc/passwd"},
		{Kind: outputs.KindOBS, URL: "http://x"},
		{Kind: outputs.KindWebhook, URL: "ftp://x", Credentials: "k"},
		{Kind: outputs.KindFile, Name: "../x", Format: "txt"},
		{Kind: outputs.KindOBS, URL: "ws://127.0.0.1:4455", Delay: 601},
	} {
		if _, err := m.Add(context.Background(), "ses_1", s); err == nil {
			t.Errorf("%+v accepted", s)
		}
	}
	// Only destinations the operator listed: not the cloud metadata
	// address, another host on the network or a name not listed.
	for _, u := range []string{"ws://169.254.169.254/", "ws://10.0.0.5:4455", "ws://obs.example.org.evil.test:4455", "ws://[::ffff:10.0.0.5]:4455"} {
		if _, err := m.Add(context.Background(), "ses_1", outputs.Spec{Kind: outputs.KindOBS, URL: u}); !errors.Is(err, outputs.ErrNotAllowed) {
			t.Errorf("OBS at %s: %v, want ErrNotAllowed", u, err)
		}
	}
	if _, err := m.Add(context.Background(), "ses_1", outputs.Spec{Kind: outputs.KindWebhook, URL: "https://192.168.1.20/hook", Credentials: "k"}); !errors.Is(err, outputs.ErrNotAllowed) {
		t.Errorf("a webhook to an unlisted address: %v, want ErrNotAllowed", err)
	}
	for _, u := range []string{"ws://OBS.example.org:4455", "ws://127.0.0.1:4455", "ws://[::1]:4455", "ws://[::ffff:127.0.0.1]:4455"} {
		if _, err := m.Add(context.Background(), "ses_1", outputs.Spec{Kind: outputs.KindOBS, URL: u}); err != nil {
			t.Errorf("OBS at listed %s: %v", u, err)
		}
	}
}

func TestParseDestinations(t *testing.T) {
	for _, bad := range []string{"", "10.0.0.0/33", "user@host", "host:4455", "a b"} {
		if _, err := outputs.ParseDestinations([]string{bad}); err == nil {
			t.Errorf("allow_hosts %q accepted", bad)
		}
	}
	var none outputs.Destinations
	if none.Allows("127.0.0.1") || none.Allows("localhost") {
		t.Error("the zero allow-list allows something")
	}
}
