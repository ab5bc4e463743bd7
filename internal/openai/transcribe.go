package openai

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/transcript"
)

// formSlack is what the non-file parts of a form may add to the body.
const formSlack = 1 << 20

// transcribe serves POST /v1/audio/transcriptions.
func (h *Handlers) transcribe(w http.ResponseWriter, r *http.Request) {
	h.serveAudio(w, r, "transcribe")
}

// translate serves POST /v1/audio/translations: speech to English text.
// Izwi does not translate speech, so it answers only with an engine whose
// words are English anyway (checkTranslation).
func (h *Handlers) translate(w http.ResponseWriter, r *http.Request) { h.serveAudio(w, r, "translate") }

// serveAudio answers an uploaded file with its text; task is OpenAI's
// ("transcribe" or "translate").
func (h *Handlers) serveAudio(w http.ResponseWriter, r *http.Request, task string) {
	if h.o.Transcriber == nil && h.o.Recognizer == nil {
		apierr.Write(w, r, apierr.CodeNotReady, "no transcription engine is loaded")
		return
	}
	p, hasPrincipal := principal(r)
	if hasPrincipal && h.o.Quota != nil {
		// Refuse before reading a 25 MB upload that could not be processed.
		if err := h.o.Quota.CheckAudio(r.Context(), p); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		apierr.Write(w, r, apierr.CodeUnsupportedMediaType, "send the audio as multipart/form-data with a \"file\" part")
		return
	}
	rc := http.NewResponseController(w)
	// Uploads and engines may need longer than the server's 60 s timeouts;
	// this route is authenticated and rate limited, so the caller is known.
	_ = rc.SetReadDeadline(time.Now().Add(h.o.WorkTimeout))
	_ = rc.SetWriteDeadline(time.Now().Add(h.o.WorkTimeout))
	r.Body = http.MaxBytesReader(w, r.Body, h.o.MaxUploadBytes+formSlack)
	req, err := parseTranscriptionForm(r.Body, params["boundary"], h.o.MaxUploadBytes)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	req.Task = task
	if task == "translate" && req.Stream {
		h.fail(w, r, bad("stream is not supported on translations"))
		return
	}
	if err := h.checkDiarization(req); err != nil {
		h.fail(w, r, err)
		return
	}
	tr, rec, err := h.pickTranscriber(req.Model, req.Stream)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	info := tr.Info()
	if rec != nil {
		info = rec.Info()
	}
	if task == "translate" {
		err = checkTranslation(info)
		req.Language = "en"
	} else {
		req.Language, err = checkLanguage(req.Language, info)
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if err := checkClaim(req.File, req.FileType); err != nil {
		h.fail(w, r, err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.o.WorkTimeout)
	defer cancel()
	lim, byQuota := audio.UploadLimits(h.o.MaxUploadBytes, h.o.MaxDuration), false
	if al, _ := h.o.Quota.(limit.AudioAllowance); hasPrincipal {
		lim, byQuota = limit.CapUpload(ctx, al, p, lim)
	}
	clip, err := audio.DecodeContext(ctx, bytes.NewReader(req.File), lim)
	req.File = nil // the encoded bytes are no longer needed
	if err != nil {
		if byQuota && errors.Is(err, audio.ErrTooLarge) {
			h.fail(w, r, limit.AudioQuotaExceeded(time.Now()))
			return
		}
		h.fail(w, r, decodeError(err))
		return
	}
	rate := 0
	if rec != nil {
		rate = rec.SampleRate()
	} else {
		rate = tr.SampleRate()
	}
	samples, err := audio.Prepare(clip, rate)
	if err != nil {
		h.fail(w, r, decodeError(err))
		return
	}
	dur := clip.Duration()
	if hasPrincipal && h.o.Quota != nil {
		// Charged before the work, atomically: audio over the day's
		// allowance is never processed.
		if err := h.o.Quota.ChargeAudio(r.Context(), p, dur); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if req.Stream {
		h.streamTranscript(ctx, w, r, rec, tr, samples, dur, req)
		return
	}
	t, err := tr.Transcribe(ctx, samples, speech.TranscribeOptions{Language: req.Language, Prompt: req.Prompt})
	if err != nil {
		h.fail(w, r, fmt.Errorf("openai: transcribe: %w", err))
		return
	}
	if t.Duration == 0 {
		t.Duration = dur
	}
	if req.Format == "diarized_json" {
		segs, err := h.diarize(ctx, clip, t, req.SpeakerNames)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		writeDiarized(w, t, segs)
		return
	}
	writeTranscript(w, r, req, t)
}

// pickTranscriber resolves the model a client named. OpenAI's names
// (whisper-1, gpt-4o-transcribe, ...) pick the loaded engine, as do its
// /v1/models ID, engine name and model name. A stream uses the Recognizer
// when one is loaded (rec != nil), else the Transcriber.
func (h *Handlers) pickTranscriber(model string, stream bool) (speech.Transcriber, speech.Recognizer, error) {
	tr, rec := h.o.Transcriber, h.o.Recognizer
	have := TranscribeModels(tr, rec)
	if model != "" && !slices.Contains(have, model) {
		return nil, nil, bad("model %q is not available; use one of %s", clip(model), strings.Join(have, ", "))
	}
	if stream && rec != nil {
		return tr, rec, nil
	}
	if tr == nil {
		// Only a streaming recogniser is loaded: it answers files too.
		tr = speech.StreamTranscriber(rec)
	}
	return tr, nil, nil
}

// TranscribeModels are the transcription model names a request may
// give: OpenAI's aliases and the loaded engines' /v1/models IDs (the
// Realtime API checks its sessions' transcription model against them).
func TranscribeModels(tr speech.Transcriber, rec speech.Recognizer) []string {
	have := slices.Clone(TranscribeAliases)
	if tr != nil {
		have = append(have, modelID(tr.Info()))
	}
	if rec != nil {
		have = append(have, modelID(rec.Info()))
	}
	return have
}

// usage is the duration usage OpenAI reports for whisper-style models.
type usage struct {
	Type    string  `json:"type"`
	Seconds float64 `json:"seconds"`
}

func usageOf(d time.Duration) usage { return usage{Type: "duration", Seconds: math.Ceil(d.Seconds())} }

type simpleTranscription struct {
	Text  string `json:"text"`
	Usage usage  `json:"usage"`
}

type verboseTranscription struct {
	Task     string           `json:"task"`
	Language string           `json:"language"`
	Duration float64          `json:"duration"`
	Text     string           `json:"text"`
	Segments []verboseSegment `json:"segments,omitempty"`
	Words    []verboseWord    `json:"words,omitempty"`
	Usage    usage            `json:"usage"`
}

type verboseSegment struct {
	ID               int     `json:"id"`
	Seek             int     `json:"seek"`
	Start            float64 `json:"start"`
	End              float64 `json:"end"`
	Text             string  `json:"text"`
	Tokens           []int   `json:"tokens"`
	Temperature      float64 `json:"temperature"`
	AvgLogprob       float64 `json:"avg_logprob"`
	CompressionRatio float64 `json:"compression_ratio"`
	NoSpeechProb     float64 `json:"no_speech_prob"`
}

type verboseWord struct {
	Word  string  `json:"word"`
	Start float64 `json:"start"`
	End   float64 `json:"end"`
}

// verbose builds verbose_json from t. Izwi's engines give a confidence,
// not token log-probabilities: avg_logprob is its logarithm, tokens are
// empty and no_speech_prob is 0 (every segment is recognised speech).
func verbose(req transcriptionRequest, t speech.Transcript) verboseTranscription {
	doc := transcript.ToDoc(t)
	lang := t.Language
	if lang == "" {
		lang = req.Language
	}
	if req.Task == "translate" {
		lang = "english" // as OpenAI names the target
	}
	v := verboseTranscription{Task: req.Task, Language: lang, Duration: doc.Duration, Text: doc.Text, Usage: usageOf(t.Duration)}
	for _, s := range doc.Segments {
		if req.Segments {
			lp := 0.0
			if s.Confidence > 0 {
				lp = math.Log(float64(s.Confidence))
			}
			v.Segments = append(v.Segments, verboseSegment{ID: s.ID, Seek: int(s.Start * 100), Start: s.Start, End: s.End,
				Text: s.Text, Tokens: []int{}, Temperature: req.Temperature, AvgLogprob: lp})
		}
		if req.Words {
			for _, wd := range s.Words {
				v.Words = append(v.Words, verboseWord{Word: wd.Word, Start: wd.Start, End: wd.End})
			}
		}
	}
	if req.Segments && v.Segments == nil {
		v.Segments = []verboseSegment{}
	}
	if req.Words && v.Words == nil {
		v.Words = []verboseWord{}
	}
	return v
}

// writeTranscript answers in the requested format.
func writeTranscript(w http.ResponseWriter, r *http.Request, req transcriptionRequest, t speech.Transcript) {
	switch req.Format {
	case "json":
		apierr.JSON(w, http.StatusOK, simpleTranscription{Text: transcript.Text(t), Usage: usageOf(t.Duration)})
	case "verbose_json":
		apierr.JSON(w, http.StatusOK, verbose(req, t))
	default:
		f, ctype := transcript.TXT, "text/plain; charset=utf-8"
		switch req.Format {
		case "srt":
			f, ctype = transcript.SRT, "application/x-subrip; charset=utf-8"
		case "vtt":
			f, ctype = transcript.VTT, "text/vtt; charset=utf-8"
		}
		var buf bytes.Buffer
		if err := transcript.Write(&buf, f, t); err != nil {
			apierr.Write(w, r, apierr.CodeInternal, "")
			return
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(buf.Bytes())
	}
}
