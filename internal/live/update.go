package live

import (
	"context"
	"fmt"
	"slices"
)

// Update implements Sessions. A stopped session may change only its label.
// Turning a session into ViewLink is refused (its token could not be
// shown): create a new session for that.
func (m *Manager) Update(ctx context.Context, owner, id string, req UpdateRequest) (Info, error) {
	if rep, done, err := m.forward(ctx, id, ctlRequest{Op: "update", Owner: owner, Update: &req}); done {
		return rep.info(), err
	}
	s, err := m.lookup(owner, id)
	if err != nil {
		return Info{}, err
	}
	if req.Label != nil {
		if err := checkLabel(*req.Label); err != nil {
			return Info{}, err
		}
	}
	var hotwords []string
	if req.Hotwords != nil {
		if hotwords, err = m.checkHotwords(ctx, *req.Hotwords); err != nil {
			return Info{}, err
		}
	}
	prepared, err := checkContext(req.Context)
	if err != nil {
		return Info{}, err
	}
	// s.fx keeps every other change of s out until this one is done; its
	// settings are worked out (a password hashed) without s.mu.
	s.fx.Lock()
	defer s.fx.Unlock()
	s.mu.Lock()
	cur, deleted := s.rec, s.deleted
	s.mu.Unlock()
	if deleted {
		return Info{}, ErrNotFound
	}
	other := req.ViewerMode != nil || req.Password != nil || req.Hotwords != nil || req.AutoStopAfter != nil || req.Context != nil
	if other && cur.State == Stopped {
		return Info{}, fmt.Errorf("%w: a stopped session may change only its label", ErrTransition)
	}
	next, err := updated(cur, req, hotwords)
	if err != nil {
		return Info{}, err
	}
	s.mu.Lock()
	restart := req.Hotwords != nil && s.pipe != nil && !slices.Equal(hotwords, s.rec.Hotwords)
	if req.Context != nil && prepared != s.context {
		s.setContext(prepared)
		restart = restart || s.pipe != nil
	}
	s.rec.ViewerMode, s.rec.Secret, s.rec.Hotwords = next.ViewerMode, next.Secret, next.Hotwords
	s.rec.AutoStopAfter, s.rec.KeepTranscript, s.rec.IdentifySpeakers = next.AutoStopAfter, next.KeepTranscript, next.IdentifySpeakers
	var old *Pipeline
	if restart {
		// New hotwords or prepared text apply from the next utterance: the
		// pipeline is reopened with them, its clock continuing; audio that
		// comes meanwhile waits for the new one (acceptAudio).
		old, s.pipe = s.pipe, nil
	}
	s.mu.Unlock()
	if old != nil {
		m.drain(ctx, s, old, drainTimeout)
		if err := m.reopen(s); err != nil {
			return Info{}, err
		}
	}
	if req.Label != nil && *req.Label != cur.Label {
		// The label changes through the state machine.
		if err := m.step(ctx, s, actor(owner), Input{Kind: EvLabel, At: m.now(), Label: *req.Label}, ""); err != nil {
			return Info{}, err
		}
	} else if err := m.persist(ctx, s); err != nil {
		return Info{}, err
	}
	return m.info(s), nil
}

// updated is cur with req's settings (not its label or state) applied.
func updated(cur record, req UpdateRequest, hotwords []string) (record, error) {
	next := cur
	var err error
	if req.AutoStopAfter != nil {
		if next.AutoStopAfter, err = seconds2(req.AutoStopAfter, 0, MaxAutoStop, "auto_stop_after"); err != nil {
			return record{}, err
		}
	}
	if req.ViewerMode != nil || req.Password != nil {
		mode := next.ViewerMode
		if req.ViewerMode != nil {
			mode = *req.ViewerMode
		}
		switch {
		case mode == ViewLink && next.ViewerMode != ViewLink:
			return record{}, fmt.Errorf("%w: a link token is issued only at creation; create a new session", ErrBadConfig)
		case mode == ViewPassword && req.Password != nil:
			if err := checkPassword(*req.Password); err != nil {
				return record{}, err
			}
			next.Secret = hashPassword(*req.Password)
		case mode == ViewPassword && next.ViewerMode != ViewPassword:
			return record{}, fmt.Errorf("%w: viewer_mode password needs a password", ErrBadConfig)
		case req.Password != nil:
			return record{}, fmt.Errorf("%w: a password needs viewer_mode password", ErrBadConfig)
		case mode == ViewPublic || mode == ViewPrivate:
			next.Secret = ""
		case mode != ViewLink && mode != ViewPassword:
			return record{}, fmt.Errorf("%w: viewer_mode must be public, link, password or private", ErrBadConfig)
		}
		next.ViewerMode = mode
	}
	if req.Hotwords != nil {
		next.Hotwords = hotwords
	}
	if req.KeepTranscript != nil {
		next.KeepTranscript = *req.KeepTranscript
	}
	if req.IdentifySpeakers != nil {
		next.IdentifySpeakers = *req.IdentifySpeakers
	}
	return next, nil
}
