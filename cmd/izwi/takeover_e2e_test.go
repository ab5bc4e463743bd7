package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/bus/natstest"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/outputs/outputstest"
	"github.com/izwi-speech/izwi/internal/store/pgtest"
	"github.com/izwi-speech/izwi/internal/wer"
)

// takenRE finds a worker's "session taken" log line for a live session.
func takenRE(id string) *regexp.Regexp {
	return regexp.MustCompile(`"msg":"live: session taken".*"session_id":"` + id + `","state":"live"`)
}

// awaitLog polls s's log until re matches, failing after d.
func awaitLog(t *testing.T, s *server, re *regexp.Regexp, d time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	for !re.MatchString(s.logs.String()) {
		if time.Since(start) > d {
			dumpServer(t, s, what+": not within "+d.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return time.Since(start)
}

// Two gateways and two workers (izwi serve --role) on one PostgreSQL
// database and a three-node NATS cluster: a session is created and fed
// through gateway A and watched through gateway B; the worker running it
// is killed (SIGKILL) mid-utterance; the other worker takes the session
// within 5 s, recognises again the audio since the last final; then a
// NATS node is killed; the viewer on B sees every event once, in order, without a gap in seq, with
// finals as good as on one process. A YouTube caption output added
// through gateway B runs in the session's worker only: the ingestion
// double gets every final the viewer saw exactly once, in order, its seq
// growing across the takeover.
func TestClusterWorkerTakeover(t *testing.T) {
	nats := natstest.StartSecured(t, natstest.Izwi(izwiBin))
	yt := outputstest.NewYouTube("yt-cluster")
	defer yt.Close()
	creds := t.TempDir()
	if err := os.WriteFile(filepath.Join(creds, "youtube"), []byte(yt.IngestionURL()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every link of the bus is TLS and each role has its NKey.
	base := append(liveEnv(t), "IZWI_DATABASE="+pgtest.DSN(t), "IZWI_OUTPUTS_CREDENTIALS_DIR="+creds)
	env := append(slices.Clone(base), nats.Env(bus.RoleGateway)...)
	workerEnv := append(slices.Clone(base), nats.Env(bus.RoleWorker)...)
	key := newKey(t, env, "--name", "room", "--scopes", "live.write,live.read", "--limits", `{"rps":-1}`)
	gwA := startServe(t, env, "--role", "gateway")
	gwB := startServe(t, env, "--role", "gateway")
	workers := []*server{startServe(t, workerEnv, "--role", "worker"), startServe(t, workerEnv, "--role", "worker")}

	u, samples := liveUtterance(t, "1089-134686-0000")
	ses := createLiveSession(t, gwA, key, map[string]any{"label": "cluster", "start": true})
	viewer, _ := watchLiveWS(t, liveWSURL(gwB, "/v1/sessions/"+ses.ID+"/captions"), nil)
	var out outputs.Info
	if code := liveAPI(t, gwB, "POST", "/v1/sessions/"+ses.ID+"/outputs", key, outputs.Spec{Kind: "youtube", Credentials: "youtube"}, &out); code != 201 || out.ID == "" {
		t.Fatalf("add a youtube output through gateway B: %d", code)
	}
	owner := -1
	for deadline := time.Now().Add(10 * time.Second); owner < 0; time.Sleep(20 * time.Millisecond) {
		for i, w := range workers {
			if strings.Contains(w.logs.String(), `"msg":"live: session taken"`) && strings.Contains(w.logs.String(), `"session_id":"`+ses.ID+`"`) {
				owner = i
			}
		}
		if owner < 0 && time.Now().After(deadline) {
			t.Fatal("no worker took the session")
		}
	}
	done := make(chan struct{})
	go func() { defer close(done); streamPaced(t, gwA, key, ses.ID, samples, 2) }()
	// Kill the owner once a final has reached the viewer on B.
	deadline := time.Now().Add(60 * time.Second)
	for !strings.Contains(liveFinals(viewer.snapshot()), " ") {
		if time.Now().After(deadline) {
			dumpServer(t, workers[owner], "no final reached gateway B")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := workers[owner].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	runs := regexp.MustCompile(`"msg":"caption output running here".*"output_id":"` + out.ID + `"`)
	if !runs.MatchString(workers[owner].logs.String()) {
		dumpServer(t, workers[owner], "the owner does not run the session's output")
	}
	took := awaitLog(t, workers[1-owner], takenRE(ses.ID), 5*time.Second, "the other worker takes the session")
	t.Logf("taken over %v after the SIGKILL", took)
	// A node of the NATS cluster dies too, mid-session: every process moves
	// to the other two, and JetStream (three replicas) keeps the session's
	// audio, marks and leases, so no final is lost.
	nats.Kill(1)
	// A process started now (an upgrade, a restart) runs no stored output
	// of a session it does not hold.
	gwC := startServe(t, env, "--role", "gateway")
	var list struct {
		Outputs []outputs.Info `json:"outputs"`
	}
	if code := liveAPI(t, gwC, "GET", "/v1/sessions/"+ses.ID+"/outputs", key, nil, &list); code != 200 || len(list.Outputs) != 1 ||
		list.Outputs[0].ID != out.ID || list.Outputs[0].Health.State != "elsewhere" {
		t.Fatalf("outputs listed through a new gateway: %d %+v", code, list)
	}
	<-done
	checkBusLogs(t, nats, gwA, gwB, gwC, workers[0], workers[1])
	awaitLiveWER(t, "across the takeover", viewer, u.Reference)
	// Every final, up to the end of the audio, arrives: none was lost to
	// the dead worker or the dead NATS node.
	evs := awaitLastFinal(t, viewer, float64(len(samples))/16000-1, gwA, workers[1-owner])
	if e := wer.Compute(u.Reference, liveFinals(evs)).Rate(); e > maxTakeoverWER {
		t.Fatalf("across the takeover and the NATS node's death: WER %.3f > %.2f; finals %q", e, maxTakeoverWER, liveFinals(evs))
	}
	checkLiveOrder(t, "across the takeover", evs)
	states := []live.State{}
	for _, e := range evs {
		if e.Type == live.TypeState {
			states = append(states, e.State)
		}
	}
	t.Logf("states seen on B: %v; finals %q", states, liveFinals(evs))
	if i := slices.Index(states, live.Interrupted); i < 0 || !slices.Contains(states[i:], live.Live) {
		t.Fatalf("states on B %v: want the session interrupted, then live again", states)
	}
	awaitLog(t, workers[1-owner], runs, 5*time.Second, "the new owner runs the output")
	for _, s := range []*server{gwA, gwB, gwC} {
		if runs.MatchString(s.logs.String()) {
			dumpServer(t, s, "a gateway runs a caption output")
		}
	}
	var want []string
	for _, e := range evs {
		if e.Type == live.TypeCaption && e.Final && e.Text != "" {
			want = append(want, strings.Join(strings.Fields(e.Text), " "))
		}
	}
	var got []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		got = got[:0]
		for _, c := range yt.Captions() {
			got = append(got, c.Text)
		}
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
	}
	t.Logf("YouTube got %d captions, seq %d to %d", len(got), yt.Captions()[0].Seq, yt.Captions()[len(got)-1].Seq)
	if !slices.Equal(got, want) || len(yt.Problems()) > 0 {
		t.Fatalf("YouTube got %q (problems %v); want each final once, in order: %q", got, yt.Problems(), want)
	}
	checkBusLogs(t, nats, gwA, gwB, gwC, workers[0], workers[1])
}

// maxTakeoverWER bounds the whole utterance's WER across a takeover: runs
// gave 0.25–0.36 (the new worker re-reads from 300 ms before the last
// final's end, which can split a phrase); a final lost in the takeover or
// to a dead NATS node drops a third of the 28 words or more (≥ 0.55).
const maxTakeoverWER = 0.45

// awaitLastFinal waits, up to a deadline, for a final caption ending at or
// after end seconds of the stream, and returns the events seen by then.
func awaitLastFinal(t *testing.T, v *captionViewer, end float64, show ...*server) []live.Event {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		evs := v.snapshot()
		for _, e := range evs {
			if e.Type == live.TypeCaption && e.Final && e.End >= end {
				return evs
			}
		}
		if time.Now().After(deadline) {
			for _, s := range show {
				logs := s.logs.String()
				t.Logf("log of %s (last 30,000 bytes):\n%s", s.url, logs[max(0, len(logs)-30000):])
			}
			t.Fatalf("no final reached %.1f s of the stream within 30 s; finals %q", end, liveFinals(evs))
		}
	}
}
