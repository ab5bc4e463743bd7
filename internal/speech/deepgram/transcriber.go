package deepgram

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/speech"
)

// maxFileResponse bounds a pre-recorded answer (hours of words fit).
const maxFileResponse = 64 << 20

// Transcriber sends whole recordings to Deepgram's pre-recorded API as WAV.
type Transcriber struct{ rec *Recognizer }

var _ speech.Transcriber = (*Transcriber)(nil)

// NewTranscriber checks cfg and the key like New.
func NewTranscriber(cfg Config, src secrets.Source) (*Transcriber, error) {
	r, err := New(cfg, src)
	if err != nil {
		return nil, err
	}
	return &Transcriber{rec: r}, nil
}

func (t *Transcriber) SampleRate() int { return t.rec.cfg.SampleRate }

func (t *Transcriber) Info() speech.EngineInfo {
	info := t.rec.Info()
	info.Role, info.Library = "transcribe", "deepgram pre-recorded API v1"
	return info
}

func (t *Transcriber) Close() error { return nil }

// Transcribe posts samples in one request (bounded by ctx) and returns
// Deepgram's utterances as segments. Progress is called once, at the end.
func (t *Transcriber) Transcribe(ctx context.Context, samples []float32, opts speech.TranscribeOptions) (speech.Transcript, error) {
	if err := ctx.Err(); err != nil {
		return speech.Transcript{}, fmt.Errorf("deepgram: transcribe: %w", err)
	}
	if err := speech.CheckSamples(samples); err != nil {
		return speech.Transcript{}, err
	}
	cfg := t.rec.cfg
	if opts.Language != "" {
		cfg.Language = opts.Language
	}
	if err := cfg.Validate(); err != nil {
		return speech.Transcript{}, fmt.Errorf("%w: %w", speech.ErrBadInput, err)
	}
	var body bytes.Buffer
	if err := audio.EncodeWAV(&body, samples, cfg.SampleRate, 1); err != nil {
		return speech.Transcript{}, fmt.Errorf("%w: %w", speech.ErrBadAudio, err)
	}
	h, err := t.rec.header("transcribe")
	if err != nil {
		return speech.Transcript{}, err
	}
	// A service that takes the file and never answers is a stall: allow
	// FlushTimeout plus half the audio's length (Deepgram answers far
	// faster), then report it as unavailable so a chain moves on.
	d := speech.SamplesToDuration(len(samples), cfg.SampleRate)
	rctx, cancel := context.WithTimeout(ctx, cfg.FlushTimeout+d/2)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, cfg.endpoint(false, opts.Hotwords), &body)
	if err != nil {
		return speech.Transcript{}, fmt.Errorf("deepgram: transcribe: %w", err)
	}
	req.Header = h
	req.Header.Set("Content-Type", "audio/wav")
	resp, err := cfg.HTTPClient.Do(req)
	if err != nil {
		return speech.Transcript{}, classify(ctx, "transcribe", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		// Izwi sends a WAV it made itself, so even a 400 is about settings
		// or the service, not the audio: it fails over.
		return speech.Transcript{}, statusError("transcribe", resp.StatusCode)
	}
	var fr fileResponse
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxFileResponse)).Decode(&fr); err != nil {
		if ctx.Err() != nil {
			return speech.Transcript{}, fmt.Errorf("deepgram: transcribe: %w", ctx.Err())
		}
		return speech.Transcript{}, &Error{Op: "transcribe", Reason: ReasonServerError, Err: fmt.Errorf("malformed answer: %w", err)}
	}
	finals := make([]speech.Result, 0, len(fr.Results.Utterances))
	for _, u := range fr.Results.Utterances {
		ws, ok := words(u.Words)
		if !ok || !okTime(u.Start) || !okTime(u.End) || u.End < u.Start {
			return speech.Transcript{}, &Error{Op: "transcribe", Reason: ReasonServerError, Err: fmt.Errorf("malformed utterance")}
		}
		finals = append(finals, speech.Result{Text: u.Transcript, Words: ws, Start: dur(u.Start), End: dur(u.End), Confidence: conf(u.Confidence)})
	}
	if opts.Progress != nil {
		opts.Progress(d)
	}
	tr := speech.NewTranscript(finals, d)
	tr.Language = cfg.Language
	return tr, nil
}
