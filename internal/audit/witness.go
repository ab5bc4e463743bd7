package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// witnessQueue bounds checkpoints waiting for the witness; past it the
// oldest waiting one is dropped (a later checkpoint vouches for more).
const witnessQueue = 64

// Witness sends every signed checkpoint to an HTTPS URL the operator
// chose (an external witness, a log collector), off the machine that
// holds the data directory: a copy an attacker there cannot rewrite, for
// `izwi audit verify --checkpoints`. Sending never blocks the log: the
// checkpoint is queued and POSTed (Content-Type text/plain) by one
// goroutine; a failure is logged and counted, never fatal. A nil *Witness
// does nothing.
type Witness struct {
	url    string
	client *http.Client
	log    *slog.Logger

	mu     sync.Mutex // guards closed and sends on q
	closed bool
	q      chan []byte
	done   chan struct{}

	sent, failed, dropped atomic.Int64
}

// NewWitness checks rawURL (https, or http to a loopback address for a
// local relay) and starts the sender. client nil takes one with a 10 s
// timeout. Close it after the log.
func NewWitness(rawURL string, client *http.Client, logger *slog.Logger) (*Witness, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("audit: witness url %q: not an absolute URL", rawURL)
	}
	if u.User != nil {
		return nil, errors.New("audit: witness url: no credentials in the URL")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && netpolicy.LoopbackHost(u.Hostname()):
	default:
		return nil, fmt.Errorf("audit: witness url %q: want https (http only to a loopback address)", u.Redacted())
	}
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	w := &Witness{url: u.String(), client: client, log: logger, q: make(chan []byte, witnessQueue), done: make(chan struct{})}
	go w.run()
	return w, nil
}

// send queues a signed checkpoint.
func (w *Witness) send(signed []byte) {
	if w == nil {
		return
	}
	msg := append([]byte(nil), signed...)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		w.dropped.Add(1)
		return
	}
	for {
		select {
		case w.q <- msg:
			return
		default:
		}
		select {
		case <-w.q:
			w.dropped.Add(1)
		default:
		}
	}
}

func (w *Witness) run() {
	defer close(w.done)
	for msg := range w.q {
		if err := w.post(msg); err != nil {
			w.failed.Add(1)
			w.log.Warn("audit witness: checkpoint not delivered", "err", err)
			continue
		}
		w.sent.Add(1)
	}
}

func (w *Witness) post(msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), w.client.Timeout+time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(msg))
	if err != nil {
		return fmt.Errorf("audit: witness: %w", err)
	}
	req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	resp, err := w.client.Do(req)
	if err != nil {
		return fmt.Errorf("audit: witness: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("audit: witness answered %d", resp.StatusCode)
	}
	return nil
}

// Close sends what is queued, until ctx ends, and stops the sender.
func (w *Witness) Close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.q)
	}
	w.mu.Unlock()
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("audit: witness: %d checkpoints unsent: %w", len(w.q), ctx.Err())
	}
}

// WitnessStats are the witness's counters.
type WitnessStats struct{ Sent, Failed, Dropped int64 }

// Stats returns the counters.
func (w *Witness) Stats() WitnessStats {
	if w == nil {
		return WitnessStats{}
	}
	return WitnessStats{Sent: w.sent.Load(), Failed: w.failed.Load(), Dropped: w.dropped.Load()}
}
