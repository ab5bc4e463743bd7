package outputs

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"

	"github.com/izwi-speech/izwi/internal/live"
)

// Health is an output's state as the API and console show it. It never
// carries caption text or credentials.
type Health struct {
	// State: "running", "retrying" (the last attempt failed), "ended"
	// (the session is gone).
	State       string     `json:"state"`
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastError   string     `json:"last_error,omitempty"` // a class: "unreachable", "auth", "http_503", ...
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Queued      int        `json:"queued"`
	Sent        uint64     `json:"sent"`
	Failed      uint64     `json:"failed"`  // attempts that failed
	Dropped     uint64     `json:"dropped"` // captions given up on (refused, retries spent, queue full)
}

// output is one running output: a reader that follows the session's
// feed and queues finals, and a sender that sends them when due, in order,
// with retries. Both goroutines end when ctx does.
type output struct {
	id, session string
	spec        Spec
	sender      Sender
	m           *Manager
	created     time.Time
	after       uint64 // the live seq to resume after (a cluster's takeover)
	cancel      context.CancelFunc
	done        chan struct{}

	mu     sync.Mutex // guards queue and health; no I/O under it
	queue  []Caption
	wake   chan struct{}
	health Health
}

func (o *output) start(ctx context.Context) {
	ctx, o.cancel = context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); o.read(ctx) }()
	go func() { defer wg.Done(); o.send(ctx) }()
	go func() { wg.Wait(); _ = o.sender.Close(); close(o.done) }()
}

// read follows the feed from the start, skipping what was published
// before the output was created, and reopens it after a slow-viewer
// close; the session's deletion ends it.
func (o *output) read(ctx context.Context) {
	after := o.after
	wait := o.m.opts.MinBackoff
	for ctx.Err() == nil {
		f, err := o.m.opts.Source.Open(ctx, o.session, o.spec.Lang, after)
		if err == nil {
			stop := context.AfterFunc(ctx, f.Close) // a feed ends when ctx does; make sure
			for ev := range f.Events() {
				after = ev.Seq
				if ev.Type == live.TypeCaption && ev.Final && ev.Text != "" && !ev.Time.Before(o.created) {
					o.enqueue(captionOf(ev))
				}
				wait = o.m.opts.MinBackoff
			}
			stop()
			err = f.Err()
			f.Close()
		}
		if errors.Is(err, live.ErrNotFound) { // deleted: the output goes with it
			o.setState("ended")
			o.m.forget(o)
			o.cancel()
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = min(2*wait, o.m.opts.MaxBackoff)
	}
}

func (o *output) enqueue(c Caption) {
	o.mu.Lock()
	if len(o.queue) >= o.m.opts.QueueSize {
		o.queue = o.queue[1:] // the oldest is the least useful live
		o.health.Dropped++
		o.m.metrics.dropped.WithLabelValues(o.spec.Kind).Inc()
	}
	o.queue = append(o.queue, c)
	o.health.Queued = len(o.queue)
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

func (o *output) next() (Caption, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) == 0 {
		return Caption{}, false
	}
	return o.queue[0], true
}

func (o *output) pop(ok bool) {
	now := o.m.opts.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.queue) > 0 {
		o.queue = o.queue[1:]
	}
	o.health.Queued = len(o.queue)
	if ok {
		o.health.Sent++
		o.health.LastSuccess, o.health.State = &now, "running"
	} else {
		o.health.Dropped++
		o.m.metrics.dropped.WithLabelValues(o.spec.Kind).Inc()
	}
}

func (o *output) failed(class string) {
	now := o.m.opts.Now()
	o.mu.Lock()
	o.health.Failed++
	o.health.LastError, o.health.LastErrorAt, o.health.State = class, &now, "retrying"
	o.mu.Unlock()
	o.m.metrics.sends.WithLabelValues(o.spec.Kind, class).Inc()
}

func (o *output) setState(s string) {
	o.mu.Lock()
	o.health.State = s
	o.mu.Unlock()
}

// send delivers queued captions in order, each when its delay is up.
func (o *output) send(ctx context.Context) {
	delay := time.Duration(o.spec.Delay * float64(time.Second))
	for {
		c, ok := o.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
				continue
			}
		}
		if d := time.Until(c.At.Add(delay)); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		b := backoff.NewExponentialBackOff()
		b.InitialInterval, b.MaxInterval = o.m.opts.MinBackoff, o.m.opts.MaxBackoff
		_, err := backoff.Retry(ctx, func() (struct{}, error) {
			sctx, cancel := context.WithTimeout(ctx, o.m.opts.SendTimeout)
			err := o.sender.Send(sctx, c)
			cancel()
			if err == nil {
				return struct{}{}, nil
			}
			o.failed(ErrorClass(err))
			var p *Permanent
			if errors.As(err, &p) {
				return struct{}{}, backoff.Permanent(err)
			}
			return struct{}{}, err
		}, backoff.WithBackOff(b), backoff.WithMaxTries(uint(o.m.opts.MaxAttempts)), backoff.WithMaxElapsedTime(o.m.opts.MaxRetryTime))
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			o.m.metrics.sends.WithLabelValues(o.spec.Kind, "ok").Inc()
		}
		o.pop(err == nil)
		o.m.saveProgress(o, c.Seq)
	}
}

func (o *output) snapshot() Health {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.health
}
