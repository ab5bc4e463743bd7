package live

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
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
//
// In a cluster (js set) the bus's audio stream keeps that subject, and a
// message published while the stream has no leader (a bus node just died)
// would be lost with nothing to say so. There each message is published
// with JetStream's acknowledgement under a message ID of its own and
// retried until the stream has it (it drops the copy of one it kept), for
// at most publishRetry; the caller waits meanwhile, so order holds.
type busAudio struct {
	nc   *nats.Conn
	js   jetstream.JetStream // nil: plain publishes (a split deployment without the cluster's stream)
	subj string
	id   string // message ID prefix, unique to this source

	mu  sync.Mutex
	buf []byte
	n   uint64 // messages published
}

// publishRetry bounds how long one audio message is retried on the
// cluster's stream (a leader election takes a few seconds at most).
const publishRetry = 10 * time.Second

func newBusAudio(nc *nats.Conn, js jetstream.JetStream, id string) *busAudio {
	return &busAudio{nc: nc, js: js, subj: SubjectsFor(id).Audio, id: newID()}
}

func (b *busAudio) send(samples []float32) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	for len(samples) > 0 {
		n := min(len(samples), maxChunk)
		b.buf = encodePCM16(b.buf[:0], samples[:n])
		if err := b.publish(&nats.Msg{Subject: b.subj, Data: b.buf}); err != nil {
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
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.publish(msg); err != nil {
		return fmt.Errorf("live: publishing finalize: %w", err)
	}
	return nil
}

// publish sends msg, on the cluster's stream until it is kept. Called
// with b.mu held (the order of a source's messages).
func (b *busAudio) publish(msg *nats.Msg) error {
	if b.js == nil {
		return b.nc.PublishMsg(msg)
	}
	b.n++
	if msg.Header == nil {
		msg.Header = nats.Header{}
	}
	msg.Header.Set(jetstream.MsgIDHeader, b.id+"-"+strconv.FormatUint(b.n, 10))
	ctx, cancel := context.WithTimeout(context.Background(), publishRetry)
	defer cancel()
	wait := 20 * time.Millisecond
	for {
		// One attempt waits for its acknowledgement a second at most: a
		// request made while the stream had no leader is never answered.
		try, stop := context.WithTimeout(ctx, time.Second)
		_, err := b.js.PublishMsg(try, msg)
		stop()
		if err == nil || errors.Is(err, nats.ErrConnectionClosed) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
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
