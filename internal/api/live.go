package api

import (
	"net/http"

	"github.com/izwi-speech/izwi/internal/auth"
)

// LiveHandlers are the live-caption routes (issue 4). Package livehttp
// builds them; the access of each is declared here, in liveRoutes, with the
// rest of the table. A nil field leaves its route out.
type LiveHandlers struct {
	// Session management, for the session's owner (live.write) or an admin.
	Create, List, Get, Update, Delete, Start, Stop, Resume, Pause http.Handler
	// Context replaces a session's prepared text with an uploaded document
	// (TXT, Markdown, DOCX or PDF).
	Context http.Handler
	// Ingest is the audio WebSocket (binary PCM16 frames) of one session.
	Ingest http.Handler
	// WebRTC is the signalling WebSocket of WebRTC ingest (package rtc):
	// an Opus track in, captions out over a data channel.
	WebRTC http.Handler
	// CaptionsWS and CaptionsSSE are the viewer feeds; View is what a
	// viewer page may know of the session (its state and viewer mode).
	CaptionsWS, CaptionsSSE, View http.Handler
	// ViewerTicket exchanges a session's viewer password or link token for
	// a ticket. It takes no credentials (that is its point); wrong secrets
	// count as authentication failures and are throttled and audited.
	ViewerTicket http.Handler
	// MicTicket exchanges a single-use pairing code from the console's
	// microphone QR for an ingest ticket on that session. Like
	// ViewerTicket it takes no credentials; bad codes are throttled and
	// audited.
	MicTicket http.Handler
	// Pages serves the viewer, display, overlay and microphone pages and
	// their assets, embedded in the binary.
	Pages http.Handler
	// Transcript reads a session's kept (opt-in, sealed) final captions.
	Transcript http.Handler
	// Filters and SetFilters read and replace a session's caption
	// settings (formatter, profanity masking, replacement list).
	Filters, SetFilters http.Handler
	// Listen is the Deepgram-compatible streaming endpoint.
	Listen http.Handler
	// ListenFile is the Deepgram-compatible pre-recorded endpoint (POST
	// /v1/listen: an audio body in, Deepgram's JSON out).
	ListenFile http.Handler
}

// liveRoutes declares the live routes' access.
func liveRoutes(h *LiveHandlers) []Route {
	if h == nil {
		return nil
	}
	write, read := Scope(auth.ScopeLiveWrite), Viewer(auth.ScopeLiveRead)
	all := []Route{
		{Method: http.MethodPost, Pattern: "/v1/sessions", Access: write, Handler: h.Create},
		{Method: http.MethodGet, Pattern: "/v1/sessions", Access: write, Handler: h.List},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}", Access: write, Handler: h.Get},
		{Method: http.MethodPatch, Pattern: "/v1/sessions/{id}", Access: write, Handler: h.Update},
		{Method: http.MethodDelete, Pattern: "/v1/sessions/{id}", Access: write, Handler: h.Delete},
		{Method: http.MethodPut, Pattern: "/v1/sessions/{id}/context", Access: write, Handler: h.Context},
		{Method: http.MethodPost, Pattern: "/v1/sessions/{id}/start", Access: write, Handler: h.Start},
		{Method: http.MethodPost, Pattern: "/v1/sessions/{id}/stop", Access: write, Handler: h.Stop},
		{Method: http.MethodPost, Pattern: "/v1/sessions/{id}/resume", Access: write, Handler: h.Resume},
		{Method: http.MethodPost, Pattern: "/v1/sessions/{id}/pause", Access: write, Handler: h.Pause},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}/transcript", Access: write, Handler: h.Transcript},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}/filters", Access: write, Handler: h.Filters},
		{Method: http.MethodPut, Pattern: "/v1/sessions/{id}/filters", Access: write, Handler: h.SetFilters},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}/audio", Access: Ticket(auth.ScopeLiveWrite), Handler: h.Ingest},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}/webrtc", Access: Ticket(auth.ScopeLiveWrite), Handler: h.WebRTC},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}/captions", Access: read, Handler: h.CaptionsWS},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}/events", Access: read, Handler: h.CaptionsSSE},
		{Method: http.MethodGet, Pattern: "/v1/sessions/{id}/view", Access: read, Handler: h.View},
		{Method: http.MethodPost, Pattern: "/v1/sessions/{id}/viewer-ticket", Access: Public, Handler: h.ViewerTicket},
		{Method: http.MethodPost, Pattern: "/v1/sessions/{id}/mic-ticket", Access: Public, Handler: h.MicTicket},
		{Method: http.MethodGet, Pattern: "/v1/listen", Access: Scope(auth.ScopeASRRead), Handler: h.Listen},
		{Method: http.MethodPost, Pattern: "/v1/listen", Access: Scope(auth.ScopeASRRead), Handler: h.ListenFile},
	}
	if h.Pages != nil {
		// "/{$}": the index of public sessions, at / only.
		for _, p := range []string{"/{$}", "/live/{id}", "/display/{id}", "/overlay/{id}", "/mic/{id}", "/assets/{file}"} {
			all = append(all, Route{Method: http.MethodGet, Pattern: p, Access: Public, Handler: h.Pages})
		}
		// The display's QR for a link session: the token comes in the body,
		// never a URL, so no log or proxy sees it.
		all = append(all, Route{Method: http.MethodPost, Pattern: "/display/{id}/qr", Access: Public, Handler: h.Pages})
	}
	var out []Route
	for _, rt := range all {
		if rt.Handler != nil {
			out = append(out, rt)
		}
	}
	return out
}
