package main

// Schedules for izwi serve: the console's Schedules page over
// internal/schedule's rules, and the runner's view of live captions
// (create, start, attach the source; stop).

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/source"
	"github.com/izwi-speech/izwi/internal/schedule"
)

// scheduleSessions is the runner's view of live captions.
type scheduleSessions struct{ l *liveParts }

var _ schedule.Sessions = scheduleSessions{}

func (s scheduleSessions) Begin(ctx context.Context, r schedule.Rule) (string, error) {
	var src source.Source
	if r.Source != "" {
		var err error
		if src, err = source.Parse(r.Source); err != nil {
			return "", err
		}
	}
	cr, err := s.l.manager.Create(ctx, "", live.CreateRequest{Label: r.Label, ViewerMode: live.ViewerMode(r.ViewerMode),
		Hotwords: r.Vocabulary, Start: true})
	if err != nil {
		return "", err
	}
	if src != nil {
		ing, err := s.l.manager.Attach(ctx, "", cr.ID, src.String())
		if err != nil {
			return cr.ID, fmt.Errorf("schedule: attaching %s: %w", src, err)
		}
		s.l.runSource(ctx, src, cr.ID, ing)
	}
	return cr.ID, nil
}

func (s scheduleSessions) End(ctx context.Context, id string) error {
	_, err := s.l.manager.Stop(ctx, "", id)
	if errors.Is(err, live.ErrNotFound) || errors.Is(err, live.ErrTransition) {
		return nil // gone, or stopped by hand already
	}
	return err
}

// consoleSchedules is the Schedules page over the rule store.
type consoleSchedules struct {
	rules schedule.RuleStore
	now   func() time.Time
}

var _ admin.Schedules = consoleSchedules{}

func (c consoleSchedules) List(ctx context.Context) ([]admin.ScheduleRow, error) {
	rules, err := c.rules.Rules(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]admin.ScheduleRow, 0, len(rules))
	for _, r := range rules {
		row := admin.ScheduleRow{ID: r.ID, Label: r.Label, TimeZone: r.TimeZone, Source: r.Source, ViewerMode: r.ViewerMode, Grace: r.Grace,
			When: when(r)}
		if w, ok := r.Next(c.now()); ok {
			loc, _ := time.LoadLocation(r.TimeZone)
			row.Next = w.Start.In(loc).Format("Mon 2 Jan 2006 15:04")
		}
		out = append(out, row)
	}
	return out, nil
}

func when(r schedule.Rule) string {
	if r.Kind == schedule.Once {
		return r.Date + " " + r.Start + "–" + r.Stop
	}
	days := make([]string, len(r.Weekdays))
	for i, d := range r.Weekdays {
		days[i] = d.String()[:3]
	}
	return "every " + strings.Join(days, ", ") + " " + r.Start + "–" + r.Stop
}

func (c consoleSchedules) Put(ctx context.Context, s admin.NewSchedule) error {
	r := schedule.Rule{ID: "sch_" + strings.ToLower(rand.Text()[:16]), Label: s.Label, Kind: schedule.Kind(s.Kind), TimeZone: s.TimeZone,
		Weekdays: s.Weekdays, Date: s.Date, Start: s.Start, Stop: s.Stop, Source: s.Source, ViewerMode: s.ViewerMode, Vocabulary: s.Vocabulary}
	if r.ViewerMode != "public" && r.ViewerMode != "private" {
		return fmt.Errorf("%w: viewers may be public or private for a scheduled session", admin.ErrRefused)
	}
	if s.Grace != "" {
		g, err := time.ParseDuration(s.Grace)
		if err != nil {
			return fmt.Errorf("%w: grace is a duration such as 15m", admin.ErrRefused)
		}
		r.Grace = g
	}
	if r.Source != "" {
		if _, err := source.Parse(r.Source); err != nil {
			return fmt.Errorf("%w: the source must be alsa:DEVICE or file:PATH", admin.ErrRefused)
		}
	}
	if err := r.Validate(); err != nil {
		return fmt.Errorf("%w: %s", admin.ErrRefused, strings.TrimPrefix(err.Error(), "schedule: invalid rule: "))
	}
	return c.rules.PutRule(ctx, r)
}

func (c consoleSchedules) Delete(ctx context.Context, id string) error {
	return c.rules.DeleteRule(ctx, id)
}

func (c consoleSchedules) Calendar(ctx context.Context, days int) ([]admin.CalendarDay, error) {
	rules, err := c.rules.Rules(ctx)
	if err != nil {
		return nil, err
	}
	now := c.now()
	type item struct {
		at   time.Time
		day  string
		item admin.CalendarItem
	}
	var items []item
	for _, r := range rules {
		loc, _ := time.LoadLocation(r.TimeZone)
		for _, w := range r.Occurrences(now, now.Add(time.Duration(days)*24*time.Hour)) {
			st, sp := w.Start.In(loc), w.Stop.In(loc)
			items = append(items, item{at: w.Start, day: st.Format("Mon 2 Jan 2006"),
				item: admin.CalendarItem{Label: r.Label, Start: st.Format("15:04"), Stop: sp.Format("15:04"), TimeZone: r.TimeZone}})
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].at.Before(items[j].at) })
	var out []admin.CalendarDay
	for _, it := range items {
		if len(out) == 0 || out[len(out)-1].Date != it.day {
			out = append(out, admin.CalendarDay{Date: it.day})
		}
		out[len(out)-1].Items = append(out[len(out)-1].Items, it.item)
	}
	return out, nil
}
