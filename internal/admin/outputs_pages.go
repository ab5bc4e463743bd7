package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Outputs is what the session page needs of the caption outputs
// (LivePages.Outputs). Add and Remove return ErrRefused wrapping what the
// volunteer can act on (a host outside allow_hosts, a bad spec, too many
// outputs) and ErrNotFound for an unknown output.
type Outputs interface {
	List(sessionID string) []OutputLine
	Add(ctx context.Context, sessionID string, o NewOutput) error
	Remove(ctx context.Context, sessionID, outputID string) error
}

// NewOutput is the session page's add-an-output form: credentials by file
// name in the server's credentials directory, never their contents.
type NewOutput struct {
	Kind, URL, Credentials, Name, Format, Lang string
	Delay                                      float64
}

// OutputLine is one caption output's health line on a session's page:
// where it sends and how it is doing, never a credential's contents.
type OutputLine struct {
	ID, Kind, Lang, Target string
	State, LastError       string
	LastSuccess            *time.Time
	Queued                 int
	Sent, Failed, Dropped  uint64
}

// addOutput adds a caption output from the session page's form, audited
// (kind and language only) before it is made.
func (h *handlers) addOutput(w http.ResponseWriter, r *http.Request) {
	s, ok := h.outputsSession(w, r)
	if !ok {
		return
	}
	f := formFrom(r)
	var err error
	o := NewOutput{Kind: f["kind"], URL: strings.TrimSpace(f["url"]), Credentials: strings.TrimSpace(f["credentials"]),
		Name: strings.TrimSpace(f["name"]), Format: f["format"], Lang: strings.TrimSpace(f["lang"])}
	if d := strings.TrimSpace(f["delay"]); d != "" {
		if o.Delay, err = strconv.ParseFloat(d, 64); err != nil {
			h.failLive(w, r, ErrBadRequest)
			return
		}
	}
	if err := h.audit(r, "console.output.add", s.ID, map[string]string{"kind": o.Kind, "lang": o.Lang}); err != nil {
		h.failLive(w, r, err)
		return
	}
	if err := h.live.Outputs.Add(r.Context(), s.ID, o); err != nil {
		h.failLive(w, r, err)
		return
	}
	done(w, r, "/sessions/"+url.PathEscape(s.ID)+"#outputs", s)
}

// removeOutput stops and forgets one caption output, audited first.
func (h *handlers) removeOutput(w http.ResponseWriter, r *http.Request) {
	s, ok := h.outputsSession(w, r)
	if !ok {
		return
	}
	oid := r.PathValue("oid")
	if err := h.audit(r, "console.output.remove", s.ID, map[string]string{"output_id": oid}); err != nil {
		h.failLive(w, r, err)
		return
	}
	if err := h.live.Outputs.Remove(r.Context(), s.ID, oid); err != nil {
		h.failLive(w, r, err)
		return
	}
	done(w, r, "/sessions/"+url.PathEscape(s.ID)+"#outputs", s)
}

// outputsSession is the session an outputs form names, or false once it
// has answered (outputs off, no such session).
func (h *handlers) outputsSession(w http.ResponseWriter, r *http.Request) (LiveSession, bool) {
	if h.live.Outputs == nil {
		h.failLive(w, r, ErrLiveUnsupported)
		return LiveSession{}, false
	}
	s, err := h.find(r)
	if err != nil {
		h.fail(w, r, err, "")
		return LiveSession{}, false
	}
	return s, true
}
