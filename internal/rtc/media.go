package rtc

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/codec/opus"
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
	if c := tr.Codec(); c.MimeType != webrtc.MimeTypeOpus {
		pr.log.Warn("rtc: audio track is not Opus", "mime", c.MimeType)
		return "the audio track must be Opus"
	}
	rate := pr.sink.SampleRate()
	var rs *audio.Resampler
	decRate := rate
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
	default:
		decRate = 48000
		var err error
		if rs, err = audio.NewResampler(decRate, rate); err != nil {
			return "internal error"
		}
	}
	dec, err := opus.NewDecoder(decRate, 1)
	if err != nil {
		pr.log.Warn("rtc: opus decoder", "err", err)
		return "internal error"
	}
	defer dec.Close()
	var last uint16
	started := false
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil {
			return "" // the connection closed
		}
		pr.packets.Add(1)
		pr.lastAudio.Store(time.Now().UnixNano())
		seq := pkt.SequenceNumber
		conceal := 0
		if started {
			d := int16(seq - last)
			if d <= 0 {
				continue // duplicate or late: its slot was concealed
			}
			conceal = min(int(d)-1, maxConceal)
			pr.lost.Add(int64(d) - 1)
		}
		started, last = true, seq
		for range conceal {
			if why := pr.write(ctx, dec, rs, nil); why != "" {
				return why
			}
		}
		if why := pr.write(ctx, dec, rs, pkt.Payload); why != "" {
			return why
		}
	}
}

// write decodes one packet (nil: conceal a lost one), charges it and
// hands it to the session.
func (pr *peer) write(ctx context.Context, dec *opus.Decoder, rs *audio.Resampler, payload []byte) string {
	pcm, err := dec.Decode(payload)
	if err != nil || len(pcm) == 0 {
		return "" // a corrupt packet: the stream goes on
	}
	d := time.Duration(int64(len(pcm)) * int64(time.Second) / int64(dec.SampleRate()))
	if pr.slot != nil {
		if err := pr.slot.ChargeAudio(ctx, d); err != nil {
			return whyQuota
		}
	}
	samples := pcm
	if rs != nil {
		samples = rs.Process(pcm)
	}
	if err := pr.sink.Write(samples); err != nil {
		if errors.Is(err, live.ErrTransition) || errors.Is(err, live.ErrNotFound) {
			return whyStopped
		}
		return "the session refused the audio"
	}
	pr.audio.Add(int64(d))
	return ""
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
