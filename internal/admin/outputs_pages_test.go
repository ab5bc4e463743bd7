package admin

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeOutputs is a session's caption outputs in memory: it refuses a host
// outside 127.0.0.0/8 as the real adapter refuses one outside allow_hosts.
type fakeOutputs struct {
	mu    sync.Mutex
	lines map[string][]OutputLine
	added []NewOutput
	n     int
}

var _ Outputs = (*fakeOutputs)(nil)

func newFakeOutputs() *fakeOutputs {
	at := time.Date(2026, 12, 7, 16, 5, 28, 0, time.UTC)
	return &fakeOutputs{lines: map[string][]OutputLine{"ses_a": {
		{ID: "out_1", Kind: "youtube", Target: "yt-creds", State: "running", LastSuccess: &at, Sent: 12},
		{ID: "out_2", Kind: "obs", Lang: "es", Target: "ws://127.0.0.1:4455", State: "retrying", LastError: "obs_501", Queued: 2, Failed: 3}}}}
}

func (f *fakeOutputs) List(id string) []OutputLine {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]OutputLine(nil), f.lines[id]...)
}

func (f *fakeOutputs) Add(_ context.Context, id string, o NewOutput) error {
	if o.URL != "" && !strings.HasPrefix(o.URL, "ws://127.") {
		return fmt.Errorf("%w: add the host to [outputs] allow_hosts", ErrRefused)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	f.added = append(f.added, o)
	f.lines[id] = append(f.lines[id], OutputLine{ID: fmt.Sprintf("out_new%d", f.n), Kind: o.Kind, Lang: o.Lang, Target: o.URL, State: "running"})
	return nil
}

func (f *fakeOutputs) Remove(_ context.Context, id, oid string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, l := range f.lines[id] {
		if l.ID == oid {
			f.lines[id] = append(f.lines[id][:i:i], f.lines[id][i+1:]...)
			return nil
		}
	}
	return ErrNotFound
}

// testOutputsForm: a volunteer adds and removes caption outputs on the
// session page; each form needs the CSRF token and is audited before it
// acts (no audit, no output); a refusal (a host the server may not reach)
// is shown as its message.
func testOutputsForm(t *testing.T, op *client, fo *fakeOutputs, e *env) {
	t.Helper()
	p := op.page("/sessions/ses_a")
	for _, want := range []string{`action="/sessions/ses_a/outputs"`, `<label for="output-kind">`, `<label for="output-credentials">`,
		`<label for="output-delay">`, `action="/sessions/ses_a/outputs/out_1/remove"`, `aria-label="Remove the obs output to ws://127.0.0.1:4455"`} {
		if !strings.Contains(p.raw, want) {
			t.Errorf("the session page lacks %s", want)
		}
	}
	add := url.Values{"csrf": {op.csrf}, "kind": {"obs"}, "url": {"ws://127.0.0.1:4455"}, "credentials": {"obs-pass"}, "lang": {"fr"}, "delay": {"2.5"}}
	if r := op.form("/sessions/ses_a/outputs", url.Values{"kind": {"obs"}, "url": {"ws://127.0.0.1:4455"}}); r.status != http.StatusForbidden {
		t.Fatalf("add without CSRF: %d", r.status)
	}
	e.audit.SetFail(true)
	if r := op.form("/sessions/ses_a/outputs", add); r.status != http.StatusInternalServerError || len(fo.added) != 0 {
		t.Fatalf("add with the audit log down: %d, added %v", r.status, fo.added)
	}
	e.audit.SetFail(false)
	r := op.form("/sessions/ses_a/outputs", add)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/sessions/ses_a#outputs" || len(fo.added) != 1 ||
		fo.added[0] != (NewOutput{Kind: "obs", URL: "ws://127.0.0.1:4455", Credentials: "obs-pass", Lang: "fr", Delay: 2.5}) {
		t.Fatalf("add: %d %s; added %+v", r.status, r.raw, fo.added)
	}
	if ev := e.audit.Find("console.output.add", "ok"); len(ev) != 1 || ev[0].Details["kind"] != "obs" || strings.Contains(fmt.Sprint(ev[0]), "obs-pass") {
		t.Fatalf("add audit: %+v", ev)
	}
	if p := op.page("/sessions/ses_a"); !strings.Contains(p.raw, "/outputs/out_new1/remove") {
		t.Error("the added output is not on the page")
	}
	refused := url.Values{"csrf": {op.csrf}, "kind": {"obs"}, "url": {"ws://192.168.1.9:4455"}}
	if r := op.form("/sessions/ses_a/outputs", refused); r.status != http.StatusConflict || !strings.Contains(r.raw, "add the host to [outputs] allow_hosts") {
		t.Fatalf("a refused host: %d %s", r.status, r.raw)
	}
	if r := op.form("/sessions/ses_a/outputs", url.Values{"csrf": {op.csrf}, "kind": {"file"}, "delay": {"soon"}}); r.status != http.StatusBadRequest {
		t.Fatalf("a bad delay: %d", r.status)
	}
	if r := op.form("/sessions/nope/outputs", add); r.status != http.StatusNotFound {
		t.Fatalf("an unknown session: %d", r.status)
	}

	if r := op.form("/sessions/ses_a/outputs/out_1/remove", url.Values{}); r.status != http.StatusForbidden || len(fo.List("ses_a")) != 3 {
		t.Fatalf("remove without CSRF: %d", r.status)
	}
	if r := op.form("/sessions/ses_a/outputs/out_1/remove", url.Values{"csrf": {op.csrf}}); r.status != http.StatusSeeOther || len(fo.List("ses_a")) != 2 {
		t.Fatalf("remove: %d %s", r.status, r.raw)
	}
	if ev := e.audit.Find("console.output.remove", "ok"); len(ev) != 1 || ev[0].Details["output_id"] != "out_1" {
		t.Fatalf("remove audit: %+v", ev)
	}
	if r := op.do("POST", "/sessions/ses_a/outputs/out_1/remove", map[string]string{}); r.status != http.StatusNotFound {
		t.Fatalf("removing it again: %d %s", r.status, r.raw)
	}
}
