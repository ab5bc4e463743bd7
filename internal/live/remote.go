package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
)

// In a cluster, a command for a session this process does not own goes to
// its owner on the session's control subject (request/reply, JSON); the
// owner runs it as its own. A session no process owns (stopped, or no
// worker is up) is acted on here, on its stored record.

// ctlRequest is a command on izwi.live.<id>.control.
type ctlRequest struct {
	Op     string         `json:"op"`
	Owner  string         `json:"owner"`
	Update *UpdateRequest `json:"update,omitempty"`
	Secret string         `json:"secret,omitempty"`
}

// wireInfo is Info with the fields the API hides.
type wireInfo struct {
	Info
	Owner    string        `json:"owner"`
	AutoStop time.Duration `json:"auto_stop_ns"`
	PreRoll  time.Duration `json:"pre_roll_ns"`
}

// ctlReply is the owner's answer: an Info (or Stats, or the rate an
// ingest writes at), or an error by its catalogue code.
type ctlReply struct {
	Info  *wireInfo `json:"info,omitempty"`
	Stats *Stats    `json:"stats,omitempty"`
	Rate  int       `json:"rate,omitempty"`
	Code  string    `json:"code,omitempty"`
	Error string    `json:"error,omitempty"`
}

// The errors a reply can carry, by code. codeMoved: the process asked no
// longer owns the session (ask again).
const codeMoved = "moved"

var ctlErrors = map[string]error{"not_found": ErrNotFound, "busy": ErrBusy, "limit": ErrLimit, "bad_config": ErrBadConfig,
	"no_engine": ErrNoEngine, "secret": ErrSecret, "transition": ErrTransition, "shutdown": errShutdown}

// remoteError is an owner's error as this process sees it.
type remoteError struct {
	sentinel error
	msg      string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.sentinel }

func replyOf(info *Info, err error) ctlReply {
	if err != nil {
		for code, sentinel := range ctlErrors {
			if errors.Is(err, sentinel) {
				return ctlReply{Code: code, Error: err.Error()}
			}
		}
		return ctlReply{Code: "internal", Error: err.Error()}
	}
	if info == nil {
		return ctlReply{}
	}
	return ctlReply{Info: &wireInfo{Info: *info, Owner: info.Owner, AutoStop: info.AutoStopAfter, PreRoll: info.PreRoll}}
}

func (r ctlReply) err() error {
	if r.Code == "" {
		return nil
	}
	if s := ctlErrors[r.Code]; s != nil {
		return &remoteError{sentinel: s, msg: r.Error}
	}
	return fmt.Errorf("live: session owner: %s", r.Error)
}

func (r ctlReply) info() Info {
	if r.Info == nil {
		return Info{}
	}
	i := r.Info.Info
	i.Owner, i.AutoStopAfter, i.PreRoll = r.Info.Owner, r.Info.AutoStop, r.Info.PreRoll
	return i
}

// ownerWait bounds how long a command waits for a session to have an
// owner (a worker taking it over, or claiming a new one).
const ownerWait = 6 * time.Second

// ctlTimeout bounds one command at its owner (a stop drains the pipeline).
const ctlTimeout = drainTimeout + 5*time.Second

// forward runs req for session id at its owner when that is another
// process: done reports whether it did (then reply holds the answer).
// When this process owns the session, or none does and none takes it
// within ownerWait, the caller runs the command here (forward refreshes
// this process's copy of the record first).
func (m *Manager) forward(ctx context.Context, id string, req ctlRequest) (reply ctlReply, done bool, err error) {
	if !m.clustered() || !ValidID(id) {
		return ctlReply{}, false, nil
	}
	data, _ := json.Marshal(req)
	deadline := time.Now().Add(ownerWait)
	for {
		if s := m.local(id); s != nil && s.held() {
			return ctlReply{}, false, nil
		}
		r, err := m.recs.one(ctx, id)
		if errors.Is(err, ErrNotFound) {
			m.forgetCopy(id)
			return ctlReply{}, false, nil
		} else if err != nil {
			return ctlReply{}, true, err
		}
		holder, err := m.cl.Leases.Holder(ctx, id)
		if err != nil {
			return ctlReply{}, true, fmt.Errorf("live: finding the session's owner: %w", err)
		}
		if holder != "" {
			rctx, cancel := context.WithTimeout(ctx, ctlTimeout)
			msg, err := m.nc.RequestWithContext(rctx, SubjectsFor(id).Control, data)
			cancel()
			switch {
			case err == nil:
				var rep ctlReply
				if err := json.Unmarshal(msg.Data, &rep); err != nil {
					return ctlReply{}, true, fmt.Errorf("live: session owner's reply: %w", err)
				}
				if rep.Code != codeMoved {
					return rep, true, rep.err()
				}
			case !errors.Is(err, nats.ErrNoResponders):
				return ctlReply{}, true, fmt.Errorf("live: session owner: %w", err)
			}
		} else if r.State == Stopped || time.Now().After(deadline) {
			m.refreshCopy(r)
			return ctlReply{}, false, nil
		}
		if time.Now().After(deadline) {
			return ctlReply{}, true, fmt.Errorf("%w: the session's owner does not answer", ErrNoEngine)
		}
		select {
		case <-ctx.Done():
			return ctlReply{}, true, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// refreshCopy makes this process's copy of a session it does not own r.
func (m *Manager) refreshCopy(r record) {
	s, added := m.addIfAbsent(newSession(r, m.now()))
	if added {
		return
	}
	s.mu.Lock()
	if s.lease == nil {
		s.rec = r // a copy of the stored record of a session no process here runs
	}
	s.mu.Unlock()
}

// serveControl answers the session's control subject while this process
// owns it (s.fx held).
func (m *Manager) serveControl(s *session) error {
	id := s.id()
	sub, err := m.nc.Subscribe(SubjectsFor(id).Control, func(msg *nats.Msg) {
		var req ctlRequest
		var rep ctlReply
		switch {
		case json.Unmarshal(msg.Data, &req) != nil:
			rep = ctlReply{Code: "bad_config", Error: "live: bad control request"}
		case !s.held():
			rep = ctlReply{Code: codeMoved}
		default:
			ctx, cancel := context.WithTimeout(m.ctx, ctlTimeout)
			rep = m.runControl(ctx, id, req)
			cancel()
		}
		data, _ := json.Marshal(rep)
		_ = msg.Respond(data)
	})
	if err != nil {
		return fmt.Errorf("live: control subscription: %w", err)
	}
	s.mu.Lock()
	s.control = sub
	s.mu.Unlock()
	return nil
}

// runControl runs a forwarded command here, the owner.
func (m *Manager) runControl(ctx context.Context, id string, req ctlRequest) ctlReply {
	var info Info
	var err error
	switch req.Op {
	case "get":
		info, err = m.Get(ctx, req.Owner, id)
	case "update":
		if req.Update == nil {
			return ctlReply{Code: "bad_config", Error: "live: update without a body"}
		}
		info, err = m.Update(ctx, req.Owner, id, *req.Update)
	case "start", "stop", "resume", "pause":
		info, err = m.act(ctx, req.Owner, id, req.Op)
	case "delete":
		return replyOf(nil, m.Delete(ctx, req.Owner, id))
	case "attach":
		if err := m.canAttach(req.Owner, id); err != nil {
			return replyOf(nil, err)
		}
		return ctlReply{Rate: m.rate()}
	case "viewer":
		info, err = m.CheckViewer(ctx, id, req.Secret)
	case "stats":
		st, err := m.Stats(ctx, id)
		if err != nil {
			return replyOf(nil, err)
		}
		return ctlReply{Stats: &st}
	default:
		return ctlReply{Code: "bad_config", Error: "live: unknown control command"}
	}
	if err != nil {
		return replyOf(nil, err)
	}
	return replyOf(&info, nil)
}

// actions are the state commands by name.
var actions = map[string]struct {
	kind  InputKind
	audit string
}{"start": {EvStart, "session.start"}, "stop": {EvStop, "session.stop"}, "resume": {EvResume, "session.resume"},
	"pause": {EvPause, "session.pause"}}

// createdInCluster finishes Create in a cluster: the record is stored and
// a worker takes it; starting it, or giving it its prepared text, goes to
// that owner.
func (m *Manager) createdInCluster(ctx context.Context, owner string, r record, req CreateRequest, token string) (Created, error) {
	info := r.Info
	info.AutoStopSecs, info.PreRollSecs = info.AutoStopAfter.Seconds(), info.PreRoll.Seconds()
	var err error
	if req.Context != nil && req.Context.Text != "" {
		info, err = m.Update(ctx, owner, r.ID, UpdateRequest{Context: req.Context})
	}
	if err == nil && req.Start {
		info, err = m.Start(ctx, owner, r.ID)
	}
	if err != nil {
		if derr := m.Delete(context.WithoutCancel(ctx), owner, r.ID); derr != nil {
			m.log.Warn("live: a session that could not start was not removed", "session_id", r.ID, "err", derr)
		}
		return Created{}, err
	}
	return Created{Info: info, LinkToken: token}, nil
}

// listCluster is List in a cluster: the stored sessions, with what their
// owner knows for those this process owns.
func (m *Manager) listCluster(ctx context.Context, owner string) ([]Info, error) {
	recs, err := m.recs.all(ctx)
	if err != nil {
		return nil, err
	}
	out := []Info{}
	for _, r := range recs {
		if owner != "" && r.Owner != owner {
			continue
		}
		if s := m.local(r.ID); s != nil && s.held() {
			out = append(out, m.info(s))
			continue
		}
		i := r.Info
		i.AutoStopSecs, i.PreRollSecs = i.AutoStopAfter.Seconds(), i.PreRoll.Seconds()
		out = append(out, i)
	}
	return out, nil
}
