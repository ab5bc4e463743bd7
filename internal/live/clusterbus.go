package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/izwi-speech/izwi/internal/lease"
)

// The JetStream parts of a cluster, all in the broker's memory (never on
// disk):
//   - stream IZWI_LIVE_AUDIO keeps every session's audio subject for
//     Cluster.Audio, so an owner that takes a session over recognises
//     again what its predecessor had not finished;
//   - stream IZWI_LIVE_EVENTS keeps the latest event of each session, so
//     a new owner numbers on from the last Seq any viewer saw, and skips
//     the finals that event says were told (its Izwi-Final-End header:
//     the end of the session's latest final, published with the event so
//     it is never behind what viewers saw);
//   - bucket izwi_live_marks holds, per live session, where in the audio
//     stream its last final caption ended (a mark).
const (
	audioStream  = "IZWI_LIVE_AUDIO"
	eventsStream = "IZWI_LIVE_EVENTS"
	marksBucket  = "izwi_live_marks"
)

// mark is where a session's last final caption ended: in the audio stream
// (message Seq, Skip samples into it) and on the session's clock.
type mark struct {
	Seq   uint64 `json:"seq"`
	Skip  int    `json:"skip"`
	EndMS int64  `json:"end_ms"`
}

// clusterBus is a clustered manager's handle on those parts; nil-safe
// (every method of a nil *clusterBus finds nothing).
type clusterBus struct {
	js    jetstream.JetStream
	marks jetstream.KeyValue
	log   *slog.Logger

	mu      sync.Mutex
	pending map[string]mark // marks to write, latest per session
	wake    chan struct{}
}

func openClusterBus(ctx context.Context, nc *nats.Conn, keep time.Duration, log *slog.Logger) (*clusterBus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("live: jetstream: %w", err)
	}
	if keep <= 0 {
		keep = time.Minute
	}
	r := lease.Replicas(nc)
	if err := lease.Setup(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: audioStream, Subjects: []string{"izwi.live.*.audio"},
			Storage: jetstream.MemoryStorage, MaxAge: keep, Duplicates: min(keep, 2*time.Minute), Discard: jetstream.DiscardOld,
			MaxBytes: 1 << 30, Replicas: r})
		return err
	}); err != nil {
		return nil, fmt.Errorf("live: audio stream: %w", err)
	}
	if err := lease.Setup(ctx, func(ctx context.Context) error {
		_, err := js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{Name: eventsStream, Subjects: []string{"izwi.live.*.events"},
			Storage: jetstream.MemoryStorage, MaxMsgsPerSubject: 1, MaxAge: 24 * time.Hour, Discard: jetstream.DiscardOld, Replicas: r})
		return err
	}); err != nil {
		return nil, fmt.Errorf("live: events stream: %w", err)
	}
	var kv jetstream.KeyValue
	if err := lease.Setup(ctx, func(ctx context.Context) (err error) {
		kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: marksBucket, Storage: jetstream.MemoryStorage,
			TTL: 24 * time.Hour, History: 1, Replicas: r})
		return err
	}); err != nil {
		return nil, fmt.Errorf("live: marks bucket: %w", err)
	}
	return &clusterBus{js: js, marks: kv, log: log, pending: map[string]mark{}, wake: make(chan struct{}, 1)}, nil
}

// last is the Seq of the latest event published for session id and the
// end (session seconds) of its latest final caption then.
func (b *clusterBus) last(ctx context.Context, id string) (seq uint64, finalEnd float64, ok bool) {
	if b == nil {
		return 0, 0, false
	}
	st, err := b.js.Stream(ctx, eventsStream)
	if err != nil {
		return 0, 0, false
	}
	msg, err := st.GetLastMsgForSubject(ctx, SubjectsFor(id).Events)
	if err != nil {
		return 0, 0, false
	}
	var e Event
	if json.Unmarshal(msg.Data, &e) != nil || e.Seq == 0 {
		return 0, 0, false
	}
	end, _ := strconv.ParseFloat(msg.Header.Get(finalEndHeader), 64)
	return e.Seq, end, true
}

// mark is session id's latest mark.
func (b *clusterBus) mark(ctx context.Context, id string) (mark, bool) {
	if b == nil {
		return mark{}, false
	}
	e, err := b.marks.Get(ctx, id)
	if err != nil {
		return mark{}, false
	}
	var mk mark
	if json.Unmarshal(e.Value(), &mk) != nil || mk.Seq == 0 {
		return mark{}, false
	}
	return mk, true
}

// setMark queues session id's new mark for the writer (never blocks: the
// pipeline goroutine calls it).
func (b *clusterBus) setMark(id string, mk mark) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.pending[id] = mk
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default:
	}
}

// forget purges what the bus keeps of session id (it was deleted): its
// audio, its last event and its mark.
func (b *clusterBus) forget(ctx context.Context, id string) {
	if b == nil {
		return
	}
	b.mu.Lock()
	delete(b.pending, id)
	b.mu.Unlock()
	subj := SubjectsFor(id)
	for stream, s := range map[string]string{audioStream: subj.Audio, eventsStream: subj.Events} {
		st, err := b.js.Stream(ctx, stream)
		if err == nil {
			err = st.Purge(ctx, jetstream.WithPurgeSubject(s))
		}
		if err != nil {
			b.log.Warn("live: purging a deleted session from the bus", "session_id", id, "err", err)
		}
	}
	if err := b.marks.Purge(ctx, id); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		b.log.Warn("live: purging a deleted session's mark", "session_id", id, "err", err)
	}
}

// writeMarks writes queued marks until ctx ends.
func (b *clusterBus) writeMarks(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-b.wake:
		}
		b.flush(ctx)
	}
}

// flush writes the queued marks (a zero mark forgets the session's: a
// new pipeline starts without one).
func (b *clusterBus) flush(ctx context.Context) {
	if b == nil {
		return
	}
	b.mu.Lock()
	batch := b.pending
	b.pending = map[string]mark{}
	b.mu.Unlock()
	for id, mk := range batch {
		var err error
		if mk.Seq == 0 {
			err = b.marks.Purge(ctx, id)
		} else {
			data, _ := json.Marshal(mk)
			_, err = b.marks.Put(ctx, id, data)
		}
		if err != nil && ctx.Err() == nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
			b.log.Warn("live: saving a mark", "session_id", id, "err", err)
		}
	}
}

// consume delivers session id's audio messages from the stream, in order,
// starting at seq (0: from now on), to f on one goroutine until stopped.
func (b *clusterBus) consume(ctx context.Context, id string, seq uint64, f func(jetstream.Msg)) (jetstream.ConsumeContext, error) {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{SubjectsFor(id).Audio}, DeliverPolicy: jetstream.DeliverNewPolicy}
	if seq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, seq
	}
	c, err := b.js.OrderedConsumer(ctx, audioStream, cfg)
	if err != nil {
		return nil, fmt.Errorf("live: audio consumer: %w", err)
	}
	cc, err := c.Consume(f)
	if err != nil {
		return nil, fmt.Errorf("live: audio consumer: %w", err)
	}
	return cc, nil
}
