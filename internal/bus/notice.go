package bus

import (
	"context"

	"github.com/nats-io/nats.go"
)

// Notices are small hints one process gives the others sharing its database
// that something they cache changed: "re-read this". Core NATS delivers them
// at most once and only to processes connected at the time, so every
// receiver also re-reads on a timer (the fallback); a notice only makes the
// change show within milliseconds instead of a period. A forged notice can
// only cause a re-read, never grant anything.
const (
	// NoticeKeyRevoked carries auth.RevocationNotice.
	NoticeKeyRevoked = "izwi.notice.key.revoked"
	// NoticeCaptionSettings carries a live session id.
	NoticeCaptionSettings = "izwi.notice.captions.settings"
)

// maxNotice bounds a notice's payload: anything longer is not one of ours.
const maxNotice = 256

// Notify publishes a notice. It never blocks on the network (NATS buffers
// while reconnecting); a failure is logged, since the receivers' timers
// catch up anyway.
func (b *Bus) Notify(subject string, payload []byte) {
	if len(payload) > maxNotice {
		b.log.Warn("notice too long; not sent", "subject", subject, "bytes", len(payload))
		return
	}
	if err := b.conn.Publish(subject, payload); err != nil {
		b.log.Warn("notice not sent", "subject", subject, "err", err)
	}
}

// OnNotice calls fn with every notice published on subject (by any
// process, this one included) until ctx is done. fn runs on the
// subscription's goroutine, one notice at a time; it must not block long.
func (b *Bus) OnNotice(ctx context.Context, subject string, fn func(payload []byte)) error {
	sub, err := b.conn.Subscribe(subject, func(m *nats.Msg) {
		if len(m.Data) <= maxNotice {
			fn(m.Data)
		}
	})
	if err != nil {
		return err
	}
	context.AfterFunc(ctx, func() { _ = sub.Unsubscribe() })
	return nil
}
