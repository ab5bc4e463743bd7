package limit

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

// AudioLeft is the daily audio allowance minus what was charged, in one
// process and when two processes share the quota through a database (one
// process's unused grant counts as its own to spend); no limit is "not
// limited".
func TestAudioLeft(t *testing.T) {
	ctx, p := context.Background(), key("k")
	path := filepath.Join(t.TempDir(), "izwi.db")
	for _, tc := range []struct {
		name   string
		shared bool
	}{{"alone", false}, {"shared", true}} {
		o := Options{Defaults: Limits{AudioMinutesPerDay: 1}, Now: newClock(noon).Now}
		var other *Limiter
		if tc.shared {
			o.Store = openStore(t, path)
			o2 := o
			o2.Store = openStore(t, path)
			other = newLimiter(t, o2)
		}
		l := newLimiter(t, o)
		if err := l.ChargeAudio(ctx, p, 20*time.Second); err != nil {
			t.Fatal(err)
		}
		if other != nil {
			if err := other.ChargeAudio(ctx, p, 15*time.Second); err != nil {
				t.Fatal(err)
			}
		}
		want := 40 * time.Second
		if tc.shared {
			want = 25 * time.Second
		}
		left, limited, err := l.AudioLeft(ctx, p)
		if err != nil || !limited || left != want {
			t.Errorf("%s: AudioLeft = %v, %v, %v; want %v", tc.name, left, limited, err, want)
		}
	}
	free := newLimiter(t, Options{Now: newClock(noon).Now})
	if _, limited, err := free.AudioLeft(ctx, p); limited || err != nil {
		t.Errorf("no audio limit: limited %v, %v", limited, err)
	}
}
