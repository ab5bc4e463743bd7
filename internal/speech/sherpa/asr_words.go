package sherpa

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// asrTokenSpan is how long sherpa-onnx's transducers and CTC models hold one
// output frame (10 ms features, subsampled 4×). A token's timestamp is where
// it was emitted, so a word lasts at least this long.
const asrTokenSpan = 40 * time.Millisecond

// asrJSONResult is the part of sherpa-onnx's per-stream result JSON Izwi
// uses. ys_probs are the log-probabilities of each emitted token (greedy
// and beam search both fill them for transducers); they are the only
// honest confidence sherpa-onnx exposes.
type asrJSONResult struct {
	Text       string    `json:"text"`
	Tokens     []string  `json:"tokens"`
	Timestamps []float32 `json:"timestamps"`
	YsProbs    []float32 `json:"ys_probs"`
	StartTime  float32   `json:"start_time"`
}

// asrParseResultJSON decodes an online result's JSON. An empty string is an
// empty result; malformed JSON or mismatched arrays are errors.
func asrParseResultJSON(s string) (asrJSONResult, error) {
	var r asrJSONResult
	if strings.TrimSpace(s) == "" {
		return r, nil
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return asrJSONResult{}, fmt.Errorf("sherpa asr: result json: %w", err)
	}
	if len(r.Timestamps) != 0 && len(r.Timestamps) != len(r.Tokens) {
		return asrJSONResult{}, fmt.Errorf("sherpa asr: result json: %d timestamps for %d tokens", len(r.Timestamps), len(r.Tokens))
	}
	if len(r.YsProbs) != 0 && len(r.YsProbs) != len(r.Tokens) {
		r.YsProbs = nil // cannot be matched to tokens: treat confidence as unknown
	}
	if !finite32(r.StartTime) || r.StartTime < 0 {
		r.StartTime = 0
	}
	return r, nil
}

func finite32(f float32) bool {
	return !math.IsNaN(float64(f)) && !math.IsInf(float64(f), 0)
}

// asrWordStart reports whether a token begins a new word: sentencepiece
// marks it with "▁", byte-level BPE (whisper) with a leading space.
func asrWordStart(tok string) bool {
	return strings.HasPrefix(tok, "▁") || strings.HasPrefix(tok, " ")
}

// asrConfidence maps mean token log-probability to [0, 1]; nil means the
// engine gave none, reported as 0 (unknown), never a made-up 1.
func asrConfidence(logp []float32) float32 {
	if len(logp) == 0 {
		return 0
	}
	var sum float64
	for _, p := range logp {
		if !finite32(p) {
			return 0
		}
		sum += float64(min(p, 0))
	}
	c := float32(math.Exp(sum / float64(len(logp))))
	return max(0, min(1, c))
}

// asrWords merges BPE tokens into words with absolute times. ts are token
// times in seconds relative to base; logp may be nil; limit caps every time
// (the audio actually received). It returns the words and the confidence of
// the whole hypothesis.
func asrWords(tokens []string, ts, logp []float32, base, limit time.Duration) ([]speech.Word, float32) {
	if len(ts) != len(tokens) {
		ts = nil
	}
	if len(logp) != len(tokens) {
		logp = nil
	}
	clamp := func(d time.Duration) time.Duration { return max(0, min(d, limit)) }
	at := func(i int) time.Duration {
		if ts == nil || !finite32(ts[i]) || ts[i] < 0 {
			return clamp(base)
		}
		return clamp(base + asrSeconds(ts[i]))
	}
	type span struct{ first, last int }
	var spans []span
	for i, tok := range tokens {
		if strings.TrimSpace(strings.ReplaceAll(tok, "▁", "")) == "" && !asrWordStart(tok) {
			continue // e.g. a lone "▁" glued to nothing; skipped below too
		}
		if len(spans) == 0 || asrWordStart(tok) {
			spans = append(spans, span{i, i})
		} else {
			spans[len(spans)-1].last = i
		}
	}
	var words []speech.Word
	prev := time.Duration(0)
	for k, sp := range spans {
		var b strings.Builder
		for i := sp.first; i <= sp.last; i++ {
			b.WriteString(tokens[i])
		}
		text := strings.TrimSpace(strings.ReplaceAll(b.String(), "▁", " "))
		if text == "" {
			continue
		}
		start := max(at(sp.first), prev)
		end := clamp(at(sp.last) + asrTokenSpan)
		if k+1 < len(spans) {
			end = min(end, at(spans[k+1].first))
		}
		end = max(end, start)
		var conf float32
		if logp != nil {
			conf = asrConfidence(logp[sp.first : sp.last+1])
		}
		words = append(words, speech.Word{Text: text, Start: start, End: end, Confidence: conf})
		prev = start
	}
	return words, asrConfidence(logp)
}

// asrSeconds converts sherpa-onnx's float32 seconds to a duration rounded
// to the millisecond (its times are multiples of 10 ms; float32 would
// otherwise give 39.999999ms).
func asrSeconds(s float32) time.Duration {
	if !finite32(s) {
		return 0
	}
	return time.Duration(math.Round(float64(s)*1000)) * time.Millisecond
}

// asrText normalises sherpa-onnx's text: sentencepiece markers become
// spaces and runs of white space collapse.
func asrText(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "▁", " ")), " ")
}

// asrCheckTokens refuses a tokens.txt that sherpa-onnx would answer by
// exiting the process: NeMo models need a blank symbol ("<blk>", for CTC
// also "<eps>" or "<blank>"), and NeMo transducers need it to be the last
// id. data is the file's content; lines are "symbol id".
func asrCheckTokens(data []byte, family string) error {
	need := family == "offline-nemo-ctc" || family == "offline-nemo-transducer"
	if !need {
		return nil
	}
	blank, maxID := -1, -1
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimRight(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		i := strings.LastIndexAny(line, " \t")
		if i < 0 {
			return fmt.Errorf("tokens line %d: want \"symbol id\"", n+1)
		}
		id, err := strconv.Atoi(line[i+1:])
		if err != nil || id < 0 {
			return fmt.Errorf("tokens line %d: bad id %q", n+1, line[i+1:])
		}
		maxID = max(maxID, id)
		switch strings.TrimSpace(line[:i]) {
		case "<blk>":
			blank = id
		case "<eps>", "<blank>":
			if family == "offline-nemo-ctc" && blank < 0 {
				blank = id
			}
		}
	}
	if blank < 0 {
		return fmt.Errorf("tokens have no blank symbol <blk>")
	}
	if family == "offline-nemo-transducer" && blank != maxID {
		return fmt.Errorf("tokens: <blk> is %d, but a NeMo transducer needs it last (%d)", blank, maxID)
	}
	return nil
}
