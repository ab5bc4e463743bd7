package rtc

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/codec/opus"
)

// errNotOpus ends a peer whose audio track is not Opus.
var errNotOpus = errors.New("the audio track must be Opus")

// opusRate reports whether libopus decodes to rate directly.
func opusRate(rate int) bool {
	switch rate {
	case 8000, 12000, 16000, 24000, 48000:
		return true
	}
	return false
}

// decodeTrack reads the Opus track until it ends and hands each packet's
// samples, at rate, to write; lost packets (≤ maxConceal in a row) are
// concealed, late and duplicate ones skipped. It returns write's error
// (nil when the track just ended). One goroutine calls it per track.
func decodeTrack(ctx context.Context, tr *webrtc.TrackRemote, rate int, stats *trackStats, write func([]float32) error) error {
	if c := tr.Codec(); c.MimeType != webrtc.MimeTypeOpus {
		return errNotOpus
	}
	var rs *audio.Resampler
	decRate := rate
	if !opusRate(rate) {
		decRate = 48000
		var err error
		if rs, err = audio.NewResampler(decRate, rate); err != nil {
			return err
		}
	}
	dec, err := opus.NewDecoder(decRate, 1)
	if err != nil {
		return err
	}
	defer dec.Close()
	one := func(payload []byte) error {
		pcm, err := dec.Decode(payload)
		if err != nil || len(pcm) == 0 {
			return nil // a corrupt packet: the stream goes on
		}
		if rs != nil {
			pcm = rs.Process(pcm)
		}
		return write(pcm)
	}
	var last uint16
	started := false
	for {
		pkt, _, err := tr.ReadRTP()
		if err != nil || ctx.Err() != nil {
			return nil // the connection closed
		}
		stats.packets.Add(1)
		stats.lastAudio.Store(time.Now().UnixNano())
		seq := pkt.SequenceNumber
		conceal := 0
		if started {
			d := int16(seq - last)
			if d <= 0 {
				continue // duplicate or late: its slot was concealed
			}
			conceal = min(int(d)-1, maxConceal)
			stats.lost.Add(int64(d) - 1)
		}
		started, last = true, seq
		for range conceal {
			if err := one(nil); err != nil {
				return err
			}
		}
		if err := one(pkt.Payload); err != nil {
			return err
		}
	}
}

// trackStats counts a track's packets, for the peer's closing log line
// and its idle check.
type trackStats struct {
	packets, lost atomic.Int64
	lastAudio     atomic.Int64 // unix nanoseconds of the last packet
}
