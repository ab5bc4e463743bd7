package apierr

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r = r.WithContext(WithRequestID(context.Background(), "rid-1"))
	for _, tc := range []struct {
		err     error
		status  int
		code    Code
		retry   string
		wwwAuth bool
	}{
		{&Error{Code: CodeRateLimited, RetryAfter: 1500 * time.Millisecond}, 429, CodeRateLimited, "2", false},
		{&Error{Code: CodeUnauthenticated}, 401, CodeUnauthenticated, "", true},
		{&Error{Code: CodeCredentialsInURL}, 401, CodeCredentialsInURL, "", true},
		{&Error{Code: "made_up"}, 500, CodeInternal, "", false},
		{errors.New("db: /secret/path locked"), 500, CodeInternal, "", false},
	} {
		w := httptest.NewRecorder()
		WriteErr(w, r, tc.err)
		var b Body
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || w.Code != tc.status || b.Error.Code != tc.code ||
			b.Error.RequestID != "rid-1" || b.Error.Message == "" {
			t.Errorf("%v: %d %s", tc.err, w.Code, w.Body)
		}
		if w.Header().Get("Retry-After") != tc.retry || (w.Header().Get("WWW-Authenticate") != "") != tc.wwwAuth {
			t.Errorf("%v: headers %v", tc.err, w.Header())
		}
		if tc.code == CodeInternal && b.Error.Message != Lookup(CodeInternal).Message {
			t.Errorf("internal error text reached the client: %s", w.Body)
		}
	}
	// Without an ID in the context, the one already on the response is used.
	w := httptest.NewRecorder()
	w.Header().Set("X-Request-Id", "admin-7")
	Write(w, httptest.NewRequest("GET", "/", nil), CodeNotFound, "")
	if !strings.Contains(w.Body.String(), `"request_id":"admin-7"`) {
		t.Errorf("request id from the response header not used: %s", w.Body)
	}
	seen := map[Code]bool{}
	for _, c := range Codes() {
		if seen[c] || Lookup(c).Status < 400 || (Lookup(c).Status == 500) != (c == CodeInternal) {
			t.Errorf("catalogue entry %s: %+v", c, Lookup(c))
		}
		seen[c] = true
	}
	if http.StatusText(Lookup(CodeIPDenied).Status) != "Forbidden" {
		t.Fatal("ip_denied is not a 403")
	}
}
