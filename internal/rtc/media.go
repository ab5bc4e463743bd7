package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/live"
)

// Why a pump ended the peer.
const (
	whyStopped = "stopped"
	whyQuota   = "quota"
)

// maxConceal is the most lost packets in a row that are concealed; a
// longer gap is silence the recognizer need not hear.
const maxConceal = 5

// maxBuffered bounds what the captions channel may hold unsent; beyond it
// partial captions are skipped (finals always go).
const maxBuffered = 1 << 20

// pump decodes the Opus track into the session until the track ends.
// It returns why the peer must end ("" when the track just ended).
func (pr *peer) pump(ctx context.Context, tr *webrtc.TrackRemote) string {
	rate := pr.sink.SampleRate()
	err := decodeTrack(ctx, tr, rate, &pr.stats, func(pcm []float32) error {
		return pr.write(ctx, pcm, rate)
	})
	var w whyErr
	switch {
	case err == nil:
		return ""
	case errors.As(err, &w):
		return string(w)
	case errors.Is(err, errNotOpus):
		pr.log.Warn("rtc: audio track is not Opus", "mime", tr.Codec().MimeType)
		return err.Error()
	}
	pr.log.Warn("rtc: opus decoder", "err", err)
	return "internal error"
}

// whyErr is why a peer must end, as an error.
type whyErr string

func (w whyErr) Error() string { return string(w) }

// write charges one packet's samples and hands them to the session.
func (pr *peer) write(ctx context.Context, samples []float32, rate int) error {
	d := time.Duration(int64(len(samples)) * int64(time.Second) / int64(rate))
	if pr.slot != nil {
		if err := pr.slot.ChargeAudio(ctx, d); err != nil {
			return whyErr(whyQuota)
		}
	}
	if err := pr.sink.Write(samples); err != nil {
		if errors.Is(err, live.ErrTransition) || errors.Is(err, live.ErrNotFound) {
			return whyErr(whyStopped)
		}
		return whyErr("the session refused the audio")
	}
	pr.audio.Add(int64(d))
	return nil
}

// captions sends the session's caption feed over the data channel, one
// JSON event (as the captions WebSocket sends them) per message.
func (pr *peer) captions(ctx context.Context, dc *webrtc.DataChannel) {
	feed, err := pr.h.opts.Sessions.Watch(ctx, pr.id, 0)
	if err != nil {
		return
	}
	defer feed.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-feed.Events():
			if !ok {
				return
			}
			if ev.Type == live.TypeCaption && !ev.Final && dc.BufferedAmount() > maxBuffered {
				continue
			}
			b, err := json.Marshal(ev)
			if err != nil {
				continue
			}
			if dc.SendText(string(b)) != nil {
				return
			}
		}
	}
}
