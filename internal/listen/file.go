package listen

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
)

// FileResponse is Deepgram's pre-recorded response.
type FileResponse struct {
	Metadata Metadata    `json:"metadata"`
	Results  FileResults `json:"results"`
}

// FileResults holds one channel (the downmixed audio) and, when
// utterances=true, the utterances.
type FileResults struct {
	Channels   []Channel   `json:"channels"`
	Utterances []Utterance `json:"utterances,omitempty"`
}

// Utterance is one segment of speech in a file.
type Utterance struct {
	Start      float64    `json:"start"`
	End        float64    `json:"end"`
	Confidence float64    `json:"confidence"`
	Channel    int        `json:"channel"`
	Transcript string     `json:"transcript"`
	Words      []WireWord `json:"words"`
	ID         string     `json:"id"`
}

type fileHandler struct{ opts Options }

// ServeHTTP answers a pre-recorded request. The order bounds its cost
// before it is paid: parameters, engine and quota are checked (and the
// session slot taken, NewFileHandler) before a byte of the body is read;
// the body then flows through a hash into the decoder, which stops at
// MaxFileBytes, so the encoded bytes are held once and never past the limit.
func (h *fileHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p, err := ParseParams(r.URL.Query(), false)
	if err != nil {
		writeRefusal(w, r, err)
		return
	}
	if h.opts.Transcriber == nil {
		writeError(w, r, apierr.CodeNotReady, "no transcription engine is loaded")
		return
	}
	if err := checkLanguage(&p, h.opts.Transcriber.Info()); err != nil {
		writeRefusal(w, r, err)
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/json" {
		// Deepgram's {"url": ...} form would have Izwi fetch an address
		// the client chose: a server-side request forgery risk on a box
		// inside a private network. Refused, whatever the body says.
		writeError(w, r, apierr.CodeBadRequest, "remote audio URLs are not fetched (server-side request forgery protection); POST the audio bytes as the request body")
		return
	}
	pr, hasPrincipal := auth.FromContext(r.Context())
	if hasPrincipal && h.opts.Charger != nil {
		if err := h.opts.Charger.CheckAudio(r.Context(), pr); err != nil {
			writeLimit(w, r, err)
			return
		}
	}
	sum := sha256.New()
	body := io.TeeReader(http.MaxBytesReader(w, r.Body, h.opts.MaxFileBytes), sum)
	lim, byQuota := audio.UploadLimits(h.opts.MaxFileBytes, h.opts.MaxFileAudio), false
	if al, _ := h.opts.Charger.(limit.AudioAllowance); hasPrincipal {
		lim, byQuota = limit.CapUpload(r.Context(), al, pr, lim)
	}
	clip, code, msg := h.decode(r, body, ct, lim)
	if code == apierr.CodePayloadTooLarge && byQuota {
		writeLimit(w, r, limit.AudioQuotaExceeded(time.Now()))
		return
	}
	if code != "" {
		writeError(w, r, code, msg)
		return
	}
	if p.Multichannel && clip.Channels > 1 {
		writeError(w, r, apierr.CodeUnsupportedOption, "multichannel "+msgMultichannel)
		return
	}
	samples, err := audio.Prepare(clip, h.opts.Transcriber.SampleRate())
	if err != nil {
		writeError(w, r, apierr.CodeUnsupportedMediaType, "the audio could not be converted for the engine")
		return
	}
	dur := clip.Duration()
	clip = audio.Clip{} // the decoded samples are no longer needed
	if hasPrincipal && h.opts.Charger != nil {
		if err := h.opts.Charger.ChargeAudio(r.Context(), pr, dur); err != nil {
			writeLimit(w, r, err)
			return
		}
	}
	tr, err := h.opts.Transcriber.Transcribe(r.Context(), samples, speech.TranscribeOptions{Language: p.Language, Hotwords: p.Hotwords, Prompt: p.Context()})
	if err != nil {
		if r.Context().Err() != nil {
			return // the client went away
		}
		h.opts.Logger.Warn("listen: transcription failed", "request_id", apierr.RequestID(r.Context()), "err", err)
		if badTerms(p, err) {
			writeError(w, r, apierr.CodeBadRequest, msgBadTerms)
			return
		}
		writeError(w, r, apierr.CodeInternal, "")
		return
	}
	apierr.JSON(w, http.StatusOK, h.response(r, p, tr, dur, hex.EncodeToString(sum.Sum(nil))))
}

// decode reads the body as raw audio when the query names an encoding,
// else as a WAV, FLAC, MP3, Ogg/WebM Opus or MP4/ADTS AAC file recognised
// by its first bytes. A claimed
// audio Content-Type that the bytes contradict is 415. A body over
// MaxFileBytes is 413.
func (h *fileHandler) decode(r *http.Request, body io.Reader, ct string, lim audio.Limits) (audio.Clip, apierr.Code, string) {
	q := r.URL.Query()
	if enc := strings.ToLower(q.Get("encoding")); enc != "" {
		f, err := parseFormat(q)
		if err != nil {
			code, msg := refusal(err)
			return audio.Clip{}, code, msg
		}
		b, err := io.ReadAll(body)
		if err != nil {
			code, msg := bodyError(err, h.opts.MaxFileBytes)
			return audio.Clip{}, code, msg
		}
		if fs := f.FrameSize(); len(b) > 0 && len(b)%fs != 0 {
			b = b[:len(b)-len(b)%fs] // a trailing partial frame is dropped, as a stream's would be
		}
		clip, err := audio.DecodeRaw(b, f)
		if err == nil && clip.Duration() > lim.MaxDuration {
			return audio.Clip{}, apierr.CodePayloadTooLarge, "the audio is longer than " + lim.MaxDuration.String()
		}
		return clip, errCode(err), errMsg(err)
	}
	br := bufio.NewReaderSize(body, 64)
	head, err := br.Peek(16)
	if err != nil && !errors.Is(err, io.EOF) {
		code, msg := bodyError(err, h.opts.MaxFileBytes)
		return audio.Clip{}, code, msg
	}
	kind := audio.Sniff(head)
	if kind == "" {
		return audio.Clip{}, apierr.CodeUnsupportedMediaType, "send WAV, FLAC, MP3, Ogg/Opus, WebM/Opus or M4A/AAC, or raw audio with encoding and sample_rate in the query"
	}
	if err := audio.CheckClaim(head, ct); err != nil {
		return audio.Clip{}, apierr.CodeUnsupportedMediaType, err.Error()
	}
	clip, err := audio.DecodeContext(r.Context(), br, lim)
	if mb := (*http.MaxBytesError)(nil); errors.As(err, &mb) {
		code, msg := bodyError(err, h.opts.MaxFileBytes)
		return audio.Clip{}, code, msg
	}
	return clip, errCode(err), errMsg(err)
}

// bodyError answers a body that could not be read: over the limit (413)
// or broken off.
func bodyError(err error, limit int64) (apierr.Code, string) {
	var mb *http.MaxBytesError
	if errors.As(err, &mb) {
		return apierr.CodePayloadTooLarge, fmt.Sprintf("the audio exceeds %d bytes", limit)
	}
	return apierr.CodeBadRequest, "the request body could not be read"
}

func errCode(err error) apierr.Code {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, audio.ErrTooLarge):
		return apierr.CodePayloadTooLarge
	case errors.Is(err, audio.ErrUnsupported):
		return apierr.CodeUnsupportedMediaType
	}
	return apierr.CodeBadRequest
}

func errMsg(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, audio.ErrTooLarge):
		return "the audio is too large or too long"
	case errors.Is(err, audio.ErrUnsupported):
		return "the audio format is not supported"
	case errors.Is(err, audio.ErrEmpty):
		return "the audio holds no samples"
	}
	return "the audio is malformed"
}

// writeLimit answers a quota refusal with Retry-After.
func writeLimit(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.FormatInt(int64((ae.RetryAfter+time.Second-1)/time.Second), 10))
		}
		writeError(w, r, ae.Code, ae.Message)
		return
	}
	if re, ok := err.(interface{ RetryAfterSeconds() int64 }); ok {
		w.Header().Set("Retry-After", strconv.FormatInt(re.RetryAfterSeconds(), 10))
		writeError(w, r, apierr.CodeQuotaExceeded, "audio quota exhausted; retry after the Retry-After seconds")
		return
	}
	writeError(w, r, apierr.CodeInternal, "")
}

func (h *fileHandler) response(r *http.Request, p Params, tr speech.Transcript, dur time.Duration, sha string) FileResponse {
	uuid, mi := modelOf(h.opts.Transcriber.Info())
	var all []WireWord
	var texts []string
	var confSum float64
	var utts []Utterance
	for i, seg := range tr.Segments {
		res := resultsFrom(seg, ResultMetadata{}, p)
		alt := res.Channel.Alternatives[0]
		all = append(all, alt.Words...)
		if t := strings.TrimSpace(alt.Transcript); t != "" {
			texts = append(texts, t)
		}
		for _, w := range alt.Words {
			confSum += w.Confidence
		}
		if p.Utterances && len(alt.Words) > 0 {
			utts = append(utts, Utterance{Start: res.Start, End: round(res.Start + res.Duration), Confidence: alt.Confidence,
				Channel: 0, Transcript: alt.Transcript, Words: alt.Words, ID: fmt.Sprintf("%s-%d", uuid[:8], i)})
		}
	}
	conf := 0.0
	if len(all) > 0 {
		conf = round(confSum / float64(len(all)))
	}
	if all == nil {
		all = []WireWord{}
	}
	md := Metadata{TransactionKey: "deprecated", RequestID: requestID(r), SHA256: sha,
		Created: h.opts.Now().UTC().Format(time.RFC3339Nano), Duration: secs(dur), Channels: 1,
		Models: []string{uuid}, ModelInfo: map[string]ModelInfo{uuid: mi}}
	md.Warnings, md.Extra = warnings(p, mi.Name), p.Extra
	out := FileResponse{Metadata: md, Results: FileResults{
		Channels: []Channel{{Alternatives: []Alternative{{Transcript: strings.Join(texts, " "), Confidence: conf, Words: all}}}},
	}}
	if p.Utterances {
		out.Results.Utterances = utts
		if out.Results.Utterances == nil {
			out.Results.Utterances = []Utterance{}
		}
	}
	return out
}
