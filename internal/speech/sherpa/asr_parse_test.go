package sherpa

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/speech"
)

func TestParseASROptions(t *testing.T) {
	o, err := ParseASROptions(3, map[string]string{
		"decoding_method": "modified_beam_search", "max_active_paths": "8",
		"rule2_min_trailing_silence": " 0.8 ", "enable_endpoint": "false",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.Threads != 3 || o.DecodingMethod != "modified_beam_search" || o.MaxActivePaths != 8 || o.Rule2 != 0.8 || o.EnableEndpoint || o.Rule1 != 2.4 {
		t.Errorf("parsed %+v", o)
	}
	for _, bad := range []map[string]string{
		{"decoding_method": "beam"}, {"max_active_paths": "0"}, {"rule1_min_trailing_silence": "NaN"},
		{"rule3_min_utterance_length": "-1"}, {"hotwords_scor": "2"}, {"max_chunk_seconds": "31"},
		{"enable_endpoint": "maybe"},
	} {
		if _, err := ParseASROptions(0, bad); !errors.Is(err, speech.ErrBadInput) {
			t.Errorf("%v: err %v, want ErrBadInput", bad, err)
		}
	}
	if _, err := ParseASROptions(-1, nil); !errors.Is(err, speech.ErrBadInput) {
		t.Errorf("threads -1: %v", err)
	}
}

func FuzzParseASROptions(f *testing.F) {
	f.Add("decoding_method", "modified_beam_search", 1)
	f.Add("rule1_min_trailing_silence", "1e309", 0)
	f.Add("max_chunk_seconds", "NaN", 2)
	f.Add("max_active_paths", "-9223372036854775808", 65)
	f.Fuzz(func(t *testing.T, k, v string, threads int) {
		o, err := ParseASROptions(threads, map[string]string{k: v})
		if err != nil {
			if !errors.Is(err, speech.ErrBadInput) {
				t.Fatalf("error %v does not wrap ErrBadInput", err)
			}
			return
		}
		if o.Threads < 1 || o.MaxActivePaths < 1 || o.MaxChunkSeconds < 1 || o.MaxChunkSeconds > 30 ||
			!(o.Rule1 >= 0) || !(o.Rule2 >= 0) || !(o.Rule3 > 0) || !(o.HotwordsScore >= 0) {
			t.Fatalf("accepted out-of-range options %+v", o)
		}
	})
}

func TestASRWordsMergesPieces(t *testing.T) {
	toks := []string{"▁THE", "▁CAT", "S", "▁SAT", "ED"}
	ts := []float32{0.0, 0.4, 0.48, 1.0, 1.04}
	logp := []float32{0, -1, -1, float32(math.Log(0.5)), float32(math.Log(0.5))}
	ws, conf := asrWords(toks, ts, logp, time.Second, 10*time.Second)
	want := []string{"THE", "CATS", "SATED"}
	if len(ws) != len(want) {
		t.Fatalf("words %+v", ws)
	}
	for i, w := range ws {
		if w.Text != want[i] {
			t.Errorf("word %d = %q, want %q", i, w.Text, want[i])
		}
	}
	if ws[1].Start != 1400*time.Millisecond || ws[1].End != 1520*time.Millisecond {
		t.Errorf("CATS at [%v, %v], want [1.4s, 1.52s]", ws[1].Start, ws[1].End)
	}
	if ws[0].End != 1040*time.Millisecond { // one token span, before CATS starts
		t.Errorf("THE ends %v", ws[0].End)
	}
	if math.Abs(float64(ws[2].Confidence)-0.5) > 1e-5 || ws[0].Confidence != 1 {
		t.Errorf("confidences %v %v", ws[0].Confidence, ws[2].Confidence)
	}
	if conf <= 0 || conf >= 1 {
		t.Errorf("hypothesis confidence %v", conf)
	}
	// No log-probabilities: confidence is unknown (0), never a made-up 1.
	ws, conf = asrWords(toks, ts, nil, 0, time.Minute)
	if conf != 0 || ws[0].Confidence != 0 {
		t.Errorf("confidence without ys_probs: %v, %v", conf, ws[0].Confidence)
	}
	// Times are clamped to the audio received.
	ws, _ = asrWords(toks, ts, nil, 0, 500*time.Millisecond)
	for _, w := range ws {
		if w.End > 500*time.Millisecond || w.Start > w.End {
			t.Errorf("word %+v beyond limit", w)
		}
	}
}

func FuzzASRWords(f *testing.F) {
	f.Add("▁THE ▁CAT S", "0 0.4 0.48", -0.1, int64(time.Second))
	f.Add("S ▁ ▁", "NaN -1 1e30", math.Inf(-1), int64(0))
	f.Add(" hello world", "0.5", 3.0, int64(-5))
	f.Fuzz(func(t *testing.T, tokStr, tsStr string, lp float64, base int64) {
		toks := strings.Fields(tokStr)
		if strings.HasPrefix(tokStr, " ") && len(toks) > 0 {
			toks[0] = " " + toks[0]
		}
		var ts, logp []float32
		for _, f := range strings.Fields(tsStr) {
			var v float32
			switch f {
			case "NaN":
				v = float32(math.NaN())
			default:
				if x, err := parseFloatLoose(f); err == nil {
					v = x
				}
			}
			ts = append(ts, v)
			logp = append(logp, float32(lp))
		}
		limit := 5 * time.Second
		ws, conf := asrWords(toks, ts, logp, time.Duration(base), limit)
		if conf < 0 || conf > 1 || conf != conf {
			t.Fatalf("confidence %v", conf)
		}
		var prev time.Duration
		for _, w := range ws {
			if w.Text == "" || !utf8.ValidString(w.Text) && utf8.ValidString(tokStr) {
				t.Fatalf("bad word text %q", w.Text)
			}
			if w.Start < 0 || w.Start > w.End || w.End > limit || w.Start < prev {
				t.Fatalf("word %+v out of order/range (prev %v)", w, prev)
			}
			if w.Confidence < 0 || w.Confidence > 1 || w.Confidence != w.Confidence {
				t.Fatalf("word confidence %v", w.Confidence)
			}
			prev = w.Start
		}
	})
}

func parseFloatLoose(s string) (float32, error) {
	v, err := strconv.ParseFloat(s, 32)
	return float32(v), err
}

func TestASRParseResultJSON(t *testing.T) {
	r, err := asrParseResultJSON(`{"text":" THE CAT","tokens":[" THE"," CAT"],"timestamps":[0.1,0.5],"ys_probs":[-0.1,-0.2],"start_time":2.5,"segment":1,"is_final":false}`)
	if err != nil || len(r.Tokens) != 2 || r.StartTime != 2.5 || len(r.YsProbs) != 2 {
		t.Fatalf("%+v, %v", r, err)
	}
	if _, err := asrParseResultJSON(`{"tokens":["a"],"timestamps":[1,2]}`); err == nil {
		t.Errorf("mismatched timestamps accepted")
	}
	if r, err := asrParseResultJSON(""); err != nil || len(r.Tokens) != 0 {
		t.Errorf("empty: %+v %v", r, err)
	}
}

func FuzzASRParseResultJSON(f *testing.F) {
	f.Add(`{"text":"A","tokens":["▁A"],"timestamps":[0.04],"ys_probs":[-0.3],"start_time":1.0}`)
	f.Add(`{"tokens":["a","b"],"ys_probs":[1],"start_time":-3}`)
	f.Add(`{"start_time":1e999}`)
	f.Add(`[`)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := asrParseResultJSON(s)
		if err != nil {
			return
		}
		if len(r.Timestamps) != 0 && len(r.Timestamps) != len(r.Tokens) {
			t.Fatalf("accepted %d timestamps for %d tokens", len(r.Timestamps), len(r.Tokens))
		}
		if len(r.YsProbs) != 0 && len(r.YsProbs) != len(r.Tokens) {
			t.Fatalf("kept %d ys_probs for %d tokens", len(r.YsProbs), len(r.Tokens))
		}
		if r.StartTime < 0 || !finite32(r.StartTime) {
			t.Fatalf("start_time %v", r.StartTime)
		}
		asrWords(r.Tokens, r.Timestamps, r.YsProbs, asrSeconds(r.StartTime), time.Minute)
	})
}

func FuzzASRHotwordsText(f *testing.F) {
	f.Add("hello world", "izwi", "")
	f.Add("a/b", "", "lower")
	f.Add("  ", "x:y", "keep")
	f.Fuzz(func(t *testing.T, a, b, letterCase string) {
		s, err := asrHotwordsText([]string{a, b}, letterCase)
		if err != nil {
			if !errors.Is(err, speech.ErrBadInput) {
				t.Fatalf("error %v does not wrap ErrBadInput", err)
			}
			return
		}
		n := 0
		for _, h := range []string{a, b} {
			if strings.TrimSpace(h) != "" {
				n++
			}
		}
		if got := len(strings.Split(s, "/")); s != "" && got != n || s == "" && n != 0 {
			t.Fatalf("%q from %q, %q: %d phrases, want %d", s, a, b, got, n)
		}
		if strings.ContainsAny(s, ":\x00\n") {
			t.Fatalf("separator leaked into %q", s)
		}
	})
}

func TestASRSplit(t *testing.T) {
	// 10 s of loud noise with one quiet 100 ms pause at 7.0 s.
	const rate = 1000
	x := make([]float32, 10*rate)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)))
	}
	for i := 7000; i < 7100; i++ {
		x[i] = 0
	}
	b := asrSplit(x, 8*rate, 20)
	if len(b) != 3 || b[0] != 0 || b[2] != len(x) {
		t.Fatalf("bounds %v", b)
	}
	if b[1] < 7000 || b[1] > 7100 {
		t.Errorf("cut at %d, want inside the pause [7000, 7100]", b[1])
	}
	if got := asrSplit(x, 20*rate, 20); len(got) != 2 {
		t.Errorf("short input split: %v", got)
	}
}

func FuzzASRSplit(f *testing.F) {
	f.Add(1000, 100, 10)
	f.Add(0, 5, 1)
	f.Add(99, 7, 8)
	f.Fuzz(func(t *testing.T, n, maxLen, frame int) {
		if n < 0 || n > 1<<16 {
			return
		}
		x := make([]float32, n)
		for i := range x {
			x[i] = float32((i*7919)%13) - 6
		}
		b := asrSplit(x, maxLen, frame)
		if b[0] != 0 || b[len(b)-1] != n {
			t.Fatalf("bounds %v do not cover [0, %d]", b, n)
		}
		for i := 1; i < len(b); i++ {
			if b[i] <= b[i-1] && !(n == 0 && len(b) == 2) {
				t.Fatalf("bounds not increasing: %v", b)
			}
			if maxLen > 0 && frame > 0 && frame <= maxLen && b[i]-b[i-1] > maxLen {
				t.Fatalf("piece %d is %d > %d samples", i, b[i]-b[i-1], maxLen)
			}
		}
	})
}

func TestASRCheckTokens(t *testing.T) {
	ok := map[string]string{
		"offline-nemo-ctc":        "<blk> 0\na 1\n",
		"offline-nemo-transducer": "a 0\nb 1\n<blk> 2\n",
		"online-transducer":       "anything",
	}
	for fam, tok := range ok {
		if err := asrCheckTokens([]byte(tok), fam); err != nil {
			t.Errorf("%s: %v", fam, err)
		}
	}
	bad := map[string]string{
		"offline-nemo-ctc":        "a 0\nb 1\n",
		"offline-nemo-transducer": "<blk> 0\na 1\n",
	}
	for fam, tok := range bad {
		if err := asrCheckTokens([]byte(tok), fam); err == nil {
			t.Errorf("%s: %q accepted", fam, tok)
		}
	}
	if err := asrCheckTokens([]byte("<blk> x\n"), "offline-nemo-ctc"); err == nil {
		t.Errorf("bad id accepted")
	}
}

func FuzzASRCheckTokens(f *testing.F) {
	f.Add([]byte("<blk> 0\n▁THE 1\r\nS 2\n"), true)
	f.Add([]byte("a 0\n<blk> -1\n"), false)
	f.Add([]byte(" 3\n\t\n<eps>\t9"), true)
	f.Fuzz(func(t *testing.T, data []byte, ctc bool) {
		fam := "offline-nemo-transducer"
		if ctc {
			fam = "offline-nemo-ctc"
		}
		if err := asrCheckTokens(data, fam); err == nil && !strings.Contains(string(data), "<") {
			t.Fatalf("accepted tokens with no blank symbol: %q", data)
		}
	})
}
