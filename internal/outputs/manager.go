package outputs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/store"
)

// Source opens a session's caption feed: in lang (the session's own when
// empty; an error for a language it does not offer), from after. Offers
// says (nil) whether the session offers lang.
type Source interface {
	Open(ctx context.Context, sessionID, lang string, after uint64) (live.Feed, error)
	Offers(ctx context.Context, info live.Info, lang string) error
}

// Options configure a Manager. Zero values take the defaults below.
type Options struct {
	Source Source
	// Store, if set, keeps every output's spec so Restore starts them
	// again after a restart; nil: outputs live in memory only.
	Store *store.Store
	// CredentialsDir holds the credentials files outputs name; empty: no
	// output may name one.
	CredentialsDir string
	// FileDir is where file outputs write; empty: file outputs are off.
	FileDir string
	// Allow lists where OBS and webhook outputs may connect ([outputs]
	// allow_hosts); the zero value allows nowhere.
	Allow Destinations
	// Client sends YouTube and webhook requests (nil: one that follows no
	// redirect, so nothing is sent where the operator did not point it).
	Client *http.Client
	Logger *slog.Logger
	// Registerer, if set, receives the outputs' metrics.
	Registerer prometheus.Registerer
	// MaxPerSession bounds a session's outputs (default 8); QueueSize
	// each output's queue (default 64, the oldest dropped beyond).
	MaxPerSession, QueueSize int
	// MinBackoff and MaxBackoff bound the wait between attempts (default
	// 500 ms and 30 s); MaxAttempts (default 6) and MaxRetryTime (default
	// 2 min) when a caption is given up; SendTimeout bounds one attempt
	// (default 10 s).
	MinBackoff, MaxBackoff, MaxRetryTime, SendTimeout time.Duration
	MaxAttempts                                       int
	Now                                               func() time.Time
	// Holds, set in a cluster (docs/architecture.md "Roles"), says whether
	// this process holds session id's lease (runs its pipeline): each
	// output then runs in the holder only, started and stopped as the
	// lease comes and goes, and added or removed through any process by
	// way of the Store (required then), re-read every SyncEvery (default
	// 500 ms). Nil: this process runs every output (role all).
	Holds     func(id string) bool
	SyncEvery time.Duration
}

// Manager runs the outputs of every session in this process (in a
// cluster, of the sessions whose lease it holds: cluster.go). Safe for
// concurrent use.
type Manager struct {
	opts    Options
	log     *slog.Logger
	metrics metrics
	ctx     context.Context
	cancel  context.CancelFunc

	mu   sync.Mutex // guards outs; never held over I/O
	outs map[string][]*output

	syncOnce sync.Once     // starts the sync loop (Restore) or marks it never started (Close)
	syncWake chan struct{} // a cluster's sync: re-read now
	syncDone chan struct{} // closed when the sync loop has ended or never started
}

type metrics struct {
	sends   *prometheus.CounterVec
	dropped *prometheus.CounterVec
}

// Errors the API maps.
var (
	ErrBadSpec  = errors.New("outputs: bad output")
	ErrNotFound = errors.New("outputs: no such output")
	ErrLimit    = errors.New("outputs: too many outputs for this session")
	// ErrNotAllowed: the output's host is not in [outputs] allow_hosts.
	ErrNotAllowed = errors.New("outputs: destination not allowed")
)

// New returns a manager; Close it before the live manager.
func New(opts Options) (*Manager, error) {
	if opts.Source == nil {
		return nil, errors.New("outputs: Source is required")
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.MinBackoff, 500*time.Millisecond)
	def(&opts.MaxBackoff, 30*time.Second)
	def(&opts.MaxRetryTime, 2*time.Minute)
	def(&opts.SendTimeout, 10*time.Second)
	def(&opts.SyncEvery, 500*time.Millisecond)
	if opts.Holds != nil && opts.Store == nil {
		return nil, errors.New("outputs: a cluster's outputs need the Store")
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 6
	}
	if opts.MaxPerSession <= 0 {
		opts.MaxPerSession = 8
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 64
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Client == nil {
		opts.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{opts: opts, log: opts.Logger, outs: map[string][]*output{}, metrics: metrics{
		sends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "izwi_outputs_attempts_total",
			Help: "Caption output attempts by kind and outcome (ok, or the error class)."}, []string{"kind", "outcome"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "izwi_outputs_dropped_total",
			Help: "Captions an output gave up on (refused, retries spent, queue full)."}, []string{"kind"}),
	}}
	if opts.Registerer != nil {
		queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "izwi_outputs_queued",
			Help: "Captions waiting in every output's queue."}, m.queued)
		for _, c := range []prometheus.Collector{m.metrics.sends, m.metrics.dropped, queued} {
			if err := opts.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("outputs: metrics: %w", err)
			}
		}
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.syncWake, m.syncDone = make(chan struct{}, 1), make(chan struct{})
	return m, nil
}

func (m *Manager) queued() float64 {
	m.mu.Lock()
	all := slices.Concat(mapValues(m.outs)...)
	m.mu.Unlock()
	n := 0
	for _, o := range all {
		n += o.snapshot().Queued
	}
	return float64(n)
}

func mapValues(m map[string][]*output) [][]*output {
	out := make([][]*output, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// Info is an output as the API shows it: its spec (credentials by file
// name only) and health.
type Info struct {
	ID string `json:"id"`
	Spec
	Health Health `json:"health"`
}

// sender builds spec's sender, or says what is wrong with it.
func (m *Manager) sender(s Spec) (Sender, error) {
	bad := func(msg string) error { return fmt.Errorf("%w: %s", ErrBadSpec, msg) }
	if s.Delay < 0 || s.Delay > 600 || s.Delay != s.Delay {
		return nil, bad("delay must be 0 to 600 seconds")
	}
	if s.Credentials != "" && (m.opts.CredentialsDir == "" || !validName(s.Credentials)) {
		return nil, bad("credentials must name a file in the server's [outputs] credentials_dir")
	}
	creds := func() (string, error) { return readCredential(m.opts.CredentialsDir, s.Credentials) }
	switch s.Kind {
	case KindYouTube:
		if s.Credentials == "" || s.URL != "" {
			return nil, bad("youtube takes credentials (a file holding the caption ingestion URL) and no url")
		}
		return &youtube{client: m.opts.Client, creds: creds}, nil
	case KindOBS:
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			return nil, bad("obs takes url ws://host:4455 (obs-websocket)")
		} else if !m.opts.Allow.Allows(u.Hostname()) {
			return nil, fmt.Errorf("%w: %s", ErrNotAllowed, u.Hostname())
		}
		return &obs{url: s.URL, creds: creds}, nil
	case KindWebhook:
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, bad("webhook takes an http(s) url")
		} else if !m.opts.Allow.Allows(u.Hostname()) {
			return nil, fmt.Errorf("%w: %s", ErrNotAllowed, u.Hostname())
		}
		if s.Credentials == "" {
			return nil, bad("webhook takes credentials (a file holding the HMAC key)")
		}
		return &webhook{client: m.opts.Client, url: s.URL, creds: creds, now: m.opts.Now}, nil
	case KindFile:
		if m.opts.FileDir == "" {
			return nil, bad("file outputs are off ([outputs] file_dir is empty)")
		}
		if !validName(s.Name) || (s.Format != "txt" && s.Format != "srt") {
			return nil, bad("file takes a name (letters, digits, - _ .) and format txt or srt")
		}
		return &file{path: filepath.Join(m.opts.FileDir, s.Name+"."+s.Format), format: s.Format}, nil
	}
	return nil, bad("kind must be youtube, obs, webhook or file")
}

// Offers says (nil) whether session info offers captions in lang.
func (m *Manager) Offers(ctx context.Context, info live.Info, lang string) error {
	return m.opts.Source.Offers(ctx, info, lang)
}

// Add starts an output for session id and stores it.
func (m *Manager) Add(ctx context.Context, id string, s Spec) (Info, error) {
	snd, err := m.sender(s)
	if err != nil {
		return Info{}, err
	}
	var b [8]byte
	_, _ = rand.Read(b[:])
	oid := "out_" + hex.EncodeToString(b[:])
	if m.opts.Holds != nil {
		return m.addInCluster(ctx, &output{id: oid, session: id, spec: s, created: m.opts.Now()})
	}
	if err := m.save(ctx, &output{id: oid, session: id, spec: s, created: m.opts.Now()}); err != nil {
		return Info{}, err
	}
	info, err := m.start(&output{id: oid, session: id, spec: s, sender: snd, created: m.opts.Now()})
	if err != nil {
		_ = m.unsave(context.WithoutCancel(ctx), id, oid)
		return Info{}, err
	}
	m.log.Info("caption output added", "session_id", id, "output_id", oid, "kind", s.Kind, "lang", s.Lang)
	return info, nil
}

// start runs o (its id, session, spec, sender, created and where to
// resume set), within the per-session bound.
func (m *Manager) start(o *output) (Info, error) {
	id, s := o.session, o.spec
	o.m, o.done, o.wake, o.health = m, make(chan struct{}), make(chan struct{}, 1), Health{State: "running"}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ctx.Err() != nil {
		return Info{}, errors.New("outputs: closed")
	}
	if len(m.outs[id]) >= m.opts.MaxPerSession {
		return Info{}, ErrLimit
	}
	m.outs[id] = append(m.outs[id], o)
	o.start(m.ctx)
	return Info{ID: o.id, Spec: s, Health: o.snapshot()}, nil
}

// List returns session id's outputs (in a cluster, those the session's
// holder runs show State "elsewhere" in the other processes).
func (m *Manager) List(id string) []Info {
	m.mu.Lock()
	outs := slices.Clone(m.outs[id])
	m.mu.Unlock()
	out := make([]Info, 0, len(outs))
	for _, o := range outs {
		out = append(out, Info{ID: o.id, Spec: o.spec, Health: o.snapshot()})
	}
	if m.opts.Holds != nil {
		return m.listInCluster(id, out)
	}
	return out
}

// Remove stops one output (or, with outputID "", all of the session's)
// and waits for it within ctx.
func (m *Manager) Remove(ctx context.Context, id, outputID string) error {
	m.mu.Lock()
	gone := m.detachLocked(id, func(o *output) bool { return outputID == "" || o.id == outputID })
	m.mu.Unlock()
	if m.opts.Holds != nil { // the row decides; its holder's sync stops it
		n, err := m.unsaveCount(ctx, id, outputID)
		if err == nil && outputID != "" && n == 0 && len(gone) == 0 {
			return ErrNotFound
		}
		m.kick()
		return errors.Join(err, m.stop(ctx, gone))
	}
	if outputID != "" && len(gone) == 0 {
		return ErrNotFound
	}
	return errors.Join(m.unsave(ctx, id, outputID), m.stop(ctx, gone))
}

// detachLocked takes session id's outputs that drop picks out of the
// manager and returns them (m.mu held).
func (m *Manager) detachLocked(id string, drop func(*output) bool) []*output {
	var gone []*output
	keep := m.outs[id][:0:0]
	for _, o := range m.outs[id] {
		if drop(o) {
			gone = append(gone, o)
		} else {
			keep = append(keep, o)
		}
	}
	if len(keep) == 0 {
		delete(m.outs, id)
	} else {
		m.outs[id] = keep
	}
	return gone
}

func (m *Manager) stop(ctx context.Context, outs []*output) error {
	for _, o := range outs {
		o.cancel()
	}
	for _, o := range outs {
		select {
		case <-o.done:
		case <-ctx.Done():
			return fmt.Errorf("outputs: stop: %w", ctx.Err())
		}
	}
	return nil
}

// Close stops every output and waits for them within ctx.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	m.cancel()
	all := slices.Concat(mapValues(m.outs)...)
	m.outs = map[string][]*output{}
	m.mu.Unlock()
	m.syncOnce.Do(func() { close(m.syncDone) })
	select { // the sync loop starts nothing more once ctx is done
	case <-m.syncDone:
	case <-ctx.Done():
	}
	return m.stop(ctx, all)
}

// forget drops o from its session's list and the store without waiting
// for it (o's own goroutine calls it when the session is deleted).
func (m *Manager) forget(o *output) {
	defer m.unsaveLater(o)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.detachLocked(o.session, func(x *output) bool { return x == o })
}
