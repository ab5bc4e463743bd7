package live

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
)

// Limits on session settings.
const (
	MaxHotwords     = 100
	MaxHotwordBytes = 100
	MaxAutoStop     = 24 * time.Hour
	maxLanguage     = 35
)

// Create implements Sessions.
func (m *Manager) Create(ctx context.Context, owner string, req CreateRequest) (Created, error) {
	if err := checkLabel(req.Label); err != nil {
		return Created{}, err
	}
	mode := req.ViewerMode
	if mode == "" {
		mode = ViewPublic
	}
	r := record{Info: Info{ID: newID(), Owner: owner, Label: req.Label, State: Idle, ViewerMode: mode,
		Language: req.Language, CreatedAt: m.now().UTC(),
		KeepTranscript:   orDefault(req.KeepTranscript, m.hooks.privacy.KeepTranscript),
		IdentifySpeakers: orDefault(req.IdentifySpeakers, m.hooks.privacy.IdentifySpeakers)}}
	var err error
	if r.Hotwords, err = m.checkHotwords(ctx, req.Hotwords); err != nil {
		return Created{}, err
	}
	if err := checkLanguage(req.Language); err != nil {
		return Created{}, err
	}
	prepared, err := checkContext(req.Context)
	if err != nil {
		return Created{}, err
	}
	if r.AutoStopAfter, err = seconds2(req.AutoStopAfter, time.Duration(m.cfg.AutoStopAfter), MaxAutoStop, "auto_stop_after"); err != nil {
		return Created{}, err
	}
	if r.PreRoll, err = seconds2(req.PreRoll, m.cfg.PreRollDuration(), config.MaxPreRoll, "pre_roll"); err != nil {
		return Created{}, err
	}
	var token string
	switch mode {
	case ViewPublic, ViewPrivate:
		if req.Password != "" {
			return Created{}, fmt.Errorf("%w: a password needs viewer_mode password", ErrBadConfig)
		}
	case ViewLink:
		if req.Password != "" {
			return Created{}, fmt.Errorf("%w: a password needs viewer_mode password", ErrBadConfig)
		}
		token, r.Secret = newLinkToken()
	case ViewPassword:
		if err := checkPassword(req.Password); err != nil {
			return Created{}, err
		}
		r.Secret = hashPassword(req.Password)
	default:
		return Created{}, fmt.Errorf("%w: viewer_mode must be public, link, password or private", ErrBadConfig)
	}
	if m.isClosed() {
		return Created{}, errShutdown
	}
	// A session asked to start at once is not created when it could not.
	if req.Start && m.pipes.rec == nil && !m.clustered() {
		return Created{}, ErrNoEngine
	}
	if req.Start && !m.clustered() && m.pipes.live() >= m.cfg.MaxSessions {
		return Created{}, fmt.Errorf("%w: %d live already", ErrLimit, m.cfg.MaxSessions)
	}
	if err := m.hooks.record(ctx, actor(owner), "session.create", r.ID, "ok", map[string]string{"viewer_mode": string(mode)}); err != nil {
		return Created{}, err
	}
	if err := m.recs.insert(ctx, r); err != nil {
		return Created{}, err
	}
	if m.clustered() {
		return m.createdInCluster(ctx, owner, r, req, token)
	}
	s := newSession(r, m.now())
	s.setContext(prepared)
	if err := m.attachRuntime(s); err != nil {
		_ = m.recs.remove(context.WithoutCancel(ctx), r.ID)
		return Created{}, err
	}
	if err := m.add(s); err != nil {
		m.detachRuntime(s)
		_ = m.recs.remove(context.WithoutCancel(ctx), r.ID)
		return Created{}, err
	}
	m.gauge()
	info := m.info(s)
	if req.Start {
		if info, err = m.Start(ctx, owner, r.ID); err != nil {
			// A create that could not start leaves no session behind
			// (say, every decoder is taken): the caller is told to retry,
			// not handed a session it did not ask for.
			if derr := m.Delete(context.WithoutCancel(ctx), owner, r.ID); derr != nil {
				m.log.Warn("live: a session that could not start was not removed", "session_id", r.ID, "err", derr)
			}
			return Created{}, err
		}
	}
	return Created{Info: info, LinkToken: token}, nil
}

// info is s as the API shows it.
func (m *Manager) info(s *session) Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return m.infoLocked(s)
}

func (m *Manager) infoLocked(s *session) Info {
	i := s.rec.Info
	i.Hotwords = slices.Clone(i.Hotwords)
	i.AutoStopSecs, i.PreRollSecs = i.AutoStopAfter.Seconds(), i.PreRoll.Seconds()
	i.Source = s.source
	i.Context = m.contextInfoLocked(s)
	if s.pub != nil {
		i.LastSeq = s.pub.lastSeq()
	}
	return i
}

// Get implements Sessions.
func (m *Manager) Get(ctx context.Context, owner, id string) (Info, error) {
	if rep, done, err := m.forward(ctx, id, ctlRequest{Op: "get", Owner: owner}); done {
		return rep.info(), err
	}
	s, err := m.lookup(owner, id)
	if err != nil {
		return Info{}, err
	}
	return m.info(s), nil
}

// List implements Sessions: the owner's sessions, oldest first.
func (m *Manager) List(ctx context.Context, owner string) ([]Info, error) {
	if m.clustered() {
		return m.listCluster(ctx, owner)
	}
	out := []Info{}
	for _, s := range m.snapshot() {
		if i := m.info(s); owner == "" || i.Owner == owner {
			out = append(out, i)
		}
	}
	return out, nil
}

// Start implements Sessions.
func (m *Manager) Start(ctx context.Context, owner, id string) (Info, error) {
	return m.act(ctx, owner, id, "start")
}

// Stop implements Sessions.
func (m *Manager) Stop(ctx context.Context, owner, id string) (Info, error) {
	return m.act(ctx, owner, id, "stop")
}

// Resume implements Sessions.
func (m *Manager) Resume(ctx context.Context, owner, id string) (Info, error) {
	return m.act(ctx, owner, id, "resume")
}

// Pause blanks a live session's screens without ending it (see Paused).
func (m *Manager) Pause(ctx context.Context, owner, id string) (Info, error) {
	return m.act(ctx, owner, id, "pause")
}

// act applies a state command (op, one of actions) to session id.
func (m *Manager) act(ctx context.Context, owner, id, op string) (Info, error) {
	if rep, done, err := m.forward(ctx, id, ctlRequest{Op: op, Owner: owner}); done {
		return rep.info(), err
	}
	kind, action := actions[op].kind, actions[op].audit
	s, err := m.lookup(owner, id)
	if err != nil {
		return Info{}, err
	}
	s.fx.Lock()
	defer m.gauge()
	defer s.fx.Unlock()
	if s.isDeleted() {
		return Info{}, ErrNotFound
	}
	if err := m.step(ctx, s, actor(owner), Input{Kind: kind, At: m.now()}, action); err != nil {
		return Info{}, err
	}
	return m.info(s), nil
}

// Delete implements Sessions.
func (m *Manager) Delete(ctx context.Context, owner, id string) error {
	if _, done, err := m.forward(ctx, id, ctlRequest{Op: "delete", Owner: owner}); done {
		return err
	}
	s, err := m.lookup(owner, id)
	if err != nil {
		return err
	}
	s.fx.Lock()
	defer s.fx.Unlock()
	if s.isDeleted() {
		return ErrNotFound
	}
	if err := m.hooks.record(ctx, actor(owner), "session.delete", id, "ok", nil); err != nil {
		return err
	}
	s.mu.Lock()
	p := s.pipe
	s.pipe = nil
	s.mu.Unlock()
	if p != nil {
		m.drain(ctx, s, p, drainTimeout)
	}
	if err := m.recs.remove(ctx, id); err != nil {
		return err
	}
	s.mu.Lock()
	s.deleted = true
	h := s.takeRuntime()
	l := s.lease
	s.lease = nil
	s.mu.Unlock()
	h.release()
	if l != nil {
		_ = l.Release(context.WithoutCancel(ctx))
	}
	m.bus.forget(context.WithoutCancel(ctx), id)
	m.forget(s)
	m.hooks.forget(id)
	m.hubs.end(id, ErrNotFound)
	m.gauge()
	return nil
}

// isDeleted reports whether s was deleted.
func (s *session) isDeleted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleted
}

// CheckViewer implements Sessions.
func (m *Manager) CheckViewer(ctx context.Context, id, secret string) (Info, error) {
	if rep, done, err := m.forward(ctx, id, ctlRequest{Op: "viewer", Secret: secret}); done {
		return rep.info(), err
	}
	s, err := m.lookup("", id)
	if err != nil {
		return Info{}, err
	}
	s.mu.Lock()
	mode, stored := s.rec.ViewerMode, s.rec.Secret
	info := m.infoLocked(s)
	s.mu.Unlock()
	switch mode {
	case ViewPublic:
		return info, nil
	case ViewLink, ViewPassword:
		if stored != "" && checkSecret(stored, secret) {
			return info, nil
		}
	}
	return Info{}, ErrSecret
}
