package admin

import (
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/prepare"
)

// LivePages are the console's session pages' dependencies (Options.Live).
type LivePages struct {
	Live   Live
	Pairer MicPairer
	// PublicURL is the origin phones reach the API listener on
	// (scheme://host[:port]); links and QR codes use it. Read on every
	// page, so a change on the Settings page applies at once.
	PublicURL func() string
	// QR renders text as an SVG QR code with an accessible name (web.QRSVG).
	QR func(text, label string) (string, error)
	// Exports are the transcript formats GET /sessions/{id}/transcript
	// serves (an extra Route from cmd/izwi), linked from a session that
	// keeps its transcript; nil: none.
	Exports []string
	// Pausable offers Pause and Resume of a live session (blank the
	// screens without ending it) when Live supports them.
	Pausable bool
	// Outputs are a session's caption outputs (issue 18: YouTube, OBS,
	// webhook, file): their health, and adding and removing them; nil
	// leaves the section out.
	Outputs Outputs
}

// maxVocabulary bounds the console's vocabulary field (words or phrases,
// one per line or comma-separated).
const maxVocabulary = 100

func (h *handlers) liveRoutes() []Route {
	if h.live == nil || h.live.Live == nil {
		return nil
	}
	r := func(method, pattern string, fn http.HandlerFunc) Route {
		return Route{Method: method, Pattern: pattern, Access: Operator, Handler: fn, form: true}
	}
	return []Route{
		r("GET", "/sessions", h.sessionsPage),
		r("POST", "/sessions", h.createSession),
		r("GET", "/sessions/{id}", h.sessionPage),
		r("POST", "/sessions/{id}/action", h.sessionAction),
		r("POST", "/sessions/{id}/pair", h.pairMic),
		r("POST", "/sessions/{id}/outputs", h.addOutput),
		r("POST", "/sessions/{id}/outputs/{oid}/remove", h.removeOutput),
		{Method: "POST", Pattern: "/sessions/{id}/context", Access: Operator, Handler: http.HandlerFunc(h.setContext),
			upload: true, MaxBody: maxContextBody},
		r("GET", "/api/sessions/{id}/status", h.sessionStatus),
	}
}

// sessionView is one session on its page: links and their QR codes.
type sessionView struct {
	LiveSession
	Links []sessionLink
	// Pair is a fresh microphone pairing (after POST .../pair).
	Pair *sessionLink
	// PairExpires is when Pair stops working.
	PairExpires time.Time
	// Actions are the controls offered in the session's state.
	Actions []LiveAction
	Created string // a link session's share URL, shown once after create
	// Exports are the transcript download formats (a kept transcript only).
	Exports []string
	// Outputs are the session's caption outputs (nil: the section is off).
	Outputs      []OutputLine
	OutputsShown bool
}

// sessionLink is one URL of a session with its QR code.
type sessionLink struct {
	Name, Purpose, URL string
	QR                 template.HTML
}

func (h *handlers) sessionsPage(w http.ResponseWriter, r *http.Request) {
	list, err := h.live.Live.List(r.Context())
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	slices.SortFunc(list, func(a, b LiveSession) int { return b.CreatedAt.Compare(a.CreatedAt) })
	h.render(w, r, http.StatusOK, "sessions", page{Title: "Sessions", Data: list})
}

// vocabulary splits the form's vocabulary field into words or phrases.
func vocabulary(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	if len(out) > maxVocabulary {
		return nil, ErrBadRequest
	}
	return out, nil
}

func (h *handlers) createSession(w http.ResponseWriter, r *http.Request) {
	f := formFrom(r)
	words, err := vocabulary(f["vocabulary"])
	if err != nil {
		h.failLive(w, r, err)
		return
	}
	req := NewSession{Label: strings.TrimSpace(f["label"]), ViewerMode: f["viewer_mode"], Password: f["viewer_password"],
		Vocabulary: words, KeepTranscript: f["keep_transcript"] == "on" || f["keep_transcript"] == "true"}
	if err := h.audit(r, "console.session.create", "", map[string]string{"viewer_mode": req.ViewerMode}); err != nil {
		h.failLive(w, r, err)
		return
	}
	s, err := h.live.Live.Create(r.Context(), req)
	if err != nil {
		h.failLive(w, r, err)
		return
	}
	if s.LinkToken != "" && wantsHTML(r) {
		// The link token is shown once, now, and kept nowhere.
		v := h.viewOf(r, s)
		v.Created = h.publicURL() + "/live/" + s.ID + "#t=" + s.LinkToken
		h.render(w, r, http.StatusCreated, "session", page{Title: "Session " + sessionTitle(s), Data: v, Scripts: []string{"/static/console.js"}})
		return
	}
	done(w, r, "/sessions/"+url.PathEscape(s.ID), s)
}

func (h *handlers) find(r *http.Request) (LiveSession, error) {
	id := r.PathValue("id")
	list, err := h.live.Live.List(r.Context())
	if err != nil {
		return LiveSession{}, err
	}
	for _, s := range list {
		if s.ID == id {
			return s, nil
		}
	}
	return LiveSession{}, ErrNotFound
}

func (h *handlers) sessionPage(w http.ResponseWriter, r *http.Request) {
	s, err := h.find(r)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	h.render(w, r, http.StatusOK, "session", page{Title: "Session " + sessionTitle(s), Data: h.viewOf(r, s),
		Scripts: []string{"/static/console.js"}})
}

func sessionTitle(s LiveSession) string {
	if s.Label != "" {
		return s.Label
	}
	return s.ID
}

func (h *handlers) sessionAction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	a := LiveAction(formFrom(r)["action"])
	if !slices.Contains([]LiveAction{ActStart, ActStop, ActPause, ActResume}, a) {
		h.failLive(w, r, ErrBadRequest)
		return
	}
	if err := h.audit(r, "console.session."+string(a), id, nil); err != nil {
		h.failLive(w, r, err)
		return
	}
	s, err := h.live.Live.Act(r.Context(), id, a)
	if err != nil {
		h.failLive(w, r, err)
		return
	}
	done(w, r, "/sessions/"+url.PathEscape(id), s)
}

// maxContextText bounds a prepared text typed or pasted into the console
// (prepare's bound); maxContextBody a whole upload form: the document, the
// text field and the multipart framing.
const (
	maxContextText = prepare.MaxTextBytes
	maxContextBody = prepare.MaxUploadBytes + maxContextText + 64<<10
)

// setContext replaces a session's prepared text with the form's text, or
// with the words of the uploaded document (TXT, Markdown, DOCX or PDF)
// when there is one. The text stays in memory; the audit entry records
// its size only.
func (h *handlers) setContext(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	text := formFrom(r)["text"]
	if up := uploadFrom(r); up != nil {
		var err error
		if text, err = prepare.Extract(up.Name, up.Data); err != nil {
			h.failLive(w, r, fmt.Errorf("%w: the document's text could not be read (%s)", ErrRefused,
				strings.TrimPrefix(err.Error(), prepare.ErrFormat.Error()+": ")))
			return
		}
	}
	if err := h.audit(r, "console.session.context", id, map[string]string{"bytes": strconv.Itoa(len(text))}); err != nil {
		h.failLive(w, r, err)
		return
	}
	s, err := h.live.Live.SetContext(r.Context(), id, text)
	if err != nil {
		h.failLive(w, r, err)
		return
	}
	done(w, r, "/sessions/"+url.PathEscape(id), s)
}

func (h *handlers) pairMic(w http.ResponseWriter, r *http.Request) {
	if h.live.Pairer == nil {
		h.failLive(w, r, ErrLiveUnsupported)
		return
	}
	s, err := h.find(r)
	if err != nil {
		h.fail(w, r, err, "")
		return
	}
	if err := h.audit(r, "console.mic.pair", s.ID, nil); err != nil {
		h.failLive(w, r, err)
		return
	}
	base := h.publicURL()
	code, exp, err := h.live.Pairer.PairMic(r.Context(), s.ID, base)
	if err != nil {
		h.failLive(w, r, err)
		return
	}
	u := base + "/mic/" + url.PathEscape(s.ID) + "#pair=" + code
	if !wantsHTML(r) {
		writeJSON(w, http.StatusOK, map[string]any{"url": u, "expires_at": exp})
		return
	}
	v := h.viewOf(r, s)
	l := h.link("Pair a microphone", "Scan with the phone or laptop that will be the microphone: it can send audio to this session only, once.", u)
	v.Pair, v.PairExpires = &l, exp
	h.render(w, r, http.StatusOK, "session", page{Title: "Session " + sessionTitle(s), Data: v, Scripts: []string{"/static/console.js"}})
}

func (h *handlers) sessionStatus(w http.ResponseWriter, r *http.Request) {
	st, err := h.live.Live.Status(r.Context(), r.PathValue("id"))
	if err != nil {
		h.failLive(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// viewOf builds a session's page: its links with QR codes and controls.
func (h *handlers) viewOf(r *http.Request, s LiveSession) sessionView {
	base := h.publicURL()
	id := url.PathEscape(s.ID)
	v := sessionView{LiveSession: s}
	if s.KeepTranscript {
		v.Exports = h.live.Exports
	}
	if h.live.Outputs != nil {
		v.Outputs, v.OutputsShown = h.live.Outputs.List(s.ID), true
	}
	phone := "Scan to follow the captions on a phone."
	if s.ViewerMode == "link" {
		phone = "A link session's phone link carries its token, shown once when it was created; the display shows a QR with it."
	}
	v.Links = []sessionLink{
		h.link("Phone", phone, base+"/live/"+id),
		h.link("Display", "Open on the screen or projector in the room.", base+"/display/"+id),
		h.link("Overlay", "Add as a browser source in OBS or a video mixer.", base+"/overlay/"+id),
		h.link("Microphone page", "Sends a device's microphone with an API key; or use Pair a microphone below.", base+"/mic/"+id),
	}
	switch s.State {
	case "idle", "interrupted":
		v.Actions = []LiveAction{ActStart, ActStop}
	case "live":
		v.Actions = []LiveAction{ActStop}
		if h.live.Pausable {
			v.Actions = []LiveAction{ActPause, ActStop}
		}
	case "paused":
		v.Actions = []LiveAction{ActResume, ActStop}
	}
	return v
}

func (h *handlers) link(name, purpose, u string) sessionLink {
	l := sessionLink{Name: name, Purpose: purpose, URL: u}
	if h.live.QR != nil {
		if svg, err := h.live.QR(u, "QR code: "+name); err == nil {
			l.QR = template.HTML(svg) // #nosec G203 -- our own SVG of module coordinates; the label is escaped
		}
	}
	return l
}

func (h *handlers) publicURL() string {
	if h.live.PublicURL == nil {
		return ""
	}
	return strings.TrimSuffix(h.live.PublicURL(), "/")
}

// audit records a console action by the logged-in user before it happens;
// if that fails, the action does not happen.
func (h *handlers) audit(r *http.Request, action, id string, details map[string]string) error {
	sess, _ := SessionFrom(r.Context())
	e := audit.Event{Actor: "user:" + sess.User.ID, Action: action, RemoteIP: remoteIP(r), RequestID: requestID(r.Context()),
		Details: details}
	if id != "" {
		e.Target = "session:" + id
	}
	return h.svc.record(r.Context(), e)
}

// failLive answers a failed session action: the message of a refusal the
// user can act on, the page they came from for a form.
func (h *handlers) failLive(w http.ResponseWriter, r *http.Request, err error) {
	var msg string
	status, code := http.StatusInternalServerError, "internal"
	switch {
	case errors.Is(err, ErrRefused):
		status, code, msg = http.StatusConflict, "refused", strings.TrimPrefix(err.Error(), "admin: refused: ")
	case errors.Is(err, ErrLiveUnsupported):
		status, code, msg = http.StatusNotImplemented, "unsupported", "this action is not available in this build"
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrBadRequest):
		status, code, msg = classify(err)
	default:
		h.svc.log.Error("admin: session action failed", "request_id", requestID(r.Context()), "route", r.Pattern, "err", err)
	}
	if wantsHTML(r) {
		list, _ := h.live.Live.List(r.Context())
		if msg == "" {
			msg = "internal error; quote the request ID " + requestID(r.Context())
		}
		h.render(w, r, status, "sessions", page{Title: "Sessions", Error: msg, Data: list})
		return
	}
	writeError(w, r, status, code, msg)
}
