package live

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/nats-io/nats.go"
)

// audioTransport carries one source's audio, and its finalize commands, in
// order to the session's pipeline. An in-process session gets localAudio:
// the samples go straight to the session, never encoded. busAudio is for
// an owner in another process; the owner's subscription (attachRuntime)
// decodes what it publishes.
type audioTransport interface {
	send(samples []float32) error
	finalize() error
	// reconnected tells the session its source came back (EvReconnect).
	reconnected() error
}

var (
	_ audioTransport = localAudio{}
	_ audioTransport = (*busAudio)(nil)
)

// localAudio hands audio to a session of this manager.
type localAudio struct {
	m *Manager
	s *session
}

// send copies samples (the caller may reuse its buffer; the pipeline
// queues them) and delivers them as the bus subscription would.
func (l localAudio) send(samples []float32) error {
	for len(samples) > 0 {
		n := min(len(samples), maxChunk)
		l.m.acceptAudio(l.s, append([]float32(nil), samples[:n]...), 2*n, streamPos{})
		samples = samples[n:]
	}
	return nil
}

func (l localAudio) finalize() error {
	l.m.finalizeAudio(l.s)
	return nil
}

// reconnected drives EvReconnect through Next. It has no effects; a
// session that is not live or paused refuses it, which a source need not
// hear about (it may come back while the session is idle).
func (l localAudio) reconnected() error {
	if err := l.s.quiet(Input{Kind: EvReconnect, At: l.m.now()}); err != nil && !errors.Is(err, ErrTransition) {
		return err
	}
	return nil
}

// busAudio publishes audio on a session's audio subject as 16-bit PCM.
type busAudio struct {
	nc   *nats.Conn
	subj string

	mu  sync.Mutex
	buf []byte
}

func (b *busAudio) send(samples []float32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(samples) > 0 {
		n := min(len(samples), maxChunk)
		b.buf = encodePCM16(b.buf[:0], samples[:n])
		if err := b.nc.Publish(b.subj, b.buf); err != nil {
			return fmt.Errorf("live: publishing audio: %w", err)
		}
		samples = samples[n:]
	}
	return nil
}

// reconnected: the session's owner is in another process and learns of
// the source through its audio only.
func (b *busAudio) reconnected() error { return nil }

func (b *busAudio) finalize() error {
	msg := &nats.Msg{Subject: b.subj, Header: nats.Header{}}
	msg.Header.Set(cmdHeader, cmdFinalize)
	if err := b.nc.PublishMsg(msg); err != nil {
		return fmt.Errorf("live: publishing finalize: %w", err)
	}
	return nil
}

// encodePCM16 appends samples as 16-bit little-endian PCM to dst, scaled
// by 32768 (clamped) so that decodePCM16 returns them exactly when they
// came from 16-bit audio.
func encodePCM16(dst []byte, samples []float32) []byte {
	for _, v := range samples {
		x := max(-32768, min(32767, math.Round(float64(v)*32768)))
		dst = binary.LittleEndian.AppendUint16(dst, uint16(int16(x)))
	}
	return dst
}

// decodePCM16 reads 16-bit little-endian PCM (an odd last byte is ignored).
func decodePCM16(b []byte) []float32 {
	out := make([]float32, len(b)/2)
	for i := range out {
		out[i] = float32(int16(binary.LittleEndian.Uint16(b[2*i:]))) / 32768
	}
	return out
}
