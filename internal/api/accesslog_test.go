package api

import (
	"bufio"
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
)

// A request whose handler takes the connection over (a WebSocket upgrade,
// as the viewers' gobwas/ws upgrader does through http.ResponseController)
// is logged as 101, not as a 200 nobody sent.
func TestAccessLogSaysSwitchingProtocolsForHijack(t *testing.T) {
	var logs bytes.Buffer
	h := withAccessLog(slog.New(slog.NewJSONHandler(&logs, nil)), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, rw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack through the access log: %v", err)
			return
		}
		_, _ = rw.WriteString("HTTP/1.1 101 Switching Protocols\r\n\r\n")
		_ = rw.Flush()
		_ = c.Close()
	}))
	logged := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(logged)
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	<-logged // a hijacked request's handler may return after the client has its answer
	var line struct {
		Msg    string `json:"msg"`
		Status int    `json:"status"`
	}
	sc := bufio.NewScanner(&logs)
	for sc.Scan() {
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "http request" {
			break
		}
	}
	if line.Msg != "http request" || line.Status != http.StatusSwitchingProtocols {
		t.Fatalf("access log %q: status %d, want 101", logs.String(), line.Status)
	}
}
