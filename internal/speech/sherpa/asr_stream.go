package sherpa

import (
	"context"
	"fmt"

	sherpa "github.com/k2-fsa/sherpa-onnx-go/sherpa_onnx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// OnlineStream is one recognition stream of an OnlineRecognizer. It
// implements speech.Stream and is used by one goroutine at a time.
//
// Timeline: Izwi counts samples itself. sherpa-onnx reports token times
// relative to its own segment start, which it reports relative to the
// native stream's start; base is how many samples earlier native streams
// (ended by Flush) consumed, so times keep increasing across Flush.
type OnlineStream struct {
	r        *OnlineRecognizer
	hotwords string

	s        *sherpa.OnlineStream // nil once closed
	base     int64                // samples consumed by earlier native streams
	fed      int64                // samples pushed into s
	segment  int                  // number of the segment in progress
	lastText string               // last partial text returned for it
	decoded  bool                 // decoding ran since Results last looked
}

var _ speech.Stream = (*OnlineStream)(nil)

// open starts a fresh native stream, with the stream's hotwords if any.
func (s *OnlineStream) open() error {
	if s.hotwords != "" {
		ns, err := asrStreamWithHotwords(s.r.rec, s.hotwords)
		if err != nil {
			return err
		}
		s.s = ns
	} else {
		s.s = sherpa.NewOnlineStream(s.r.rec)
	}
	s.fed = 0
	s.lastText = ""
	return nil
}

// drop frees the native stream.
func (s *OnlineStream) drop() {
	if s.s != nil {
		sherpa.DeleteOnlineStream(s.s)
		s.s = nil
	}
}

// Accept pushes samples, decodes what is ready and returns new results.
func (s *OnlineStream) Accept(ctx context.Context, samples []float32) ([]speech.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sherpa asr: accept: %w", err)
	}
	if err := s.Push(samples); err != nil {
		return nil, err
	}
	if s.r.decodeOne(s.s) {
		s.decoded = true
	}
	return s.Results()
}

// Push hands samples to the native stream without decoding; a caller that
// batches calls OnlineRecognizer.DecodeReady and then Results.
func (s *OnlineStream) Push(samples []float32) error {
	if s.s == nil {
		return fmt.Errorf("sherpa asr: accept: %w", speech.ErrClosed)
	}
	if err := speech.CheckSamples(samples); err != nil {
		return fmt.Errorf("sherpa asr: %w", err)
	}
	if len(samples) == 0 {
		return nil
	}
	s.s.AcceptWaveform(asrSampleRate, samples)
	s.fed += int64(len(samples))
	return nil
}

// Results returns what decoding so far has produced and not yet been
// returned: a partial when the text changed, or a final when sherpa-onnx's
// endpoint rules closed the segment (after which the segment restarts).
func (s *OnlineStream) Results() ([]speech.Result, error) {
	if s.s == nil {
		return nil, fmt.Errorf("sherpa asr: results: %w", speech.ErrClosed)
	}
	if !s.decoded { // nothing new: skip the native result and its JSON
		return nil, nil
	}
	s.decoded = false
	res, err := s.current()
	if err != nil {
		return nil, err
	}
	if s.r.rec.IsEndpoint(s.s) {
		s.r.rec.Reset(s.s)
		return s.finish(res), nil
	}
	if res.Text == "" || res.Text == s.lastText {
		return nil, nil
	}
	s.lastText = res.Text
	return []speech.Result{res}, nil
}

// finish turns res into the segment's final result, if it has words, and
// moves on to the next segment.
func (s *OnlineStream) finish(res speech.Result) []speech.Result {
	s.lastText = ""
	if res.Text == "" {
		return nil
	}
	res.Final = true
	s.segment++
	return []speech.Result{res}
}

// current reads the native hypothesis for the segment in progress.
func (s *OnlineStream) current() (speech.Result, error) {
	raw := s.r.rec.GetResult(s.s)
	j, err := asrParseResultJSON(raw.Json)
	if err != nil {
		return speech.Result{}, err
	}
	if len(j.Tokens) == 0 { // older JSON layouts: fall back to the struct
		j.Tokens, j.Timestamps = raw.Tokens, raw.Timestamps
		if len(j.Timestamps) != len(j.Tokens) {
			j.Timestamps = nil
		}
	}
	limit := asrElapsed(s.base + s.fed)
	segStart := min(asrElapsed(s.base)+asrSeconds(j.StartTime), limit)
	r := speech.Result{Segment: s.segment, Text: asrText(raw.Text), Start: segStart, End: limit}
	if len(j.Timestamps) == 0 {
		// Paraformer gives no token times: the segment spans what was
		// heard, with no per-word times rather than invented ones.
		r.Confidence = asrConfidence(j.YsProbs)
		return r, nil
	}
	r.Words, r.Confidence = asrWords(j.Tokens, j.Timestamps, j.YsProbs, segStart, limit)
	r.End = segStart
	if len(r.Words) > 0 {
		r.Start, r.End = r.Words[0].Start, r.Words[len(r.Words)-1].End
	}
	return r, nil
}

// Flush ends the segment in progress: the native stream is padded with
// silence, finished and decoded to the end, its last hypothesis becomes a
// final result, and a fresh native stream continues the timeline.
func (s *OnlineStream) Flush(ctx context.Context) ([]speech.Result, error) {
	if s.s == nil {
		return nil, fmt.Errorf("sherpa asr: flush: %w", speech.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("sherpa asr: flush: %w", err)
	}
	if s.fed == 0 {
		return nil, nil
	}
	s.s.AcceptWaveform(asrSampleRate, make([]float32, int(asrTailPadding*asrSampleRate)))
	s.s.InputFinished()
	s.r.decodeOne(s.s)
	var out []speech.Result
	res, err := s.current()
	if err != nil {
		return nil, err
	}
	if s.r.rec.IsEndpoint(s.s) { // the padding may end the segment itself
		s.r.rec.Reset(s.s)
		out = s.finish(res)
		if res, err = s.current(); err != nil {
			return nil, err
		}
	}
	out = append(out, s.finish(res)...)
	s.base += s.fed
	s.drop()
	if err := s.open(); err != nil {
		return out, err
	}
	return out, nil
}

// Reset drops all audio and hypotheses and restarts segment numbers and
// times at zero.
func (s *OnlineStream) Reset(ctx context.Context) error {
	if s.s == nil {
		return fmt.Errorf("sherpa asr: reset: %w", speech.ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sherpa asr: reset: %w", err)
	}
	s.drop()
	s.base, s.segment = 0, 0
	return s.open()
}

// Close frees the native stream; later calls return speech.ErrClosed.
func (s *OnlineStream) Close() error {
	if s.s == nil {
		return nil
	}
	s.drop()
	s.r.release()
	return nil
}
