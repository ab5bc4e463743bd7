package listen

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/speech"
)

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		query string
		live  bool
		want  Params
	}{
		{"encoding=linear16&sample_rate=16000", true, Params{Format: audio.RawFormat{Encoding: "linear16", SampleRate: 16000, Channels: 1},
			Endpointing: DefaultEndpointing}},
		{"encoding=MULAW&sample_rate=8000&channels=2&interim_results=true&punctuate=true&smart_format=false&vad_events=true" +
			"&endpointing=300&utterance_end_ms=500&model=nova-3&language=en-US&version=latest&tier=enhanced",
			true, Params{Format: audio.RawFormat{Encoding: "mulaw", SampleRate: 8000, Channels: 2}, Interim: true, Punctuate: true,
				VADEvents: true, Endpointing: 300 * time.Millisecond, UtteranceEnd: time.Second, // raised to Deepgram's minimum
				Model: "nova-3", Language: "en-US", Version: "latest", Tier: "enhanced"}},
		{"encoding=alaw&sample_rate=48000&endpointing=false&multichannel=true", true,
			Params{Format: audio.RawFormat{Encoding: "alaw", SampleRate: 48000, Channels: 1}, Multichannel: true}},
		{"encoding=float32&sample_rate=22050&endpointing=true", true,
			Params{Format: audio.RawFormat{Encoding: "float32", SampleRate: 22050, Channels: 1}, Endpointing: DefaultEndpointing}},
		// keyterm and keywords become hotwords, boosts dropped, duplicates
		// and spacing folded; unknown parameters are ignored, known
		// inert ones listed.
		{"keyterm=Izwi&keyterm=%20deep%20%20gram%20&keywords=kitten:2.5&keywords=Izwi&keywords=shadow&diarize=false&detect_language=false&foo=bar&search=x",
			false, Params{Endpointing: DefaultEndpointing, Hotwords: []string{"Izwi", "deep gram", "kitten", "shadow"},
				Ignored: []string{"search"}}},
		// No encoding: a WAV stream, its header gives the format.
		{"interim_results=true", true, Params{Interim: true, Endpointing: DefaultEndpointing}},
		// A file request needs no format and may use utterance_end_ms
		// without interim results.
		{"utterances=true&utterance_end_ms=2000&extra=a:b&extra=c:d:e", false, Params{Endpointing: DefaultEndpointing, Utterances: true,
			UtteranceEnd: 2 * time.Second, Extra: map[string]string{"a": "b", "c": "d:e"}}},
	} {
		q, _ := url.ParseQuery(tc.query)
		got, err := ParseParams(q, tc.live)
		if err != nil {
			t.Errorf("%s: %v", tc.query, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.query, got, tc.want)
		}
	}
}

func TestParseParamsRefuses(t *testing.T) {
	long := strings.Repeat("a", maxTermLen+1)
	many := strings.Repeat("keyterm=w&", 0)
	for i := range maxTerms + 1 {
		many += "keyterm=w" + strings.Repeat("x", i%50) + string(rune('a'+i%26)) + "&"
	}
	for query, param := range map[string]string{
		"encoding=mp3&sample_rate=16000":                                              "encoding",
		"encoding=linear16":                                                           "sample_rate",
		"encoding=linear16&sample_rate=7999":                                          "sample_rate",
		"encoding=linear16&sample_rate=48001":                                         "sample_rate",
		"encoding=linear16&sample_rate=abc":                                           "sample_rate",
		"encoding=linear16&sample_rate=16000&channels=0":                              "channels",
		"encoding=linear16&sample_rate=16000&channels=2&multichannel=true":            "multichannel",
		"encoding=linear16&sample_rate=16000&interim_results=yes":                     "interim_results",
		"encoding=linear16&sample_rate=16000&endpointing=-1":                          "endpointing",
		"encoding=linear16&sample_rate=16000&endpointing=60001":                       "endpointing",
		"encoding=linear16&sample_rate=16000&utterance_end_ms=1000":                   "utterance_end_ms",
		"encoding=linear16&sample_rate=16000&interim_results=true&utterance_end_ms=x": "utterance_end_ms",
		"encoding=linear16&sample_rate=16000&keywords=a:b":                            "keywords",
		"encoding=linear16&sample_rate=16000&keywords=a:NaN":                          "keywords",
		"encoding=linear16&sample_rate=16000&keyterm=" + long:                         "keyterm",
		"encoding=linear16&sample_rate=16000&keyterm=a%00b":                           "keyterm",
		"encoding=linear16&sample_rate=16000&" + many:                                 "keyterm",
		"encoding=linear16&sample_rate=16000&model=" + strings.Repeat("m", 200):       "model",
		"encoding=linear16&sample_rate=16000&language=%ff":                            "language",
		"encoding=linear16&sample_rate=16000&callback=https://example.com/":           "callback",
		"encoding=linear16&sample_rate=16000&extra=novalue":                           "extra",
		"encoding=linear16&sample_rate=16000&extra=:v":                                "extra",
		"encoding=linear16&sample_rate=16000&diarize=true":                            "diarize",
		"encoding=linear16&sample_rate=16000&detect_language=true":                    "detect_language",
	} {
		q, _ := url.ParseQuery(query)
		_, err := ParseParams(q, true)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Param != param || pe.Msg == "" {
			t.Errorf("%.80s: %v, want a ParamError for %s", query, err, param)
		}
	}
}

// FuzzParseParams: any query parses or is refused with a ParamError; what
// parses is within the documented bounds.
func FuzzParseParams(f *testing.F) {
	for _, s := range []string{
		"encoding=linear16&sample_rate=16000",
		"encoding=mulaw&sample_rate=8000&channels=2&interim_results=true&utterance_end_ms=1000&endpointing=300",
		"keywords=a:1&keywords=b:-2.5e3&keyterm=x%20y&model=nova-3&language=en",
		"endpointing=false&vad_events=1&punctuate=0&smart_format=TRUE",
		"encoding=linear16&sample_rate=16000&keywords=::&keyterm=%ff%fe",
		"callback=x", "channels=99999999999999999999&sample_rate=-0",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, query string, live bool) {
		q, err := url.ParseQuery(query)
		if err != nil {
			return
		}
		p, err := ParseParams(q, live)
		if err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Fatalf("error %v is not a ParamError", err)
			}
			return
		}
		if live && p.Format.Encoding != "" {
			if _, err := audio.ParseRawFormat(p.Format.Encoding, p.Format.SampleRate, p.Format.Channels); err != nil {
				t.Fatalf("accepted format %+v: %v", p.Format, err)
			}
			if p.UtteranceEnd > 0 && !p.Interim {
				t.Fatal("utterance_end_ms accepted without interim_results")
			}
		}
		if p.Endpointing < 0 || p.Endpointing > maxEndpointing || (p.UtteranceEnd != 0 && p.UtteranceEnd < minUtteranceEnd) ||
			p.UtteranceEnd > maxUtteranceEnd || len(p.Hotwords) > maxTerms {
			t.Fatalf("out of bounds: %+v", p)
		}
		for _, h := range p.Hotwords {
			if h == "" || len(h) > maxTermLen || !printable(h) {
				t.Fatalf("hotword %q", h)
			}
		}
		for _, s := range []string{p.Model, p.Language, p.Version, p.Tier} {
			if len(s) > maxLabelLen || !printable(s) {
				t.Fatalf("label %q", s)
			}
		}
	})
}

func TestFilterParams(t *testing.T) {
	q, _ := url.ParseQuery("profanity_filter=true&replace=monika:Monica&replace=dala%20me%20ni:Dlamini&redact=pci,ssn&punctuate=true")
	p, err := ParseParams(q, false)
	if err != nil || p.Filter == nil {
		t.Fatalf("ParseParams: %+v, %v", p, err)
	}
	r := speech.Result{Text: "monika said fuck call one two three dala me ni", Final: true}
	for i, w := range strings.Fields(r.Text) {
		r.Words = append(r.Words, speech.Word{Text: w, Start: time.Duration(i) * 300 * time.Millisecond,
			End: time.Duration(i)*300*time.Millisecond + 200*time.Millisecond, Confidence: 0.9})
	}
	words, text := resultText(r, p)
	if want := "Monica said **** call [REDACTED] Dlamini."; text != want {
		t.Errorf("transcript %q, want %q", text, want)
	}
	if len(words) != 6 || words[0].Word != "Monica" || words[2].Word != "****" || words[5].Word != "Dlamini" ||
		words[5].PunctuatedWord != "Dlamini." || words[4].Start != 1.2 || words[4].End != 2 {
		t.Errorf("words %+v", words)
	}
	// Without options the engine's text passes through untouched.
	if _, text := resultText(r, Params{}); text != r.Text {
		t.Errorf("no options changed the text: %q", text)
	}
	for _, bad := range []string{"redact=pii", "redact=phi,numbers", "replace=nocolon", "replace=" + strings.Repeat("a", 101) + ":b",
		"profanity_filter=maybe", "replace=a:%00"} {
		q, _ := url.ParseQuery(bad)
		var pe *ParamError
		if _, err := ParseParams(q, false); !errors.As(err, &pe) {
			t.Errorf("%s: %v, want a ParamError", bad, err)
		}
	}
}
