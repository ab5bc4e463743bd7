package deepgram

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
)

// stream is one live connection. The caller's goroutine sends audio and
// control messages; a reader goroutine turns server messages into results
// kept under mu (no I/O under mu); a keeper goroutine sends KeepAlive when
// the caller has been silent. Both goroutines end when the connection
// closes, and Close, Reset or a failed connect wait for them.
type stream struct {
	rec      *Recognizer
	hotwords []string

	conn    *websocket.Conn
	base    context.Context    // the creator's values, never cancelled
	stop    context.CancelFunc // ends the reader and keeper
	wg      sync.WaitGroup
	unsent  bool // audio went out since the last Finalize
	closed  bool
	lastOut chan struct{} // a write happened (keeper resets its timer)

	mu        sync.Mutex
	pending   []speech.Result
	err       error         // terminal: the connection failed
	finalized int           // from_finalize answers received
	segment   int           // current segment number
	partial   bool          // a partial of the current segment was reported
	acked     time.Duration // end of the latest Results message (stream time)
	notify    chan struct{}
}

var _ speech.Stream = (*stream)(nil)

// connect opens a connection and starts its goroutines; segment numbers
// and times restart (Deepgram's times start at 0 on each connection).
func (s *stream) connect(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deepgram: connect: %w", err)
	}
	conn, err := s.rec.dial(ctx, s.hotwords)
	if err != nil {
		return err
	}
	s.base = context.WithoutCancel(ctx)
	lctx, stop := context.WithCancel(s.base)
	s.conn, s.stop, s.unsent = conn, stop, false
	s.notify, s.lastOut = make(chan struct{}, 1), make(chan struct{}, 1)
	s.mu.Lock()
	s.pending, s.err, s.finalized, s.segment, s.partial, s.acked = nil, nil, 0, 0, false, 0
	s.mu.Unlock()
	s.wg.Add(2)
	go s.read(lctx, conn)
	go s.keep(lctx, conn)
	return nil
}

// disconnect closes the connection without ceremony and waits for the
// goroutines.
func (s *stream) disconnect() {
	if s.conn == nil {
		return
	}
	s.stop()
	s.conn.CloseNow()
	s.wg.Wait()
	s.conn = nil
}

func (s *stream) read(ctx context.Context, conn *websocket.Conn) {
	defer s.wg.Done()
	for {
		typ, b, err := conn.Read(ctx)
		if err != nil {
			s.fail(classify(ctx, "receive", err))
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		m, err := parseLive(b)
		if err == nil && m.Type == "Results" {
			err = s.add(m)
		}
		if err != nil {
			s.fail(&Error{Op: "receive", Reason: ReasonServerError, Err: err})
			conn.CloseNow()
			return
		}
	}
}

// add files a Results message. Each is_final message closes a segment.
func (s *stream) add(m liveMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := m.result(s.segment)
	if !ok {
		return errors.New("malformed words")
	}
	switch {
	case r.Final && (r.Text != "" || s.partial):
		s.pending = append(s.pending, r)
		s.segment++
		s.partial = false
	case !r.Final && r.Text != "":
		s.pending = append(s.pending, r)
		s.partial = true
	}
	if m.FromFinalize {
		s.finalized++
	}
	s.acked = max(s.acked, r.End)
	s.signal()
	return nil
}

func (s *stream) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.signal()
	s.mu.Unlock()
}

func (s *stream) signal() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// keep sends KeepAlive whenever no write went out for KeepAlive.
func (s *stream) keep(ctx context.Context, conn *websocket.Conn) {
	defer s.wg.Done()
	every := s.rec.cfg.KeepAlive
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.lastOut:
			t.Reset(every)
		case <-t.C:
			wctx, cancel := context.WithTimeout(ctx, every)
			err := conn.Write(wctx, websocket.MessageText, msgKeepAlive)
			cancel()
			if err != nil {
				s.fail(classify(ctx, "send", err))
				return
			}
			t.Reset(every)
		}
	}
}

// write sends one frame, bounded by ctx.
func (s *stream) write(ctx context.Context, typ websocket.MessageType, b []byte) error {
	if err := s.conn.Write(ctx, typ, b); err != nil {
		s.fail(classify(ctx, "send", err))
		// Report the first cause: a write fails because the reader
		// already dropped the connection over what it received.
		s.mu.Lock()
		err = s.err
		s.mu.Unlock()
		return err
	}
	select {
	case s.lastOut <- struct{}{}:
	default:
	}
	return nil
}

// take returns the results gathered so far, or the terminal error.
func (s *stream) take() ([]speech.Result, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := s.pending
	s.pending = nil
	return rs, s.finalized, s.err
}

func (s *stream) usable(ctx context.Context) error {
	if s.closed {
		return speech.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("deepgram: %w", err)
	}
	if s.conn == nil { // a Reset failed to reconnect; try again
		return s.connect(ctx)
	}
	return nil
}

// Accept sends samples as one linear16 frame and returns the results that
// arrived since the last call.
func (s *stream) Accept(ctx context.Context, samples []float32) ([]speech.Result, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if err := speech.CheckSamples(samples); err != nil {
		return nil, err
	}
	// Large pushes (a chain's replay) go as several frames: Deepgram
	// expects streaming-sized ones, and WebSocket peers bound messages.
	frame := s.rec.cfg.SampleRate / 4
	for off := 0; off < len(samples); off += frame {
		pcm := audio.EncodePCM16(samples[off:min(off+frame, len(samples))])
		if err := s.write(ctx, websocket.MessageBinary, pcm); err != nil {
			return nil, err
		}
		s.unsent = true
	}
	rs, _, err := s.take()
	return rs, err
}

// Flush sends Finalize and waits for its answer, bounded by ctx and by
// FlushTimeout without any message (audio sent faster than real time
// leaves a backlog Deepgram answers through first).
func (s *stream) Flush(ctx context.Context) ([]speech.Result, error) {
	if err := s.usable(ctx); err != nil {
		return nil, err
	}
	if !s.unsent {
		rs, _, err := s.take()
		return rs, err
	}
	s.mu.Lock()
	want := s.finalized + 1
	s.mu.Unlock()
	if err := s.write(ctx, websocket.MessageText, msgFinalize); err != nil {
		return nil, err
	}
	s.unsent = false
	timeout := time.NewTimer(s.rec.cfg.FlushTimeout)
	defer timeout.Stop()
	var out []speech.Result
	for {
		rs, got, err := s.take()
		out = append(out, rs...)
		if err != nil || got >= want {
			return out, err
		}
		select {
		case <-s.notify: // progress: Deepgram is working through a backlog
			timeout.Reset(s.rec.cfg.FlushTimeout)
		case <-ctx.Done():
			return out, fmt.Errorf("deepgram: flush: %w", ctx.Err())
		case <-timeout.C:
			err := &Error{Op: "flush", Reason: ReasonStall, Err: errors.New("no answer to Finalize")}
			s.fail(err)
			return out, err
		}
	}
}

// Acknowledged is how much of the audio sent Deepgram has answered for:
// the end of the latest Results message, empty ones included (Deepgram
// answers silence with empty results). A chain watches it to detect a
// stall while audio flows.
func (s *stream) Acknowledged() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acked
}

// Reset drops the connection and everything in flight and opens a new one.
func (s *stream) Reset(ctx context.Context) error {
	if s.closed {
		return speech.ErrClosed
	}
	s.disconnect()
	return s.connect(ctx)
}

// Close says CloseStream (briefly) and drops the connection.
func (s *stream) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.conn != nil {
		ctx, cancel := context.WithTimeout(s.base, 200*time.Millisecond)
		_ = s.conn.Write(ctx, websocket.MessageText, msgCloseStream)
		cancel()
	}
	s.disconnect()
	return nil
}
