package live

import (
	"encoding/json"
	"errors"
	"testing"
	"time"
)

// A FrameFeed delivers the catch-up, then live events, each once, as the
// publisher's encoding shared by every feed; a feed that is not drained
// ends with ErrSlow and says so through notify.
func TestFrameFeed(t *testing.T) {
	e := newEnv(t)
	cfg := bigQueue
	cfg.ViewerBuffer = 8
	m := e.manager(cfg)
	c, err := m.Create(t.Context(), "k", CreateRequest{})
	if err != nil {
		t.Fatal(err)
	}
	sess, _ := m.lookup("", c.ID)
	base := sess.pub.publish(Event{Type: TypeCaption, Final: true, Text: "one"}).Seq
	sess.pub.publish(Event{Type: TypeCaption, Final: true, Segment: 1, Text: "two"})

	open := func() (FrameFeed, chan struct{}) {
		f, err := m.Watch(t.Context(), c.ID, base)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(f.Close)
		ff := f.(FrameFeed)
		rang := make(chan struct{}, 1)
		ff.Frames(t.Context(), func() {
			select {
			case rang <- struct{}{}:
			default:
			}
		})
		return ff, rang
	}
	a, rangA := open()
	b, _ := open()
	take := func(what string, f FrameFeed, rang chan struct{}, want ...string) []Frame {
		t.Helper()
		var got []Frame
		deadline := time.After(10 * time.Second)
		for len(got) < len(want) {
			select {
			case <-rang:
			case <-deadline:
				t.Fatalf("%s: %d of %d frames", what, len(got), len(want))
			}
			got = f.Take(got)
		}
		for i, fr := range got {
			var ev Event
			if err := json.Unmarshal(fr.JSON, &ev); err != nil || ev.Seq != fr.Seq || ev.Text != want[i] || ev.SessionID != c.ID {
				t.Fatalf("%s: frame %d = %d %s (%v), want %q", what, i, fr.Seq, fr.JSON, err, want[i])
			}
		}
		return got
	}
	take("catch-up", a, rangA, "two")
	sess.pub.publish(Event{Type: TypeCaption, Final: true, Segment: 2, Text: "three"})
	sess.pub.publish(Event{Type: TypeCaption, Final: true, Segment: 3, Text: "four"})
	fa := take("live", a, rangA, "three", "four")
	if more := a.Take(nil); len(more) != 0 {
		t.Fatalf("taken twice: %d more frames", len(more))
	}
	// b was not drained: its frames are the same bytes as a's.
	var fb []Frame
	eventually(t, 10*time.Second, "b's frames", func() bool { fb = b.Take(fb); return len(fb) >= 3 })
	if &fb[1].JSON[0] != &fa[0].JSON[0] {
		t.Error("each feed has its own copy of an event's encoding")
	}
	// Nine events without a Take overflow a's buffer of eight.
	for i := range 9 {
		sess.pub.publish(Event{Type: TypeCaption, Final: true, Segment: 4 + i, Text: "x"})
	}
	eventually(t, 10*time.Second, "a to fall behind", func() bool { return errors.Is(a.Err(), ErrSlow) })
	select {
	case <-rangA:
	case <-time.After(10 * time.Second):
		t.Fatal("the end was not notified")
	}
	if got := a.Take(nil); len(got) != 0 {
		t.Fatalf("an ended feed gave %d frames", len(got))
	}
}

// After a takeover the new owner's history may start past what the feed
// has queued from the old owner: the queue is delivered, not skipped.
func TestFrameFeedCatchUpStopsAtTheQueue(t *testing.T) {
	it := func(seq uint64) *item { return &item{ev: Event{Seq: seq}, frame: Frame{Seq: seq}} }
	f := &feed{after: 4, last: 4, catchup: []Frame{{Seq: 10}, {Seq: 11}}, queue: []*item{it(5), it(6), it(10)}}
	var seqs []uint64
	for _, fr := range f.Take(nil) {
		seqs = append(seqs, fr.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 5 || seqs[1] != 6 || seqs[2] != 10 {
		t.Fatalf("took %v, want [5 6 10]", seqs)
	}
}
