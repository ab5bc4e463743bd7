package schedule

import (
	"errors"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestWeeklyAcrossDST: a 09:30 Sunday service in London is at 09:30 UTC in
// winter and 08:30 UTC once the clocks go forward (29 March 2026), and back
// again after 25 October; an overnight vigil ends the next morning.
func TestWeeklyAcrossDST(t *testing.T) {
	r := Rule{ID: "r1", Label: "Sunday service", Kind: Weekly, TimeZone: "Europe/London", Weekdays: []time.Weekday{time.Sunday},
		Start: "09:30", Stop: "11:00", Grace: 15 * time.Minute, ViewerMode: "public"}
	if err := r.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ now, start, stop string }{
		{"2026-03-20T12:00:00Z", "2026-03-22T09:30:00Z", "2026-03-22T11:00:00Z"},
		{"2026-03-22T12:00:00Z", "2026-03-29T08:30:00Z", "2026-03-29T10:00:00Z"}, // BST
		{"2026-10-20T00:00:00Z", "2026-10-25T09:30:00Z", "2026-10-25T11:00:00Z"}, // GMT again that morning
	} {
		w, ok := r.Next(utc(c.now))
		if !ok || !w.Start.Equal(utc(c.start)) || !w.Stop.Equal(utc(c.stop)) {
			t.Errorf("next after %s: %v %v, want %s–%s", c.now, w, ok, c.start, c.stop)
		}
	}
	if w, ok := r.Current(utc("2026-03-29T09:59:59Z")); !ok || !w.Start.Equal(utc("2026-03-29T08:30:00Z")) {
		t.Errorf("current during the BST service: %v %v", w, ok)
	}
	if _, ok := r.Current(utc("2026-03-29T10:00:00Z")); ok {
		t.Error("the service runs past its stop")
	}

	vigil := Rule{ID: "r2", Label: "Vigil", Kind: Once, TimeZone: "Africa/Johannesburg", Date: "2026-12-24", Start: "22:00", Stop: "01:00"}
	w, ok := vigil.Current(utc("2026-12-24T22:30:00Z")) // 00:30 local on the 25th
	if !ok || !w.Start.Equal(utc("2026-12-24T20:00:00Z")) || !w.Stop.Equal(utc("2026-12-24T23:00:00Z")) {
		t.Errorf("overnight one-off: %v %v", w, ok)
	}
	if _, ok := vigil.Next(utc("2026-12-25T00:00:00Z")); ok {
		t.Error("a one-off event has a next occurrence after it")
	}
	vigil.Disabled = true
	if _, ok := vigil.Current(utc("2026-12-24T22:30:00Z")); ok {
		t.Error("a disabled rule runs")
	}
}

func TestValidate(t *testing.T) {
	ok := Rule{Label: "x", Kind: Weekly, TimeZone: "UTC", Weekdays: []time.Weekday{time.Monday}, Start: "10:00", Stop: "11:00"}
	for name, mut := range map[string]func(*Rule){
		"no label": func(r *Rule) { r.Label = "" }, "bad zone": func(r *Rule) { r.TimeZone = "Mars/Olympus" },
		"bad time": func(r *Rule) { r.Start = "25:00" }, "no weekday": func(r *Rule) { r.Weekdays = nil },
		"bad weekday": func(r *Rule) { r.Weekdays = []time.Weekday{9} }, "grace": func(r *Rule) { r.Grace = 7 * time.Hour },
		"kind": func(r *Rule) { r.Kind = "daily" }, "once without date": func(r *Rule) { r.Kind = Once },
	} {
		r := ok
		mut(&r)
		if err := r.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
}

func FuzzRule(f *testing.F) {
	f.Add("weekly", "Europe/London", "09:30", "11:00", "2026-03-29", int64(0))
	f.Add("once", "Africa/Johannesburg", "22:00", "01:00", "2026-12-24", int64(1800))
	f.Fuzz(func(t *testing.T, kind, zone, start, stop, date string, from int64) {
		r := Rule{Label: "x", Kind: Kind(kind), TimeZone: zone, Start: start, Stop: stop, Date: date,
			Weekdays: []time.Weekday{time.Sunday, time.Wednesday}}
		if r.Validate() != nil {
			return
		}
		now := time.Unix(1_790_000_000+from%(1<<30), 0)
		for _, w := range r.Occurrences(now, now.Add(30*24*time.Hour)) {
			if !w.Stop.After(w.Start) || w.Stop.Sub(w.Start) > 25*time.Hour {
				t.Fatalf("window %v", w)
			}
		}
		if w, ok := r.Current(now); ok && (now.Before(w.Start) || !now.Before(w.Stop)) {
			t.Fatalf("current %v does not hold %v", w, now)
		}
	})
}
