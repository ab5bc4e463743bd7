package outputs

import (
	"context"
	"fmt"
	"time"
)

// In a cluster (Options.Holds set) every output runs in one process: the
// holder of its session's lease, the worker running the session's
// pipeline. Any process adds and removes outputs in the Store; each
// process re-reads the Store every SyncEvery (and at once after its own
// change) and runs exactly the stored outputs of the sessions it holds,
// resuming each after the last caption its previous holder sent.

// resumable is a sender with a count of its own that the session's next
// holder carries on (YouTube's seq must grow, never repeat).
type resumable interface {
	Count() uint64
	Resume(n uint64)
}

var _ resumable = (*youtube)(nil)

// kick asks the sync loop to re-read the Store now.
func (m *Manager) kick() {
	select {
	case m.syncWake <- struct{}{}:
	default:
	}
}

func (m *Manager) syncLoop() {
	defer close(m.syncDone)
	t := time.NewTicker(m.opts.SyncEvery)
	defer t.Stop()
	for {
		m.sync(m.ctx)
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		case <-m.syncWake:
		}
	}
}

// sync starts the stored outputs of the sessions this process holds that
// are not running here, and stops the running ones that are no longer
// stored or whose session another process holds now.
func (m *Manager) sync(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	rows, err := m.stored(rctx, "")
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			m.log.Warn("reading caption outputs", "error", err)
		}
		return
	}
	want := map[string]row{}
	for _, r := range rows {
		if m.opts.Holds(r.session) {
			want[r.id] = r
		}
	}
	m.mu.Lock()
	var gone []*output
	running := map[string]bool{}
	for id := range m.outs {
		gone = append(gone, m.detachLocked(id, func(o *output) bool {
			_, ok := want[o.id]
			running[o.id] = ok
			return !ok
		})...)
	}
	m.mu.Unlock()
	for _, o := range gone {
		o.cancel() // not waited for: its goroutines end on their own
		m.log.Info("caption output stopped here", "session_id", o.session, "output_id", o.id)
	}
	for _, r := range rows {
		if _, ok := want[r.id]; !ok || running[r.id] {
			continue
		}
		snd, err := m.sender(r.spec)
		if err != nil {
			continue // refused here too; Restore's rule: left stored
		}
		if rs, ok := snd.(resumable); ok {
			rs.Resume(r.senderSeq)
		}
		if _, err := m.start(&output{id: r.id, session: r.session, spec: r.spec, sender: snd, created: r.created, after: r.sentSeq}); err != nil {
			if ctx.Err() == nil {
				m.log.Warn("starting a caption output", "session_id", r.session, "output_id", r.id, "error", err)
			}
			continue
		}
		m.log.Info("caption output running here", "session_id", r.session, "output_id", r.id, "after_seq", r.sentSeq)
	}
}

// addInCluster stores o within the per-session bound; its session's
// holder starts it.
func (m *Manager) addInCluster(ctx context.Context, o *output) (Info, error) {
	rows, err := m.stored(ctx, o.session)
	if err != nil {
		return Info{}, err
	}
	if len(rows) >= m.opts.MaxPerSession {
		return Info{}, ErrLimit
	}
	if err := m.save(ctx, o); err != nil {
		return Info{}, err
	}
	m.kick()
	m.log.Info("caption output added", "session_id", o.session, "output_id", o.id, "kind", o.spec.Kind, "lang", o.spec.Lang)
	return Info{ID: o.id, Spec: o.spec, Health: Health{State: "starting"}}, nil
}

// listInCluster adds to local (the outputs running here) the stored ones
// of session id that another process runs.
func (m *Manager) listInCluster(id string, local []Info) []Info {
	ctx, cancel := context.WithTimeout(m.ctx, 5*time.Second)
	defer cancel()
	rows, err := m.stored(ctx, id)
	if err != nil {
		m.log.Warn("listing caption outputs", "session_id", id, "error", fmt.Errorf("outputs: %w", err))
		return local
	}
	here := map[string]bool{}
	for _, o := range local {
		here[o.ID] = true
	}
	for _, r := range rows {
		if !here[r.id] {
			local = append(local, Info{ID: r.id, Spec: r.spec, Health: Health{State: "elsewhere"}})
		}
	}
	return local
}
