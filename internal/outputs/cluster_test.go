package outputs_test

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/outputs"
	"github.com/izwi-speech/izwi/internal/outputs/outputstest"
	"github.com/izwi-speech/izwi/internal/store"
)

// logSource is a session's events as a cluster's bus keeps them: a feed
// opened after a seq gets what followed it, then what is published.
type logSource struct {
	mu    sync.Mutex
	evs   []live.Event
	feeds map[*logFeed]bool
}

type logFeed struct {
	src  *logSource
	ch   chan live.Event
	once sync.Once
}

func (f *logFeed) Events() <-chan live.Event { return f.ch }
func (f *logFeed) Err() error                { return nil }
func (f *logFeed) Close() {
	f.once.Do(func() {
		f.src.mu.Lock()
		delete(f.src.feeds, f)
		close(f.ch)
		f.src.mu.Unlock()
	})
}

func (s *logSource) Open(_ context.Context, _, _ string, after uint64) (live.Feed, error) {
	f := &logFeed{src: s, ch: make(chan live.Event, 64)}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.evs {
		if e.Seq > after {
			f.ch <- e
		}
	}
	s.feeds[f] = true
	return f, nil
}

func (s *logSource) Offers(context.Context, live.Info, string) error { return nil }

func (s *logSource) final(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq := uint64(len(s.evs) + 1)
	e := live.Event{Type: live.TypeCaption, SessionID: "ses_1", Seq: seq, Segment: int(seq), Final: true, Text: text,
		Start: float64(seq), End: float64(seq) + 0.5, Time: time.Now()}
	s.evs = append(s.evs, e)
	for f := range s.feeds {
		f.ch <- e
	}
}

// clusterManager is one process of a cluster on st: it holds ses_1 while
// holder names it.
func clusterManager(t *testing.T, st *store.Store, src *logSource, dir, name string, holder *atomic.Value) *outputs.Manager {
	t.Helper()
	return restored(t, outputs.Options{Source: src, Store: st, CredentialsDir: dir, SyncEvery: 50 * time.Millisecond,
		Holds: func(id string) bool { return id == "ses_1" && holder.Load() == name }})
}

// In a cluster an output added through a gateway runs in its session's
// lease holder only, moves with the lease, and the next holder resumes
// after the last caption sent, YouTube's seq growing on: every caption
// reaches YouTube once.
func TestStoreClusterOutputsFollowTheLease(t *testing.T) {
	st, dir := openStore(t), t.TempDir()
	yt := outputstest.NewYouTube("yt-lease")
	defer yt.Close()
	writeCred(t, dir, "youtube", yt.IngestionURL())
	src := &logSource{feeds: map[*logFeed]bool{}}
	var holder atomic.Value
	holder.Store("a")
	gw := clusterManager(t, st, src, dir, "gateway", &holder)
	a := clusterManager(t, st, src, dir, "a", &holder)
	b := clusterManager(t, st, src, dir, "b", &holder)

	info, err := gw.Add(t.Context(), "ses_1", outputs.Spec{Kind: outputs.KindYouTube, Credentials: "youtube"})
	if err != nil || info.Health.State != "starting" {
		t.Fatalf("add through the gateway: %+v %v", info, err)
	}
	state := func(m *outputs.Manager) string {
		l := m.List("ses_1")
		if len(l) != 1 || l[0].ID != info.ID {
			return ""
		}
		return l[0].Health.State
	}
	waitFor(t, "the holder runs the output", func() bool { return state(a) == "running" })
	if state(gw) != "elsewhere" || state(b) != "elsewhere" {
		t.Fatalf("the others list the output as %q and %q, want elsewhere", state(gw), state(b))
	}
	texts := func() []string {
		var out []string
		for _, c := range yt.Captions() {
			out = append(out, c.Text)
		}
		return out
	}
	src.final("one")
	src.final("two")
	waitFor(t, "two captions", func() bool { return len(yt.Captions()) == 2 })

	holder.Store("b") // a's lease lost, b takes the session over
	waitFor(t, "the new holder runs the output", func() bool { return state(b) == "running" && state(a) == "elsewhere" })
	src.final("three")
	waitFor(t, "three captions", func() bool { return len(yt.Captions()) == 3 })

	// Removed through the gateway: the holder stops it; a caption
	// published afterwards goes nowhere.
	if err := gw.Remove(t.Context(), "ses_1", info.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the holder stops the removed output", func() bool { return len(b.List("ses_1")) == 0 })
	src.final("four")
	if err := gw.Remove(t.Context(), "ses_1", info.ID); err != outputs.ErrNotFound {
		t.Fatalf("removing it again: %v, want ErrNotFound", err)
	}
	caps := yt.Captions()
	if got := texts(); !slices.Equal(got, []string{"one", "two", "three"}) || len(yt.Problems()) > 0 || caps[2].Seq != 3 {
		t.Fatalf("YouTube got %q (seqs %+v, problems %v), want each caption once with seq 1 to 3", got, caps, yt.Problems())
	}
}
