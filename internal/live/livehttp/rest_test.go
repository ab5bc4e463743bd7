package livehttp

import (
	"net/http"
	"strings"
	"testing"
)

func TestSessionREST(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	c := hs.create("alice", map[string]any{"label": "Hall A"})
	if c.ID == "" || c.State != "idle" || c.ViewerMode != "public" || c.Label != "Hall A" {
		t.Fatalf("created %+v", c)
	}
	var info createdBody
	if code := hs.do("GET", "/v1/sessions/"+c.ID, "alice", nil, &info); code != 200 || info.ID != c.ID {
		t.Fatalf("owner get: %d %+v", code, info)
	}
	// Another owner: 404, never 403.
	var eb errBody
	if code := hs.do("GET", "/v1/sessions/"+c.ID, "bob", nil, &eb); code != 404 || eb.Error.Code != "not_found" {
		t.Fatalf("bob get: %d %+v", code, eb)
	}
	for _, m := range []struct{ method, path string }{{"PATCH", ""}, {"DELETE", ""}, {"POST", "/start"}, {"POST", "/stop"}, {"POST", "/resume"}} {
		var body any
		if m.method == "PATCH" {
			body = map[string]any{"label": "x"}
		}
		if code := hs.do(m.method, "/v1/sessions/"+c.ID+m.path, "bob", body, nil); code != 404 {
			t.Errorf("bob %s %s: %d, want 404", m.method, m.path, code)
		}
	}
	// An admin acts on any session.
	if code := hs.do("GET", "/v1/sessions/"+c.ID, "admin", nil, nil); code != 200 {
		t.Fatalf("admin get: %d", code)
	}
	var list struct{ Sessions []createdBody }
	hs.create("bob", map[string]any{"label": "Bob's"})
	if code := hs.do("GET", "/v1/sessions", "alice", nil, &list); code != 200 || len(list.Sessions) != 1 || list.Sessions[0].ID != c.ID {
		t.Fatalf("alice list: %d %+v", code, list)
	}
	if hs.do("GET", "/v1/sessions", "admin", nil, &list); len(list.Sessions) != 2 {
		t.Fatalf("admin list %+v", list)
	}
	// Lifecycle and conflicts.
	if code := hs.do("POST", "/v1/sessions/"+c.ID+"/start", "alice", nil, &info); code != 200 || info.State != "live" {
		t.Fatalf("start: %d %+v", code, info)
	}
	if code := hs.do("POST", "/v1/sessions/"+c.ID+"/start", "alice", nil, &eb); code != 409 || eb.Error.Code != "conflict" {
		t.Fatalf("second start: %d %+v", code, eb)
	}
	if code := hs.do("POST", "/v1/sessions/"+c.ID+"/resume", "alice", nil, nil); code != 409 {
		t.Fatalf("resume a live session: %d", code)
	}
	if code := hs.do("PATCH", "/v1/sessions/"+c.ID, "alice", map[string]any{"label": "Hall B"}, &info); code != 200 || info.Label != "Hall B" {
		t.Fatalf("patch: %d %+v", code, info)
	}
	if code := hs.do("POST", "/v1/sessions/"+c.ID+"/stop", "alice", "{}", &info); code != 200 || info.State != "stopped" {
		t.Fatalf("stop: %d %+v", code, info)
	}
	if code := hs.do("DELETE", "/v1/sessions/"+c.ID, "alice", nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code := hs.do("GET", "/v1/sessions/"+c.ID, "alice", nil, nil); code != 404 {
		t.Fatalf("get after delete: %d", code)
	}
}

func TestSessionRESTBadInput(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	c := hs.create("alice", nil)
	cases := []struct {
		name, method, path, body, code string
		status                         int
	}{
		{"unknown field", "POST", "/v1/sessions", `{"label":"x","colour":"red"}`, "bad_request", 400},
		{"not json", "POST", "/v1/sessions", `label=x`, "bad_request", 400},
		{"two objects", "POST", "/v1/sessions", `{} {}`, "bad_request", 400},
		{"wrong type", "POST", "/v1/sessions", `{"label":3}`, "bad_request", 400},
		{"bad config", "POST", "/v1/sessions", `{"viewer_mode":"password","password":"short"}`, "bad_request", 400},
		{"too big", "POST", "/v1/sessions", `{"label":"` + strings.Repeat("x", maxSessionBody) + `"}`, "payload_too_large", 413},
		{"too big for a ticket", "POST", "/v1/sessions/" + c.ID + "/viewer-ticket", `{"secret":"` + strings.Repeat("x", 20<<10) + `"}`, "payload_too_large", 413},
		{"patch unknown", "PATCH", "/v1/sessions/" + c.ID, `{"owner":"bob"}`, "bad_request", 400},
		{"start with body", "POST", "/v1/sessions/" + c.ID + "/start", `{"force":true}`, "bad_request", 400},
		{"bad id", "GET", "/v1/sessions/..%2f..", "", "not_found", 404},
		{"no credentials", "POST", "/v1/sessions", `{}`, "unauthenticated", 401},
		{"wrong scope", "POST", "/v1/sessions", `{}`, "forbidden", 403},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			k := "alice"
			switch tc.name {
			case "no credentials":
				k = ""
			case "wrong scope":
				k = "asr"
			}
			var body any
			if tc.body != "" {
				body = tc.body
			}
			var eb errBody
			if code := hs.do(tc.method, tc.path, k, body, &eb); code != tc.status || eb.Error.Code != tc.code {
				t.Fatalf("%d %+v, want %d %s", code, eb, tc.status, tc.code)
			}
		})
	}
}

// The link token is returned once, at creation, and never again.
func TestLinkTokenShownOnce(t *testing.T) {
	hs := newHarness(t, harnessOpts{})
	c := hs.create("alice", map[string]any{"viewer_mode": "link"})
	if c.LinkToken == "" {
		t.Fatal("no link token at creation")
	}
	var raw map[string]any
	hs.do("GET", "/v1/sessions/"+c.ID, "alice", nil, &raw)
	if _, ok := raw["link_token"]; ok {
		t.Fatalf("link token shown again: %v", raw)
	}
	if _, ok := raw["owner"]; ok {
		t.Fatalf("owner shown: %v", raw)
	}
}
