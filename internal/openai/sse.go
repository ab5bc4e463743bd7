package openai

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/speech"
)

// streamChunk is how much audio (in samples) goes to the recogniser between
// checks for finished segments: 0.25 s at 16 kHz. Deltas leave as soon as
// the segment that holds them is final.
const streamChunk = 4000

// deltaEvent and doneEvent are OpenAI's transcript.text.delta and
// transcript.text.done Server-Sent Events.
type deltaEvent struct {
	Type  string `json:"type"`
	Delta string `json:"delta"`
}

type doneEvent struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Usage usage  `json:"usage"`
}

type errorEvent struct {
	Type  string        `json:"type"`
	Error apierr.Detail `json:"error"`
}

// sseWriter writes events and flushes each one.
type sseWriter struct {
	w  http.ResponseWriter
	rc *http.ResponseController
}

func (s sseWriter) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("openai: sse: %w", err)
	}
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", b); err != nil {
		return fmt.Errorf("openai: sse: %w", err)
	}
	if err := s.rc.Flush(); err != nil {
		return fmt.Errorf("openai: sse: %w", err)
	}
	return nil
}

// streamTranscript answers stream=true. With a Recognizer (the
// Transcriber's own when it is a speech.StreamSource, so the words are
// those of stream=false; else the asr role's) the decoded file is pushed
// through a recognition stream in 0.25 s chunks and each final segment's
// text leaves as a transcript.text.delta the moment the engine closes it;
// without one, the Transcriber's segments are sent in turn.
// transcript.text.done carries the concatenation of every delta, so a
// client that joins the deltas holds exactly the final text. A failure
// after the first event is an "error" event, which OpenAI's SDKs raise.
func (h *Handlers) streamTranscript(ctx context.Context, w http.ResponseWriter, r *http.Request,
	rec speech.Recognizer, tr speech.Transcriber, samples []float32, dur time.Duration, req transcriptionRequest) {
	if src, ok := tr.(speech.StreamSource); ok {
		rec = src.Streaming()
	}
	var st speech.Stream
	if rec != nil {
		var err error
		if st, err = rec.NewStream(ctx, speech.StreamOptions{}); err != nil {
			h.fail(w, r, fmt.Errorf("openai: stream: %w", err))
			return
		}
		defer st.Close()
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no") // reverse proxies: do not buffer
	w.WriteHeader(http.StatusOK)
	out := sseWriter{w: w, rc: http.NewResponseController(w)}
	var text []string
	emit := func(rs []speech.Result) error {
		for _, res := range rs {
			t := strings.Join(strings.Fields(res.Text), " ")
			if !res.Final || t == "" {
				continue
			}
			d := t
			if len(text) > 0 {
				d = " " + t
			}
			text = append(text, t)
			if err := out.send(deltaEvent{Type: "transcript.text.delta", Delta: d}); err != nil {
				return err
			}
		}
		return nil
	}
	err := func() error {
		if st == nil {
			t, err := tr.Transcribe(ctx, samples, speech.TranscribeOptions{Language: req.Language, Prompt: req.Prompt})
			if err != nil {
				return err
			}
			for i := range t.Segments {
				t.Segments[i].Final = true
			}
			return emit(t.Segments)
		}
		for off := 0; off < len(samples); off += streamChunk {
			if err := ctx.Err(); err != nil {
				return err
			}
			rs, err := st.Accept(ctx, samples[off:min(off+streamChunk, len(samples))])
			if err != nil {
				return err
			}
			if err := emit(rs); err != nil {
				return err
			}
		}
		rs, err := st.Flush(ctx)
		if err != nil {
			return err
		}
		return emit(rs)
	}()
	if err == nil {
		err = out.send(doneEvent{Type: "transcript.text.done", Text: strings.Join(text, " "), Usage: usageOf(dur)})
	}
	if err != nil && r.Context().Err() == nil {
		h.log.Error("openai transcription stream failed", "request_id", apierr.RequestID(r.Context()), "err", err)
		_ = out.send(errorEvent{Type: "error", Error: apierr.Detail{Code: apierr.CodeInternal,
			Message: apierr.Lookup(apierr.CodeInternal).Message, RequestID: apierr.RequestID(r.Context())}})
	}
}
