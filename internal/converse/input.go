package converse

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/coder/websocket"

	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/recognize"
)

// This file is the input side of a conversation: the client's messages
// (read by the reader goroutine) and the pipeline's events.

// emit is the pipeline's callback: queue and signal, never block.
func (s *session) emit(e recognize.Event) {
	s.evMu.Lock()
	s.evq = append(s.evq, e)
	s.evMu.Unlock()
	select {
	case s.evSig <- struct{}{}:
	default:
	}
}

// read handles the client's messages until the connection ends. Reads are
// not bound to ctx: cancelling a read drops the socket without a close
// frame, so the main loop closes the connection instead.
func (s *session) read(ctx context.Context, ctl chan<- string) closeWith {
	for {
		typ, msg, err := s.conn.Read(context.WithoutCancel(ctx))
		if err != nil {
			return closeWith{-1, ""}
		}
		s.arrMu.Lock()
		s.lastSeen = time.Now()
		s.arrMu.Unlock()
		if typ == websocket.MessageBinary {
			if end := s.audio(ctx, msg); end.code != 0 {
				return end
			}
			continue
		}
		var c control
		if json.Unmarshal(msg, &c) != nil || (c.Type != ctlStop && c.Type != ctlCancel) {
			return closeWith{websocket.StatusPolicyViolation, `text messages must be {"type":"stop"} or {"type":"cancel"}`}
		}
		select {
		case ctl <- c.Type:
		case <-ctx.Done():
			return closeWith{-1, ""}
		}
		if c.Type == ctlStop {
			return closeWith{websocket.StatusNormalClosure, ""}
		}
	}
}

// audio charges, converts and queues one binary message.
func (s *session) audio(ctx context.Context, msg []byte) closeWith {
	d := time.Duration(int64(len(msg)/2) * int64(time.Second) / int64(s.cfg.SampleRate))
	if s.sess != nil {
		if err := s.sess.ChargeAudio(ctx, d); err != nil {
			var le *limit.Error
			if errors.As(err, &le) {
				return closeWith{websocket.StatusPolicyViolation, "audio quota exhausted"}
			}
			return closeWith{websocket.StatusInternalError, "internal error"}
		}
	}
	samples := s.conv.Convert(msg)
	if err := s.pl.Write(samples); err != nil {
		if ctx.Err() != nil {
			return closeWith{-1, ""}
		}
		return closeWith{websocket.StatusInternalError, "recognition failed"}
	}
	s.arrMu.Lock()
	s.received += int64(len(samples))
	s.arrivals = append(s.arrivals, arrival{end: s.received, at: time.Now()})
	if len(s.arrivals) > 4096 {
		s.arrivals = slices.Delete(s.arrivals, 0, 2048)
	}
	s.arrMu.Unlock()
	return closeWith{}
}

// heardAt is when the audio at stream time at (seconds) arrived.
func (s *session) heardAt(at float64) time.Time {
	idx := int64(at * float64(s.recRate))
	s.arrMu.Lock()
	defer s.arrMu.Unlock()
	i, _ := slices.BinarySearchFunc(s.arrivals, idx, func(a arrival, t int64) int {
		return int(min(max(a.end-t, -1), 1))
	})
	if i < len(s.arrivals) {
		return s.arrivals[i].at
	}
	return time.Now()
}
