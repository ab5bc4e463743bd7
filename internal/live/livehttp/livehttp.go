// Package livehttp owns the HTTP and WebSocket surface of live captions
// (issue 4): the session REST handlers, the audio ingest WebSocket, the
// viewer feeds (caption WebSocket and Server-Sent Events), the viewer page's
// /view answer and the viewer-ticket exchange. It works against the
// live.Sessions contract only; cmd/izwi builds the manager and mounts these
// handlers in api.LiveHandlers (this package never imports internal/api).
//
// WebSocket close codes (documented for clients):
//
//	1000 normal closure (client sent {"type":"close"}, or the feed ended)
//	1001 the server is shutting down
//	1003 unsupported data: an audio format outside 8–48 kHz, 1–2 channels,
//	     linear16/linear32/float32/mulaw/alaw; an unknown control message
//	1007 invalid payload: a frame that is not whole sample frames, bad JSON
//	1008 policy: audio before the format is known, too many frames per
//	     second, a second config
//	1009 too big: a frame longer than one second of audio
//	1011 server error (no recognizer loaded, internal failure)
//	4001 the credential the socket was opened with was revoked
//	4004 the session does not exist (or was deleted)
//	4008 timeout: idle ingest, or a viewer that fell behind (reconnect with after=<seq>)
//	4009 the session is busy (another source) or stopped
//	4029 quota: no concurrent-session slot, or the day's audio minutes are spent
package livehttp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/prepare"
	"github.com/izwi-speech/izwi/internal/recognize"
	"github.com/izwi-speech/izwi/internal/strictjson"
)

// Application close codes (see the package comment).
const (
	CloseNotFound = 4004
	CloseTimeout  = 4008
	CloseRevoked  = 4001
	CloseBusy     = 4009
	CloseQuota    = 4029
)

// Slots holds concurrent-session slots and charges audio minutes.
// FromLimiter adapts *limit.Limiter.
//
// Contract: Acquire refuses (an error wrapping limit.ErrLimited) when the
// principal's subject holds all its slots; the Slot's ChargeAudio refuses
// when the day's audio would pass the quota, charging nothing.
type Slots interface {
	Acquire(ctx context.Context, p auth.Principal) (Slot, error)
}

// Slot is one held session slot; Release is idempotent.
type Slot interface {
	ChargeAudio(ctx context.Context, d time.Duration) error
	Release()
}

// Issuer issues WebSocket tickets (*ticket.Issuer).
type Issuer interface {
	Issue(ctx context.Context, g ticket.Grant) (ticket.Issued, error)
}

var _ Issuer = (*ticket.Issuer)(nil)

// FromLimiter adapts the gateway's limiter to Slots.
func FromLimiter(l *limit.Limiter) Slots { return limiterSlots{l} }

type limiterSlots struct{ l *limit.Limiter }

var _ Slots = limiterSlots{}

func (s limiterSlots) Acquire(ctx context.Context, p auth.Principal) (Slot, error) {
	se, err := s.l.Acquire(ctx, p)
	if err != nil {
		return nil, err
	}
	return se, nil
}

var _ Slot = (*limit.Session)(nil)

// Options are the handlers' dependencies and limits. Zero limits take the
// defaults below.
type Options struct {
	Sessions live.Sessions
	// Tickets issues viewer tickets; nil leaves ViewerTicket out.
	Tickets Issuer
	// Pairings redeems the console's microphone pairing codes; nil (or no
	// Tickets) leaves MicTicket out.
	Pairings Redeemer
	// Slots, when set, holds a session slot for each ingest socket and
	// charges its audio (nil: unlimited).
	Slots Slots
	// Audit records viewer-secret failures and viewer tickets issued.
	Audit audit.Recorder
	// Fail spends the client's failed-authentication budget
	// (limit.FailureLimiter.Fail); nil does nothing.
	Fail func(*http.Request)
	// ClientIP is the client address for audit records (RemoteAddr if nil).
	ClientIP func(*http.Request) string
	Logger   *slog.Logger

	// IngestIdle closes an ingest socket that sent nothing for this long.
	IngestIdle time.Duration
	// MaxFramesPerSecond bounds ingest messages per second (burst of one
	// second's worth).
	MaxFramesPerSecond int
	// Heartbeat is the interval of viewer pings and SSE comments.
	Heartbeat time.Duration
	// WriteTimeout bounds one write to a viewer; a viewer slower than this
	// is dropped (and reconnects with after=).
	WriteTimeout time.Duration
	// MaxViewers caps open anonymous viewer feeds (WebSocket and SSE) in
	// this process; it is lowered to FDLimit less ReservedFDs. Viewers
	// need no credentials, so these caps are what bounds them (admit.go).
	MaxViewers int
	// MaxViewersPerIP caps the anonymous feeds one client address (an
	// IPv6 /64) holds; MaxViewersPerSession those of one session.
	MaxViewersPerIP, MaxViewersPerSession int
	// FDLimit is the process's descriptor limit (ProcessFDLimit when 0)
	// and ReservedFDs the descriptors kept from anonymous viewers for
	// authenticated callers, /healthz, the database and engines.
	FDLimit     uint64
	ReservedFDs int
	// ViewerGuessesPerMinute is each session's budget of wrong viewer
	// passwords or link tokens (guess.go); 0 takes the default.
	ViewerGuessesPerMinute int
	// Now is the clock of the guess budget (time.Now if nil).
	Now func() time.Time
	// Translations, when set, offers sessions' captions in other
	// languages ("translate" on create, ?lang= on feeds).
	Translations Translations
}

// Defaults.
const (
	DefaultIngestIdle         = 30 * time.Second
	DefaultMaxFramesPerSecond = 400 // an AudioWorklet's 128-sample frames at 48 kHz
	DefaultHeartbeat          = 15 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultMaxViewers         = 20000 // measured: 12–15 KiB of server memory per caption WebSocket, up to 26 KiB right after a storm of connections (docs/benchmarks.md)
	maxJSONBody               = 16 << 10
	// maxSessionBody admits a session's prepared text (context.text) in
	// its create and update bodies.
	maxSessionBody = prepare.MaxTextBytes + maxJSONBody
)

// Handlers are the live routes' handlers, one field per route of
// api.LiveHandlers.
type Handlers struct {
	Create, List, Get, Update, Delete, Start, Stop, Resume, Pause http.Handler
	// Context replaces a session's prepared text with an uploaded document.
	Context                       http.Handler
	Ingest                        http.Handler
	CaptionsWS, CaptionsSSE, View http.Handler
	ViewerTicket                  http.Handler
	// MicTicket exchanges a console pairing code for an ingest ticket.
	MicTicket http.Handler

	opts Options
	log  *slog.Logger
	// ctx ends every open socket and stream at Close.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	admit   *admission    // open viewer feeds
	flush   *flusher      // writes caption WebSockets' frames
	poll    *poller       // reads what they send (nil: a goroutine each)
	guesses *guessLimiter // wrong viewer secrets per session

	mu    sync.Mutex
	n     uint64
	socks map[uint64]sock // open sockets by registration id
}

// New builds the handlers. Close them before the manager.
func New(opts Options) (*Handlers, error) {
	if opts.Sessions == nil {
		return nil, errors.New("livehttp: Sessions is required")
	}
	if opts.IngestIdle <= 0 {
		opts.IngestIdle = DefaultIngestIdle
	}
	if opts.MaxFramesPerSecond <= 0 {
		opts.MaxFramesPerSecond = DefaultMaxFramesPerSecond
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = DefaultHeartbeat
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	if opts.MaxViewers <= 0 {
		opts.MaxViewers = DefaultMaxViewers
	}
	if opts.MaxViewersPerIP <= 0 {
		opts.MaxViewersPerIP = DefaultMaxViewersPerIP
	}
	if opts.MaxViewersPerSession <= 0 {
		opts.MaxViewersPerSession = DefaultMaxViewersPerSession
	}
	if opts.ReservedFDs <= 0 {
		opts.ReservedFDs = DefaultReservedFDs
	}
	if opts.FDLimit == 0 {
		opts.FDLimit = ProcessFDLimit()
	}
	if opts.ViewerGuessesPerMinute <= 0 {
		opts.ViewerGuessesPerMinute = DefaultViewerGuessesPerMinute
	}
	if opts.ClientIP == nil {
		opts.ClientIP = func(r *http.Request) string { return r.RemoteAddr }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &Handlers{opts: opts, log: log, ctx: ctx, cancel: cancel, admit: newAdmission(opts), flush: newFlusher(flushWorkers), poll: newPoller(),
		guesses: newGuessLimiter(opts.ViewerGuessesPerMinute, opts.Now)}
	h.Create, h.List, h.Get = http.HandlerFunc(h.create), http.HandlerFunc(h.list), http.HandlerFunc(h.get)
	h.Update, h.Delete = http.HandlerFunc(h.update), http.HandlerFunc(h.delete)
	h.Context = http.HandlerFunc(h.context)
	h.Start, h.Stop, h.Resume = h.transition(opts.Sessions.Start), h.transition(opts.Sessions.Stop), h.transition(opts.Sessions.Resume)
	h.Pause = h.transition(opts.Sessions.Pause)
	h.Ingest = h.tracked(h.ingest)
	h.CaptionsWS, h.CaptionsSSE = h.tracked(h.viewerSlot(h.captionsWS)), h.tracked(h.viewerSlot(h.captionsSSE))
	h.View = http.HandlerFunc(h.view)
	if opts.Tickets != nil {
		h.ViewerTicket = http.HandlerFunc(h.viewerTicket)
		if opts.Pairings != nil {
			h.MicTicket = http.HandlerFunc(h.micTicket)
		}
	}
	return h, nil
}

// Close ends every open ingest socket and viewer feed (WebSockets with 1001
// going away) and waits for their handlers to return, or for ctx.
func (h *Handlers) Close(ctx context.Context) error {
	h.cancel()
	done := make(chan struct{})
	go func() { h.wg.Wait(); h.flush.close(); h.poll.stop(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("livehttp: close: %w", ctx.Err())
	}
}

// AuthorizeTicket is the object-level check of POST /v1/tickets
// (ticket.Handler.Authorize): a caller may have a ticket for a session it
// owns (an admin for any), never for another's (refused as not found).
func (h *Handlers) AuthorizeTicket(ctx context.Context, p auth.Principal, sessionID string, _ auth.Scope) error {
	_, err := h.opts.Sessions.Get(ctx, ownerOf(p), sessionID)
	return err
}

// ownerOf is the owner argument of Sessions calls for p: its subject, or
// "" (any session) for an admin.
func ownerOf(p auth.Principal) string {
	if p.Has(auth.ScopeAdmin) {
		return ""
	}
	return p.Subject
}

// writeLiveErr maps a live error to the catalogue.
func (h *Handlers) writeLiveErr(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, live.ErrNotFound):
		apierr.Write(w, r, apierr.CodeNotFound, "no such session")
	case errors.Is(err, live.ErrTransition):
		apierr.Write(w, r, apierr.CodeConflict, "the session's state does not allow this now")
	case errors.Is(err, live.ErrBusy):
		apierr.Write(w, r, apierr.CodeConflict, "the session already has an audio source")
	case errors.Is(err, recognize.ErrBusy):
		apierr.WriteErr(w, r, &apierr.Error{Code: apierr.CodeEngineBusy, RetryAfter: time.Second})
	case errors.Is(err, live.ErrLimit):
		apierr.WriteErr(w, r, &apierr.Error{Code: apierr.CodeQuotaExceeded, Message: "too many live sessions", RetryAfter: time.Second})
	case errors.Is(err, live.ErrBadConfig):
		apierr.Write(w, r, apierr.CodeBadRequest, badConfigMessage(err))
	case errors.Is(err, live.ErrNoEngine):
		apierr.Write(w, r, apierr.CodeNotReady, "no streaming recognizer is loaded")
	case errors.Is(err, live.ErrSecret):
		apierr.Write(w, r, apierr.CodeUnauthenticated, "wrong viewer password or link token")
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		apierr.Write(w, r, apierr.CodeNotReady, "the request was cancelled")
	default:
		h.log.Error("live request failed", "request_id", apierr.RequestID(r.Context()), "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
	}
}

// badConfigMessage is the manager's ErrBadConfig text, which names the
// offending field and never a secret, without the package prefix.
func badConfigMessage(err error) string {
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// decodeJSON reads one JSON object of at most limit bytes with no unknown
// fields.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	return decodeBody(w, r, limit, v, false)
}

// decodeOptional is decodeJSON where an empty body means all defaults.
func decodeOptional(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	return decodeBody(w, r, limit, v, true)
}

func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any, optional bool) bool {
	err := strictjson.DecodeBody(w, r, limit, v)
	if optional && errors.Is(err, strictjson.ErrEmpty) {
		return true
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apierr.Write(w, r, apierr.CodePayloadTooLarge, fmt.Sprintf("the body must be at most %d bytes", limit))
		return false
	case err != nil:
		apierr.Write(w, r, apierr.CodeBadRequest, "the body must be one JSON object with known fields: "+jsonProblem(err))
		return false
	}
	return true
}

// jsonProblem describes a decoding error without echoing the body.
func jsonProblem(err error) string {
	if errors.Is(err, strictjson.ErrEmpty) {
		return "empty body"
	}
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}
