package livehttp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/live"
)

// parseAfter reads the resume point: ?after=<seq>, else (SSE) the
// Last-Event-ID header. Absent is 0 (everything the session holds).
func parseAfter(r *http.Request, header bool) (uint64, error) {
	v := r.URL.Query().Get("after")
	if v == "" && header {
		v = r.Header.Get("Last-Event-ID")
	}
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, errors.New("after must be a non-negative integer (a Seq)")
	}
	return n, nil
}

// AcceptWS upgrades r, echoing the izwi-ticket subprotocol when the
// browser offered it (browsers require the echo), and clears the
// http.Server's deadlines, which would otherwise cut a hijacked
// connection after its write timeout. The ingest socket and package rtc's
// signalling accept through it; caption sockets, which must be lean, are
// gobwas/ws (wsview.go).
func AcceptWS(w http.ResponseWriter, r *http.Request) (*websocket.Conn, error) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	var protos []string
	for _, line := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(line, ",") {
			if strings.TrimSpace(p) == ticket.Subprotocol {
				protos = []string{ticket.Subprotocol}
			}
		}
	}
	return websocket.Accept(w, r, &websocket.AcceptOptions{
		Subprotocols: protos,
		// The gateway has already checked Origin against the configured
		// allow-list and this server's own origin (ticket.Issuer.CheckOrigin,
		// api.Options.CheckOrigin) before any credential was looked at;
		// the library's same-host check would wrongly refuse the
		// allow-listed origins of pages hosted elsewhere.
		InsecureSkipVerify: true,
	})
}

// closeReason trims a close reason to the protocol's 123 bytes.
func closeReason(s string) string {
	if len(s) > 123 {
		s = s[:123]
	}
	return s
}

// openFeed checks the caller may watch the session, reads where to resume
// (after=, and Last-Event-ID for SSE) and opens the feed, or answers the
// refusal itself (ok false).
func (h *Handlers) openFeed(ctx context.Context, w http.ResponseWriter, r *http.Request, sse bool) (live.Feed, uint64, bool) {
	info, ok := h.watchable(w, r)
	if !ok {
		return nil, 0, false
	}
	after, err := parseAfter(r, sse)
	if err != nil {
		apierr.Write(w, r, apierr.CodeBadRequest, err.Error())
		return nil, 0, false
	}
	feed, err := h.opts.Sessions.Watch(ctx, info.ID, after)
	if err != nil {
		h.writeLiveErr(w, r, err)
		return nil, 0, false
	}
	if feed, ok = h.translated(ctx, w, r, info, feed); !ok {
		return nil, 0, false
	}
	return feed, after, true
}

// feedEnd maps why a feed ended to a close code.
func feedEnd(err error, last uint64) (websocket.StatusCode, string) {
	switch {
	case errors.Is(err, live.ErrSlow):
		return CloseTimeout, closeReason(fmt.Sprintf("fell behind; reconnect with after=%d", last))
	case errors.Is(err, live.ErrNotFound):
		return CloseNotFound, "session deleted"
	case err == nil, errors.Is(err, context.Canceled):
		return websocket.StatusNormalClosure, "feed ended"
	}
	return websocket.StatusInternalError, "feed failed"
}

// captionsSSE serves GET /v1/sessions/{id}/events as Server-Sent Events:
// "id: <seq>", "event: <type>", "data: <json>"; resumes from Last-Event-ID
// or ?after=; a comment every Heartbeat keeps proxies from closing it.
// A viewer that falls behind gets an "error" event and the stream ends
// (EventSource reconnects with Last-Event-ID on its own).
func (h *Handlers) captionsSSE(ctx context.Context, w http.ResponseWriter, r *http.Request) {
	feed, after, ok := h.openFeed(ctx, w, r, true)
	if !ok {
		return
	}
	defer feed.Close()
	rc := http.NewResponseController(w)
	// The server's ReadTimeout would cancel this request's context (and
	// its WriteTimeout cut the stream); writes get their own deadlines.
	_ = rc.SetReadDeadline(time.Time{})
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	last := after
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	// The retry hint, and headers out at once so the client knows it is on.
	if !write([]byte("retry: 2000\n\n")) {
		return
	}
	beat := time.NewTicker(h.opts.Heartbeat)
	defer beat.Stop()
	for {
		select {
		case ev, open := <-feed.Events():
			if !open {
				if ferr := feed.Err(); errors.Is(ferr, live.ErrSlow) {
					write(fmt.Appendf(nil, "event: error\ndata: {\"code\":\"fell_behind\",\"after\":%d}\n\n", last))
				} else if errors.Is(ferr, live.ErrNotFound) {
					write([]byte("event: error\ndata: {\"code\":\"not_found\"}\n\n"))
				}
				return
			}
			b, err := json.Marshal(ev)
			if err != nil {
				return
			}
			if !write(fmt.Appendf(nil, "id: %d\nevent: %s\ndata: %s\n\n", ev.Seq, sseField(string(ev.Type)), b)) {
				return
			}
			last = ev.Seq
		case <-beat.C:
			if !write([]byte(": keepalive\n\n")) {
				return
			}
		case <-ctx.Done():
			return
		}
	}
}

// sseField keeps a value on one line (an event type never has newlines,
// but a line break would split the frame).
func sseField(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}
