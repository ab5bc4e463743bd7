package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/wer"
)

// maxStreamWER bounds PocketSphinx's WER on one utterance streamed through
// the live pipeline (VAD segmentation, streaming decode). Batch decoding of
// speaker 1089 measures 0.276; a broken format conversion, resampler,
// pacing or fan-out gives nonsense well above this.
const maxStreamWER = 0.5

// liveEnv is serve with PocketSphinx and Silero (and nothing else), and a
// recognizer queue long enough for audio sent faster than real time.
func liveEnv(t *testing.T) []string {
	return append(keysEnv(t.TempDir()), "IZWI_ASR_ENGINE=pocketsphinx", "IZWI_MODELS_DIR="+importVAD(t, false),
		"IZWI_VAD_ENGINE=sherpa", "IZWI_VAD_MODEL=silero-vad-v5", "IZWI_LIVE_QUEUE_AUDIO=2m")
}

func liveUtterance(t testing.TB, id string) (testdata.Utterance, []float32) {
	t.Helper()
	for _, u := range testdata.Utterances(t) {
		if u.ID == id {
			clip, err := audio.DecodeFile(u.WAV, audio.Limits{})
			if err != nil {
				t.Fatal(err)
			}
			s, err := audio.Prepare(clip, 16000)
			if err != nil {
				t.Fatal(err)
			}
			return u, s
		}
	}
	t.Fatalf("utterance %s missing from the shared test data", id)
	return testdata.Utterance{}, nil
}

// liveAPI sends a JSON request to s and decodes the answer. A server that
// does not answer within 30 s is dumped (SIGQUIT: its goroutines go to the
// log) so the hang can be read.
func liveAPI(t *testing.T, s *server, method, path, key string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	// Not t.Context(): cleanups call this after it is cancelled.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, method, s.url+path, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		dumpServer(t, s, fmt.Sprintf("%s %s: %v", method, path, err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && len(b) > 0 {
		_ = json.Unmarshal(b, out)
	}
	return resp.StatusCode
}

// dumpServer fails the test with the server's goroutine dump.
func dumpServer(t *testing.T, s *server, why string) {
	t.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
	}
	logs := s.logs.String()
	if len(logs) > 60000 {
		logs = logs[len(logs)-60000:]
	}
	t.Fatalf("%s; server dump:\n%s", why, logs)
}

type liveSession struct {
	ID        string `json:"id"`
	LinkToken string `json:"link_token"`
}

// createLiveSession creates a session and stops it when the (sub)test
// ends: a live session holds one of the recognizer's decoders.
func createLiveSession(t *testing.T, s *server, key string, body map[string]any) liveSession {
	t.Helper()
	var c liveSession
	if code := liveAPI(t, s, "POST", "/v1/sessions", key, body, &c); code != 201 || c.ID == "" {
		t.Fatalf("create session: %d", code)
	}
	t.Cleanup(func() {
		if s.cmd.ProcessState == nil {
			liveAPI(t, s, "POST", "/v1/sessions/"+c.ID+"/stop", key, nil, nil)
		}
	})
	return c
}

func liveWSURL(s *server, path string) string { return "ws" + strings.TrimPrefix(s.url, "http") + path }

func dialLive(t *testing.T, url string, h http.Header, protos ...string) (*websocket.Conn, *http.Response, error) {
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	return websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h, Subprotocols: protos})
}

// stream sends samples as linear16 100 ms frames at speed × real time,
// then finalizes and closes, expecting a normal closure.
func streamPaced(t *testing.T, s *server, key, id string, samples []float32, speed float64) {
	t.Helper()
	c, resp, err := dialLive(t, liveWSURL(s, "/v1/sessions/"+id+"/audio?encoding=linear16&sample_rate=16000&channels=1"),
		http.Header{"Authorization": {"Bearer " + key}})
	if err != nil {
		t.Errorf("ingest dial: %v %v", err, resp)
		return
	}
	defer c.CloseNow()
	pcm := audio.EncodePCM16(samples)
	const frame = 3200 // 100 ms
	tick := time.NewTicker(time.Duration(float64(100*time.Millisecond) / speed))
	defer tick.Stop()
	for off := 0; off < len(pcm); off += frame {
		<-tick.C
		if err := c.Write(t.Context(), websocket.MessageBinary, pcm[off:min(off+frame, len(pcm))]); err != nil {
			t.Errorf("ingest write: %v", err)
			return
		}
	}
	for _, m := range []string{`{"type":"finalize"}`, `{"type":"close"}`} {
		if err := c.Write(t.Context(), websocket.MessageText, []byte(m)); err != nil {
			t.Errorf("ingest %s: %v", m, err)
			return
		}
	}
	if code, reason := wsCloseOf(t, c); code != websocket.StatusNormalClosure {
		t.Errorf("ingest closed %d %q", code, reason)
	}
}

// wsClose reads until the peer closes and returns its code and reason.
func wsCloseOf(t *testing.T, c *websocket.Conn) (websocket.StatusCode, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for {
		if _, _, err := c.Read(ctx); err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				return ce.Code, ce.Reason
			}
			t.Fatalf("no close frame: %v", err)
		}
	}
}

// viewer collects a caption feed's events.
type captionViewer struct {
	mu     sync.Mutex
	events []live.Event
	done   chan struct{}
	err    error
}

func (v *captionViewer) add(e live.Event) {
	v.mu.Lock()
	v.events = append(v.events, e)
	v.mu.Unlock()
}

func (v *captionViewer) snapshot() []live.Event {
	v.mu.Lock()
	defer v.mu.Unlock()
	return append([]live.Event(nil), v.events...)
}

// watchWS follows /captions until the socket ends.
func watchLiveWS(t *testing.T, url string, h http.Header, protos ...string) (*captionViewer, *websocket.Conn) {
	t.Helper()
	c, resp, err := dialLive(t, url, h, protos...)
	if err != nil {
		t.Fatalf("viewer dial %s: %v %v", url, err, resp)
	}
	v := &captionViewer{done: make(chan struct{})}
	go func() {
		defer close(v.done)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				v.err = err
				return
			}
			var e live.Event
			if json.Unmarshal(b, &e) == nil {
				v.add(e)
			}
		}
	}()
	t.Cleanup(func() { c.CloseNow(); <-v.done })
	return v, c
}

// watchSSE follows /events until the body ends.
func watchLiveSSE(t *testing.T, url string) *captionViewer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		cancel()
		t.Fatalf("SSE %s: %v %v", url, err, resp)
	}
	v := &captionViewer{done: make(chan struct{})}
	go func() {
		defer close(v.done)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var id, data string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "id: "):
				id = line[4:]
			case strings.HasPrefix(line, "data: "):
				data = line[6:]
			case line == "" && data != "":
				var e live.Event
				if json.Unmarshal([]byte(data), &e) == nil && strconv.FormatUint(e.Seq, 10) == id {
					v.add(e)
				}
				id, data = "", ""
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-v.done })
	return v
}

// finals joins the final captions' text in order.
func liveFinals(evs []live.Event) string {
	var parts []string
	for _, e := range evs {
		if e.Type == live.TypeCaption && e.Final && e.Text != "" {
			parts = append(parts, e.Text)
		}
	}
	return strings.Join(parts, " ")
}

// awaitWER polls until the viewer's finals reach the reference (WER at
// most maxStreamWER), failing with the last WER at the deadline.
func awaitLiveWER(t *testing.T, name string, v *captionViewer, ref string) []live.Event {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		evs := v.snapshot()
		e := wer.Compute(ref, liveFinals(evs))
		if e.Rate() <= maxStreamWER {
			t.Logf("%s: WER %.3f over %d words", name, e.Rate(), e.RefWords)
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: WER %.3f > %.2f after 90 s; finals %q", name, e.Rate(), maxStreamWER, liveFinals(evs))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkOrder: Seq strictly increasing without gaps from the first, caption
// times sane and finals in time order.
func checkLiveOrder(t *testing.T, name string, evs []live.Event) {
	t.Helper()
	var lastEnd float64
	for i, e := range evs {
		if i > 0 && e.Seq != evs[i-1].Seq+1 {
			t.Fatalf("%s: seq %d after %d", name, e.Seq, evs[i-1].Seq)
		}
		if e.Type == live.TypeCaption && e.Final {
			if e.End < e.Start || e.Start < lastEnd-0.05 {
				t.Fatalf("%s: final %d spans %.2f–%.2f after one ending %.2f", name, e.Seq, e.Start, e.End, lastEnd)
			}
			lastEnd = e.End
		}
	}
}

func TestLiveEndToEnd(t *testing.T) {
	env := liveEnv(t)
	key := newKey(t, env, "--name", "live", "--scopes", "live.write,live.read")
	s := startServe(t, env)

	t.Run("real time, WebSocket and SSE viewers", func(t *testing.T) {
		u, samples := liveUtterance(t, "1089-134691-0001")
		ses := createLiveSession(t, s, key, map[string]any{"label": "real time", "start": true})
		ws, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
		sse := watchLiveSSE(t, s.url+"/v1/sessions/"+ses.ID+"/events")
		streamPaced(t, s, key, ses.ID, samples, 1)
		evs := awaitLiveWER(t, "WebSocket", ws, u.Reference)
		checkLiveOrder(t, "WebSocket", evs)
		// The VAD is wired: speech onsets are announced.
		vad := false
		for _, e := range evs {
			vad = vad || e.Type == live.TypeSpeechStarted
		}
		if !vad {
			t.Errorf("no speech_started event: is the VAD loaded?")
		}
		evs = awaitLiveWER(t, "SSE", sse, u.Reference)
		checkLiveOrder(t, "SSE", evs)
	})

	t.Run("4x real time, a viewer reconnects with after", func(t *testing.T) {
		u, samples := liveUtterance(t, "1089-134686-0000")
		ses := createLiveSession(t, s, key, map[string]any{"label": "fast", "start": true})
		first, c := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
		done := make(chan struct{})
		go func() { defer close(done); streamPaced(t, s, key, ses.ID, samples, 4) }()
		// Leave as soon as some captions have arrived, mid-stream.
		deadline := time.Now().Add(60 * time.Second)
		for len(first.snapshot()) < 3 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		c.Close(websocket.StatusNormalClosure, "")
		<-first.done
		seen := first.snapshot()
		if len(seen) == 0 {
			t.Fatal("no captions before disconnecting")
		}
		after := seen[len(seen)-1].Seq
		second, _ := watchLiveWS(t, liveWSURL(s, fmt.Sprintf("/v1/sessions/%s/captions?after=%d", ses.ID, after)), nil)
		<-done
		var all []live.Event
		deadline = time.Now().Add(90 * time.Second)
		for {
			all = append(append([]live.Event(nil), seen...), second.snapshot()...)
			if wer.Compute(u.Reference, liveFinals(all)).Rate() <= maxStreamWER || time.Now().After(deadline) {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if got := second.snapshot(); len(got) == 0 || got[0].Seq != after+1 {
			t.Fatalf("resumed feed starts at %v, want seq %d", got, after+1)
		}
		checkLiveOrder(t, "resumed", all)
		if e := wer.Compute(u.Reference, liveFinals(all)); e.Rate() > maxStreamWER {
			t.Fatalf("WER %.3f across the reconnect; finals %q", e.Rate(), liveFinals(all))
		} else {
			t.Logf("4x with reconnect: WER %.3f", e.Rate())
		}
	})

	t.Run("several sessions at once", func(t *testing.T) {
		ids := []string{"1089-134686-0001", "1089-134691-0000", "1089-134691-0001"}
		var wg sync.WaitGroup
		views := make([]*captionViewer, len(ids))
		refs := make([]string, len(ids))
		for i, id := range ids {
			u, samples := liveUtterance(t, id)
			ses := createLiveSession(t, s, key, map[string]any{"label": id, "start": true})
			views[i], _ = watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
			refs[i] = u.Reference
			wg.Add(1)
			go func() { defer wg.Done(); streamPaced(t, s, key, ses.ID, samples, 4) }()
		}
		wg.Wait()
		for i := range ids {
			checkLiveOrder(t, ids[i], awaitLiveWER(t, ids[i], views[i], refs[i]))
		}
	})

	t.Run("malformed audio is refused with documented close codes", func(t *testing.T) {
		ses := createLiveSession(t, s, key, map[string]any{"start": true})
		base := "/v1/sessions/" + ses.ID + "/audio"
		auth := http.Header{"Authorization": {"Bearer " + key}}
		for _, tc := range []struct {
			name, query string
			typ         websocket.MessageType
			msg         []byte
			want        websocket.StatusCode
		}{
			{"odd length", "?sample_rate=16000", websocket.MessageBinary, make([]byte, 3201), websocket.StatusInvalidFramePayloadData},
			{"more than 1 s", "?sample_rate=16000", websocket.MessageBinary, make([]byte, 32002), websocket.StatusMessageTooBig},
			{"binary before config", "", websocket.MessageBinary, make([]byte, 3200), websocket.StatusPolicyViolation},
			{"96 kHz", "?encoding=linear16&sample_rate=96000", 0, nil, websocket.StatusUnsupportedData},
			{"3 channels", "?sample_rate=16000&channels=3", 0, nil, websocket.StatusUnsupportedData},
			{"opus", "?encoding=opus&sample_rate=48000", 0, nil, websocket.StatusUnsupportedData},
			{"unknown control", "?sample_rate=16000", websocket.MessageText, []byte(`{"type":"rewind"}`), websocket.StatusUnsupportedData},
		} {
			c, resp, err := dialLive(t, liveWSURL(s, base+tc.query), auth)
			if err != nil {
				t.Fatalf("%s: dial %v %v", tc.name, err, resp)
			}
			if tc.msg != nil {
				_ = c.Write(t.Context(), tc.typ, tc.msg)
			}
			if code, reason := wsCloseOf(t, c); code != tc.want || reason == "" {
				t.Errorf("%s: closed %d %q, want %d with a reason", tc.name, code, reason, tc.want)
			}
			c.CloseNow()
		}
		if code, _ := httpGet(t, s.url+"/healthz"); code != 200 {
			t.Fatalf("healthz %d after refusals", code)
		}
	})

	t.Run("protected sessions need viewer tickets", func(t *testing.T) {
		own := s.url // pages the server serves itself: no allow-list entry needed
		pw := createLiveSession(t, s, key, map[string]any{"viewer_mode": "password", "password": "correct horse", "start": true})
		link := createLiveSession(t, s, key, map[string]any{"viewer_mode": "link", "start": true})
		for _, tc := range []struct {
			ses    liveSession
			secret string
		}{{pw, "correct horse"}, {link, link.LinkToken}} {
			path := "/v1/sessions/" + tc.ses.ID
			if _, resp, err := dialLive(t, liveWSURL(s, path+"/captions"), http.Header{"Origin": {own}}); err == nil || resp.StatusCode != 404 {
				t.Fatalf("viewer without a ticket: %v", resp)
			}
			if code, _ := httpGet(t, s.url+path+"/events"); code != 404 {
				t.Fatalf("SSE without a ticket: %d", code)
			}
			var tk ticket.Response
			if code := liveAPI(t, s, "POST", path+"/viewer-ticket", "", map[string]string{"secret": "wrong", "origin": own}, nil); code != 401 {
				t.Fatalf("wrong secret: %d", code)
			}
			if code := liveAPI(t, s, "POST", path+"/viewer-ticket", "", map[string]string{"secret": tc.secret, "origin": own}, &tk); code != 200 || tk.Ticket == "" {
				t.Fatalf("viewer ticket: %d", code)
			}
			// Another site's page cannot use it (refused before it is spent).
			if _, resp, err := dialLive(t, liveWSURL(s, path+"/captions"), http.Header{"Origin": {"https://evil.example"}}, ticket.Subprotocol, tk.Ticket); err == nil || resp.StatusCode != 403 {
				t.Fatalf("cross-origin viewer: %v", resp)
			}
			c, resp, err := dialLive(t, liveWSURL(s, path+"/captions"), http.Header{"Origin": {own}}, ticket.Subprotocol, tk.Ticket)
			if err != nil {
				t.Fatalf("viewer with a ticket: %v %v", err, resp)
			}
			c.Close(websocket.StatusNormalClosure, "")
			if _, resp, err := dialLive(t, liveWSURL(s, path+"/captions"), http.Header{"Origin": {own}}, ticket.Subprotocol, tk.Ticket); err == nil || resp.StatusCode != 401 {
				t.Fatalf("replayed ticket: %v", resp)
			}
		}
	})

	// A viewer still connected does not hold up a clean shutdown.
	ses := createLiveSession(t, s, key, map[string]any{"start": true})
	v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
	sse := watchLiveSSE(t, s.url+"/v1/sessions/"+ses.ID+"/events")
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d with viewers connected\n%s", code, s.logs)
	}
	<-v.done
	var ce websocket.CloseError
	if !errors.As(v.err, &ce) || ce.Code != websocket.StatusGoingAway {
		t.Errorf("viewer ended with %v, want 1001", v.err)
	}
	<-sse.done
	// Nothing spoken reached the logs.
	for _, id := range []string{"1089-134691-0001"} {
		u, _ := liveUtterance(t, id)
		words := strings.Fields(strings.ToLower(u.Reference))
		sort.Slice(words, func(i, j int) bool { return len(words[i]) > len(words[j]) })
		if strings.Contains(strings.ToLower(s.logs.String()), words[0]) {
			t.Errorf("the word %q from a transcript is in the server log", words[0])
		}
	}
}

// izwi serve --source file:... --source-label L runs a session of its own
// that viewers watch like any other; a restart reuses it by label.
func TestLiveSourceFlag(t *testing.T) {
	env := liveEnv(t)
	admin := newKey(t, env, "--name", "ops", "--scopes", "admin")
	u, _ := liveUtterance(t, "1089-134691-0001")
	s := startServe(t, env, "--source", "file:"+u.WAV, "--source-label", "Demo hall")
	var list struct {
		Sessions []struct {
			ID, Label, State, Source string
		}
	}
	if code := liveAPI(t, s, "GET", "/v1/sessions", admin, nil, &list); code != 200 || len(list.Sessions) != 1 {
		t.Fatalf("sessions %d %+v", code, list)
	}
	ses := list.Sessions[0]
	if ses.Label != "Demo hall" || ses.State != "live" || !strings.HasPrefix(ses.Source, "file:") {
		t.Fatalf("source session %+v", ses)
	}
	// Catch-up gives a late viewer what was already said.
	v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
	checkLiveOrder(t, "source", awaitLiveWER(t, "source", v, u.Reference))
	if code := s.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, s.logs)
	}
	s2 := startServe(t, env, "--source", "file:"+u.WAV, "--source-label", "Demo hall")
	if code := liveAPI(t, s2, "GET", "/v1/sessions", admin, nil, &list); code != 200 || len(list.Sessions) != 1 || list.Sessions[0].ID != ses.ID {
		t.Fatalf("after a restart: %d %+v, want the one session %s reused", code, list, ses.ID)
	}
	if code := s2.stop(t); code != 0 {
		t.Fatalf("exit %d\n%s", code, s2.logs)
	}
	for _, args := range [][]string{{"--source", "tape:reel"}, {"--source-label", "x"}, {"--source", "file:" + u.WAV, "--source-label", ""}} {
		if r := run(t, env, append([]string{"serve"}, args...)...); r.code != exitUsage {
			t.Errorf("serve %q: exit %d, want %d", args, r.code, exitUsage)
		}
	}
}
