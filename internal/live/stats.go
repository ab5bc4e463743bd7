package live

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"
)

// Stats is what the console shows of a running session: how loud its input
// is, whether it clips, which engine recognises it and how many viewers
// follow it. Never a word or a sample.
type Stats struct {
	State State `json:"state"`
	// Level is the input's peak over the last second on a 0..1 scale that
	// reads like ears do (-60 dBFS → 0, 0 dBFS → 1); 0 with no audio.
	Level float64 `json:"level"`
	// PeakDBFS is that peak in dBFS (-60 or below: silence or no audio).
	PeakDBFS float64 `json:"peak_dbfs"`
	// Clipping: a sample at full scale arrived in the last three seconds.
	Clipping bool `json:"clipping"`
	// Receiving: audio arrived in the last two seconds.
	Receiving bool `json:"receiving"`
	// Engine named the session's latest caption ("" before the first).
	Engine string `json:"engine"`
	// Viewers is the number of caption feeds open in this process.
	Viewers int `json:"viewers"`
}

// levelWindow is how long a peak is shown; clipWindow how long clipping is.
const (
	levelWindow = time.Second
	recvWindow  = 2 * time.Second
	clipWindow  = 3 * time.Second
	// clipLevel is a PCM16 sample at (or one step below) full scale.
	clipLevel = 32766.0 / 32768
	floorDBFS = -60
)

// levelMeter keeps a session's recent input peak; written by the session's
// audio goroutine, read by Stats, lock-free.
type levelMeter struct {
	peak   atomic.Uint32 // math.Float32bits of the peak since peakAt
	peakAt atomic.Int64  // unix ns the current window began
	lastAt atomic.Int64  // unix ns audio last arrived
	clipAt atomic.Int64  // unix ns a full-scale sample last arrived
}

func (l *levelMeter) note(samples []float32, now time.Time) {
	var p float32
	for _, v := range samples {
		p = max(p, v, -v)
	}
	ns := now.UnixNano()
	l.lastAt.Store(ns)
	if p >= clipLevel {
		l.clipAt.Store(ns)
	}
	if ns-l.peakAt.Load() > int64(levelWindow) {
		l.peakAt.Store(ns)
		l.peak.Store(math.Float32bits(p))
		return
	}
	if old := math.Float32frombits(l.peak.Load()); p > old {
		l.peak.Store(math.Float32bits(p))
	}
}

func (l *levelMeter) read(now time.Time, s *Stats) {
	ns := now.UnixNano()
	s.Receiving = l.lastAt.Load() != 0 && ns-l.lastAt.Load() <= int64(recvWindow)
	s.Clipping = l.clipAt.Load() != 0 && ns-l.clipAt.Load() <= int64(clipWindow)
	s.PeakDBFS = floorDBFS
	if !s.Receiving || ns-l.peakAt.Load() > 2*int64(levelWindow) {
		return
	}
	if p := float64(math.Float32frombits(l.peak.Load())); p > 0 {
		s.PeakDBFS = max(floorDBFS, math.Round(200*math.Log10(p))/10) // 0.1 dB steps
	}
	s.Level = (s.PeakDBFS - floorDBFS) / -floorDBFS
}

// Stats returns what the console shows of session id (any owner's: the
// console is an administrator's view).
func (m *Manager) Stats(ctx context.Context, id string) (Stats, error) {
	if err := ctx.Err(); err != nil {
		return Stats{}, err
	}
	if rep, done, err := m.forward(ctx, id, ctlRequest{Op: "stats"}); done {
		if err != nil || rep.Stats == nil {
			return Stats{}, errors.Join(err, errors.New("live: no stats from the session's owner"))
		}
		st := *rep.Stats
		st.Viewers = m.hubs.viewers(id) // feeds are per process
		return st, nil
	}
	s, err := m.lookup("", id)
	if err != nil {
		return Stats{}, err
	}
	var st Stats
	s.level.read(m.now(), &st)
	s.mu.Lock()
	st.State = s.rec.State
	pub := s.pub
	s.mu.Unlock()
	if pub != nil {
		st.Engine = pub.lastEngine()
	}
	st.Viewers = m.hubs.viewers(id)
	return st, nil
}
