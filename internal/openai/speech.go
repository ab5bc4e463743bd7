package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/strictjson"
)

// PCMRate is the rate of response_format=pcm: OpenAI's raw PCM is 24 kHz,
// 16-bit little-endian, mono, and clients play it assuming so.
const PCMRate = 24000

// maxSpeechBody bounds the JSON of a speech request (4096 characters of
// input, escaped, plus the other fields).
const maxSpeechBody = 64 << 10

// speechRequest is the JSON body of POST /v1/audio/speech.
type speechRequest struct {
	Model          string          `json:"model"`
	Input          string          `json:"input"`
	Voice          json.RawMessage `json:"voice"`
	ResponseFormat string          `json:"response_format"`
	Speed          *float64        `json:"speed"`
	Instructions   string          `json:"instructions"`
	StreamFormat   string          `json:"stream_format"`
}

// parsedSpeech is a validated speech request.
type parsedSpeech struct {
	Text, Voice, Format string
	Speed               float32
}

// parseSpeechRequest validates body against the loaded synthesizer's
// voices. The default format is mp3, as OpenAI's.
func parseSpeechRequest(body []byte, info speech.EngineInfo, voices []speech.Voice) (parsedSpeech, error) {
	var req speechRequest
	// Strict as every JSON body (one object, no duplicate members, valid
	// UTF-8), but fields OpenAI may add later are ignored, not refused.
	if err := strictjson.CheckObject(body); err != nil {
		return parsedSpeech{}, bad("the body is not a JSON speech request: %s", clip(err.Error()))
	}
	if err := json.Unmarshal(body, &req); err != nil {
		return parsedSpeech{}, bad("the body is not a JSON speech request: %s", clip(err.Error()))
	}
	var out parsedSpeech
	if !isSpeechAlias(req.Model) && !names(req.Model, info) {
		return out, bad("model %q is not available; use one of %s", clip(req.Model), strings.Join(append(slices.Clone(SpeechAliases), modelID(info)), ", "))
	}
	if strings.TrimSpace(req.Input) == "" {
		return out, bad("input is empty")
	}
	if n := utf8.RuneCountInString(req.Input); n > MaxSpeechInput {
		return out, bad("input is %d characters; the limit is %d", n, MaxSpeechInput)
	}
	out.Text = req.Input
	var asked string
	if len(req.Voice) > 0 && string(req.Voice) != "null" {
		var obj struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(req.Voice, &asked) != nil {
			if json.Unmarshal(req.Voice, &obj) != nil || obj.ID == "" {
				return out, bad("voice must be a voice name or {\"id\": name}")
			}
			asked = obj.ID
		}
	}
	id, ok := ResolveVoice(asked, voices)
	if !ok {
		return out, bad("voice %q is not available; use one of %s", clip(asked), voiceNames(voices))
	}
	out.Voice = id
	out.Format = strings.ToLower(req.ResponseFormat)
	if out.Format == "" {
		out.Format = "mp3"
	}
	if _, ok := audio.LookupStreamFormat(out.Format); !ok {
		return out, bad("response_format %q is not supported; use mp3, opus, aac, flac, wav or pcm (24 kHz 16-bit mono)", clip(out.Format))
	}
	if req.StreamFormat != "" && req.StreamFormat != "audio" {
		return out, bad("stream_format %q is not supported; audio is always streamed as it is made", clip(req.StreamFormat))
	}
	out.Speed = 1
	if req.Speed != nil {
		if s := *req.Speed; !(s >= 0.25 && s <= 4) {
			return out, bad("speed must be from 0.25 to 4.0")
		}
		out.Speed = float32(*req.Speed)
	}
	return out, nil
}

// Estimator bounds, without synthesizing, the audio a request would make
// (the Flite synthesizer implements it).
//
// Contract: the estimate is an upper bound of the audio Synthesize makes
// for the same request, computed in a small fraction of its time and
// memory; bad requests are speech.ErrBadInput as in Synthesize.
type Estimator interface {
	Estimate(ctx context.Context, req speech.SynthesisRequest) (time.Duration, error)
}

// checkSpeechBudget refuses, before any byte of the answer, a request whose
// audio would run past the budget. A synthesizer that cannot estimate is
// held by its own hard stop (a mid-stream abort, never a short 200).
func (h *Handlers) checkSpeechBudget(ctx context.Context, syn speech.Synthesizer, req speech.SynthesisRequest) error {
	est, ok := syn.(Estimator)
	if !ok {
		return nil
	}
	d, err := est.Estimate(ctx, req)
	if err != nil {
		return err
	}
	if d > h.o.MaxSpeechAudio {
		return &reqError{apierr.CodeOutputTooLarge, fmt.Sprintf(
			"the input would make up to %s of audio; the limit is %s (shorten the input or raise the speed)",
			d.Round(time.Second), h.o.MaxSpeechAudio)}
	}
	return nil
}

// speak serves POST /v1/audio/speech: the audio is encoded and flushed
// chunk by chunk as the synthesizer makes it, so the first bytes leave
// once the first chunk exists. A failure before any audio is a JSON error;
// after, the response is aborted so the client sees a broken stream rather
// than a short file that looks whole.
func (h *Handlers) speak(w http.ResponseWriter, r *http.Request) {
	syn := h.o.Synthesizer
	if syn == nil {
		apierr.Write(w, r, apierr.CodeNotReady, "no speech synthesis engine is loaded")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		apierr.Write(w, r, apierr.CodeUnsupportedMediaType, "send the request as application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSpeechBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apierr.Write(w, r, apierr.CodePayloadTooLarge, fmt.Sprintf("the request body is larger than %d bytes", maxSpeechBody))
			return
		}
		apierr.Write(w, r, apierr.CodeBadRequest, "the request body could not be read")
		return
	}
	req, err := parseSpeechRequest(body, syn.Info(), syn.Voices())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	sreq := speech.SynthesisRequest{Text: req.Text, Voice: req.Voice, Speed: req.Speed}
	if err := h.checkSpeechBudget(r.Context(), syn, sreq); err != nil {
		h.fail(w, r, err)
		return
	}
	format, _ := audio.LookupStreamFormat(req.Format)
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(h.o.WorkTimeout))
	ctx, cancel := context.WithTimeout(r.Context(), h.o.WorkTimeout)
	defer cancel()

	outRate := 0
	if req.Format == "pcm" {
		outRate = PCMRate
	}
	enc, err := audio.NewStreamEncoder(ctx, audio.HTTPSink(w), req.Format, syn.SampleRate(), outRate)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	started := false
	sink := func(samples []float32) error {
		if !started {
			started = true
			w.Header().Set("Content-Type", format.ContentType)
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.WriteHeader(http.StatusOK)
		}
		return enc.Write(samples)
	}
	err = syn.Synthesize(ctx, sreq, sink)
	if err == nil && !started {
		err = fmt.Errorf("openai: speech: %w: the text has nothing speakable", speech.ErrBadInput)
	}
	if err == nil {
		err = enc.Close()
	} else {
		enc.Abort()
	}
	if err == nil {
		return
	}
	if !started {
		h.fail(w, r, err)
		return
	}
	if r.Context().Err() == nil {
		h.log.Error("openai speech stream failed", "request_id", apierr.RequestID(r.Context()), "err", err)
	}
	panic(http.ErrAbortHandler)
}
