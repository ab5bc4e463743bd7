package admin

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeLive stands in for live.Manager behind admin.Live (the real one is
// driven by cmd/izwi's browser test).
type fakeLive struct {
	mu       sync.Mutex
	sessions []LiveSession
	pairs    []string // origins asked for
	contexts []string // prepared texts set
}

var (
	_ Live      = (*fakeLive)(nil)
	_ MicPairer = (*fakeLive)(nil)
)

func (f *fakeLive) List(context.Context) ([]LiveSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]LiveSession(nil), f.sessions...), nil
}

func (f *fakeLive) Create(_ context.Context, req NewSession) (LiveSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if req.Label == "bad" {
		return LiveSession{}, ErrRefused
	}
	s := LiveSession{ID: "ses_" + strings.Repeat("a", len(f.sessions)+1), Label: req.Label, State: "idle",
		ViewerMode: "public", Vocabulary: req.Vocabulary, KeepTranscript: req.KeepTranscript, CreatedAt: time.Now()}
	f.sessions = append(f.sessions, s)
	return s, nil
}

func (f *fakeLive) Act(_ context.Context, id string, a LiveAction) (LiveSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.sessions {
		if f.sessions[i].ID == id {
			f.sessions[i].State = map[LiveAction]string{ActStart: "live", ActStop: "stopped"}[a]
			return f.sessions[i], nil
		}
	}
	return LiveSession{}, ErrNotFound
}

func (f *fakeLive) Status(_ context.Context, id string) (LiveStatus, error) {
	return LiveStatus{State: "live", Level: 0.5, Viewers: 3, Capacity: "fake: 1 of 2 in use"}, nil
}

func (f *fakeLive) SetContext(_ context.Context, id, text string) (LiveSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.sessions {
		if f.sessions[i].ID == id {
			f.contexts = append(f.contexts, text)
			f.sessions[i].Context = nil
			if text != "" {
				f.sessions[i].Context = &LiveContext{Bytes: len(text)}
			}
			return f.sessions[i], nil
		}
	}
	return LiveSession{}, ErrNotFound
}

func (f *fakeLive) PairMic(_ context.Context, id, origin string) (string, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pairs = append(f.pairs, origin)
	return "izt_code", time.Now().Add(time.Minute), nil
}

func (f *fakeLive) state(i int) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.sessions[i].State
}

func (c *client) page(path string) reply {
	c.e.t.Helper()
	req, _ := http.NewRequest("GET", c.e.url+path, nil)
	req.Header.Set("Accept", "text/html")
	return c.send(req)
}

// TestSessionPages: an operator runs a session from the console: the
// navigation shows what the role may open, every action needs the CSRF
// token and is audited as the user before it happens (no audit, no
// action), links and QR codes use the public URL, the pairing QR carries
// a code in the fragment.
func TestSessionPages(t *testing.T) {
	e := newEnv(t)
	fl := &fakeLive{}
	e.live = &LivePages{Live: fl, Pairer: fl, PublicURL: func() string { return "https://captions.example.org" },
		QR: func(text, label string) (string, error) {
			return `<svg role="img" aria-label="` + label + `"></svg>`, nil
		},
		Outputs: newFakeOutputs()}
	e.start()
	admin := e.setup()
	const opPass = "operator passphrase one"
	if r := admin.do("POST", "/api/users", map[string]string{"name": "op", "role": "operator", "password": opPass}); r.status != 200 {
		t.Fatalf("create operator: %d %s", r.status, r.raw)
	}
	op := e.client()
	opUser := op.login("op", opPass, "full").body["user"].(map[string]any)

	p := op.page("/sessions")
	if p.status != 200 || !strings.Contains(p.raw, `href="/sessions" aria-current="page"`) || strings.Contains(p.raw, `href="/users"`) ||
		!strings.Contains(p.raw, `class="skip" href="#main"`) {
		t.Fatalf("the operator's sessions page: %d\n%s", p.status, p.raw)
	}
	if p := admin.page("/sessions"); !strings.Contains(p.raw, `href="/users"`) {
		t.Fatal("the administrator's navigation has no Users")
	}

	// No CSRF token: refused before the form is used.
	noCSRF := e.client()
	noCSRF.login("op", opPass, "full")
	noCSRF.csrf = ""
	if r := noCSRF.do("POST", "/sessions", map[string]string{"label": "x"}); r.status != http.StatusForbidden || r.code() != "csrf" {
		t.Fatalf("create without CSRF: %d %s", r.status, r.raw)
	}
	if len(fl.sessions) != 0 {
		t.Fatal("a session was created without a CSRF token")
	}

	r := op.form("/sessions", url.Values{"csrf": {op.csrf}, "label": {"Sunday"}, "vocabulary": {"Thabo, izwi:IH Z W IY\nNomsa"},
		"keep_transcript": {"on"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/sessions/ses_a" {
		t.Fatalf("create: %d %s", r.status, r.raw)
	}
	if s := fl.sessions[0]; len(s.Vocabulary) != 3 || s.Vocabulary[1] != "izwi:IH Z W IY" || !s.KeepTranscript {
		t.Fatalf("created %+v", s)
	}
	ev := e.audit.Find("console.session.create", "ok")
	if len(ev) != 1 || ev[0].Actor != "user:"+opUser["id"].(string) {
		t.Fatalf("create audit: %+v", ev)
	}

	p = op.page("/sessions/ses_a")
	for _, want := range []string{`https://captions.example.org/display/ses_a`, `https://captions.example.org/live/ses_a`,
		`aria-label="QR code: Display"`, `data-poll="/api/sessions/ses_a/status"`, `src="/static/console.js"`, `id="action-start"`,
		// Issue 18: each caption output's health line.
		`<tr data-output="youtube">`, `16:05:28 UTC`, `<tr data-output="obs">`, `<td>es</td>`, `<td data-field="state">retrying</td>`, `<td>obs_501</td>`} {
		if !strings.Contains(p.raw, want) {
			t.Errorf("the session page lacks %s", want)
		}
	}
	if csp := p.header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("the session page's CSP does not allow its script: %q", csp)
	}
	if csp := op.page("/account").header.Get("Content-Security-Policy"); strings.Contains(csp, "script-src") {
		t.Errorf("a page without scripts allows them: %q", csp)
	}

	// No audit, no action.
	e.audit.SetFail(true)
	if r := op.do("POST", "/sessions/ses_a/action", map[string]string{"action": "start"}); r.status != http.StatusInternalServerError {
		t.Fatalf("start with the audit log down: %d %s", r.status, r.raw)
	}
	if fl.state(0) != "idle" {
		t.Fatal("the session started although its audit record failed")
	}
	e.audit.SetFail(false)
	if r := op.do("POST", "/sessions/ses_a/action", map[string]string{"action": "start"}); r.status != 200 || fl.state(0) != "live" {
		t.Fatalf("start: %d %s", r.status, r.raw)
	}
	if r := op.do("POST", "/sessions/ses_a/action", map[string]string{"action": "explode"}); r.status != http.StatusBadRequest {
		t.Fatalf("an unknown action: %d", r.status)
	}
	if r := op.do("POST", "/sessions", map[string]string{"label": "bad"}); r.status != http.StatusConflict {
		t.Fatalf("a refused create: %d %s", r.status, r.raw)
	}

	r = op.do("POST", "/sessions/ses_a/pair", map[string]string{})
	if r.status != 200 || r.body["url"] != "https://captions.example.org/mic/ses_a#pair=izt_code" ||
		len(fl.pairs) != 1 || fl.pairs[0] != "https://captions.example.org" {
		t.Fatalf("pair: %d %s (origins %v)", r.status, r.raw, fl.pairs)
	}
	if len(e.audit.Find("console.mic.pair", "ok")) != 1 {
		t.Fatal("pairing was not audited")
	}
	if r := op.do("GET", "/api/sessions/ses_a/status", nil); r.status != 200 || r.body["viewers"] != 3.0 {
		t.Fatalf("status: %d %s", r.status, r.raw)
	}
	if r := e.client().do("GET", "/api/sessions/ses_a/status", nil); r.status != http.StatusUnauthorized {
		t.Fatalf("status without a session: %d", r.status)
	}
	if r := op.page("/sessions/nope"); r.status != http.StatusNotFound {
		t.Fatalf("an unknown session: %d", r.status)
	}
	testPreparedTextForm(t, op, fl, e)
	testOutputsForm(t, op, e.live.Outputs.(*fakeOutputs), e)
}

// upload posts a multipart form as a browser's file form would: the CSRF
// field first, then the text and, with name set, one document.
func (c *client) upload(path, csrf, text, name string, doc []byte) reply {
	c.e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mw.WriteField("csrf", csrf)
	mw.WriteField("text", text)
	fw, _ := mw.CreateFormFile("document", name)
	fw.Write(doc)
	mw.Close()
	req, _ := http.NewRequest("POST", c.e.url+path, &b)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return c.send(req)
}

// testPreparedTextForm: the session page takes prepared text typed in or
// as a document, whose words (not its bytes) reach the session; the audit
// entry holds the size only; a wrong CSRF token, a document that is not
// what it claims and a form beyond the bound are refused before anything
// is set.
func testPreparedTextForm(t *testing.T, op *client, fl *fakeLive, e *env) {
	t.Helper()
	if p := op.page("/sessions/ses_a"); !strings.Contains(p.raw, `enctype="multipart/form-data"`) || !strings.Contains(p.raw, `id="context-size">None yet.`) {
		t.Fatalf("the session page offers no prepared-text form:\n%s", p.raw)
	}
	r := op.upload("/sessions/ses_a/context", op.csrf, "", "order.md", []byte("# Order of service\n\nReading by **Nokuthula Dlamini**\n"))
	if r.status != http.StatusSeeOther || len(fl.contexts) != 1 || !strings.Contains(fl.contexts[0], "Order of service") || !strings.Contains(fl.contexts[0], "Nokuthula Dlamini") || strings.Contains(fl.contexts[0], "**") {
		t.Fatalf("a Markdown document: %d %s; set %q", r.status, r.raw, fl.contexts)
	}
	if p := op.page("/sessions/ses_a"); !strings.Contains(p.raw, fmt.Sprintf(`id="context-size">%d bytes`, len(fl.contexts[0]))) {
		t.Errorf("the session page does not show the prepared text's size")
	}
	ev := e.audit.Find("console.session.context", "ok")
	if len(ev) != 1 || ev[0].Details["bytes"] != strconv.Itoa(len(fl.contexts[0])) || strings.Contains(fmt.Sprint(ev[0]), "Nokuthula") {
		t.Fatalf("context audit: %+v", ev)
	}
	if r := op.upload("/sessions/ses_a/context", op.csrf, "Psalm twenty three", "", nil); r.status != http.StatusSeeOther ||
		fl.contexts[1] != "Psalm twenty three" {
		t.Fatalf("typed text: %d %s; set %q", r.status, r.raw, fl.contexts)
	}
	for name, r := range map[string]reply{
		"wrong CSRF":      op.upload("/sessions/ses_a/context", "nope", "x", "", nil),
		"not a PDF":       op.upload("/sessions/ses_a/context", op.csrf, "", "notes.pdf", []byte("%PDF-1.4 broken")),
		"too long a text": op.upload("/sessions/ses_a/context", op.csrf, strings.Repeat("a", maxContextText+1), "", nil),
	} {
		if r.status < 400 || len(fl.contexts) != 2 {
			t.Errorf("%s: %d %s; set %d texts", name, r.status, r.raw, len(fl.contexts))
		}
	}
	if r := op.upload("/sessions/ses_a/context", op.csrf, "", "", nil); r.status != http.StatusSeeOther || fl.contexts[2] != "" {
		t.Fatalf("an empty form removes the text: %d; set %q", r.status, fl.contexts)
	}
}
