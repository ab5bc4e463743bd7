package admin

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Schedules is what the Schedules page needs (cmd/izwi adapts
// internal/schedule, which owns the rules and starts and stops sessions).
type Schedules interface {
	List(ctx context.Context) ([]ScheduleRow, error)
	Put(ctx context.Context, s NewSchedule) error
	Delete(ctx context.Context, id string) error
	// Calendar lists the occurrences of the next days, by local date.
	Calendar(ctx context.Context, days int) ([]CalendarDay, error)
}

// ScheduleRow is one rule as the page lists it.
type ScheduleRow struct {
	ID, Label, When, TimeZone, Source, ViewerMode string
	Grace                                         time.Duration
	Next                                          string // "" none
}

// NewSchedule is the create form as typed; the implementation validates it.
type NewSchedule struct {
	Label, Kind, TimeZone, Date, Start, Stop, Grace, Source, ViewerMode string
	Weekdays                                                            []time.Weekday
	Vocabulary                                                          []string
}

// CalendarDay is one day of the calendar view.
type CalendarDay struct {
	Date  string // "Sun 7 Jun 2026"
	Items []CalendarItem
}

// CalendarItem is one occurrence on a day.
type CalendarItem struct{ Label, Start, Stop, TimeZone string }

// calendarDays is how far the calendar looks ahead.
const calendarDays = 14

type schedulesData struct {
	Rules    []ScheduleRow
	Calendar []CalendarDay
	Days     []time.Weekday
}

func (h *handlers) scheduleRoutes() []Route {
	if h.ops == nil || h.ops.Schedules == nil {
		return nil
	}
	r := func(method, pattern string, fn http.HandlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Access: Operator, Handler: fn, form: true}
	}
	return []Route{r("GET", "/schedules", h.schedulesPage), r("POST", "/schedules", h.createSchedule),
		r("POST", "/schedules/{id}/delete", h.deleteSchedule)}
}

func (h *handlers) renderSchedules(w http.ResponseWriter, r *http.Request, status int, msg string) {
	rules, err := h.ops.Schedules.List(r.Context())
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	cal, err := h.ops.Schedules.Calendar(r.Context(), calendarDays)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	if !wantsHTML(r) && msg == "" {
		writeJSON(w, status, map[string]any{"schedules": rules, "calendar": cal})
		return
	}
	h.render(w, r, status, "schedules", page{Title: "Schedules", Error: msg, Data: schedulesData{Rules: rules, Calendar: cal,
		Days: []time.Weekday{time.Sunday, time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday, time.Saturday}}})
}

func (h *handlers) schedulesPage(w http.ResponseWriter, r *http.Request) {
	h.renderSchedules(w, r, http.StatusOK, "")
}

func (h *handlers) createSchedule(w http.ResponseWriter, r *http.Request) {
	f := formFrom(r)
	words, err := vocabulary(f["vocabulary"])
	if err != nil {
		h.opsFail(w, r, err, func(status int, msg string) { h.renderSchedules(w, r, status, msg) })
		return
	}
	s := NewSchedule{Label: strings.TrimSpace(f["label"]), Kind: f["kind"], TimeZone: strings.TrimSpace(f["time_zone"]),
		Date: f["date"], Start: f["start"], Stop: f["stop"], Grace: f["grace"], Source: strings.TrimSpace(f["source"]),
		ViewerMode: f["viewer_mode"], Vocabulary: words}
	for d := time.Sunday; d <= time.Saturday; d++ {
		if v := f["day_"+d.String()[:3]]; v == "on" || v == "true" {
			s.Weekdays = append(s.Weekdays, d)
		}
	}
	if err := h.audit(r, "console.schedule.create", "", map[string]string{"kind": s.Kind}); err != nil {
		h.fail(w, r, err, "")
		return
	}
	if err := h.ops.Schedules.Put(r.Context(), s); err != nil {
		h.opsFail(w, r, err, func(status int, msg string) { h.renderSchedules(w, r, status, msg) })
		return
	}
	done(w, r, "/schedules", map[string]bool{"ok": true})
}

func (h *handlers) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := h.audit(r, "console.schedule.delete", "", map[string]string{"schedule_id": id}); err != nil {
		h.fail(w, r, err, "")
		return
	}
	if err := h.ops.Schedules.Delete(r.Context(), id); err != nil {
		h.opsFail(w, r, err, func(status int, msg string) { h.renderSchedules(w, r, status, msg) })
		return
	}
	done(w, r, "/schedules", map[string]bool{"ok": true})
}
