package listen

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/finite"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/wordfilter"
)

// Bounds on what a client may ask for.
const (
	// DefaultEndpointing is Deepgram's default pause before speech_final.
	DefaultEndpointing = 10 * time.Millisecond
	maxEndpointing     = 60 * time.Second
	// minUtteranceEnd is the smallest utterance_end_ms Deepgram honours;
	// smaller values are raised to it.
	minUtteranceEnd = time.Second
	maxUtteranceEnd = 5 * time.Minute
	maxTerms        = 100 // keyterm + keywords
	maxTermLen      = 100 // bytes of one term
	maxLabelLen     = 128 // bytes of model, language, version, tier, an extra key or value
	maxExtra        = 20  // extra key:value pairs
)

// Params are a /v1/listen request's query parameters as Deepgram names
// them. Honoured ones change what Izwi does; the rest are accepted so
// clients written for Deepgram connect unchanged (see Ignored).
type Params struct {
	// Live audio format (streaming only; files are decoded by content).
	// An empty Encoding means a WAV stream whose header gives the format.
	Format audio.RawFormat
	// Multichannel is accepted only with one channel: Izwi downmixes.
	Multichannel bool

	Interim     bool // interim_results
	Punctuate   bool // punctuate: sentence case and punctuation (internal/textformat)
	SmartFormat bool // smart_format: the same rule-based formatter
	// Filter holds replace, redact and profanity_filter (nil: none).
	Filter *wordfilter.Filter
	// Endpointing is the VAD silence after which a final result carries
	// speech_final; 0 means endpointing=false.
	Endpointing time.Duration
	// UtteranceEnd is the gap after the last word that sends UtteranceEnd
	// (0: off). It needs Interim, as on Deepgram.
	UtteranceEnd time.Duration
	VADEvents    bool // vad_events: SpeechStarted messages
	Utterances   bool // utterances (pre-recorded)

	// Hotwords come from keyterm and keywords (boosts dropped).
	Hotwords []string

	// Echoed in metadata: what the client asked for.
	Model, Language, Version, Tier string

	// Extra are the client's extra=key:value pairs, echoed in metadata
	// as Deepgram does.
	Extra map[string]string

	// Ignored lists accepted parameters that change nothing here, sorted.
	Ignored []string
}

// msgMultichannel refuses multichannel=true on audio of several channels.
const msgMultichannel = "is not supported: send multichannel=false (or omit it) and the channels are mixed to one"

// ParamError is a query parameter Izwi refuses; its text is safe to show.
type ParamError struct {
	Param, Msg string
}

func (e *ParamError) Error() string { return "listen: " + e.Param + ": " + e.Msg }

// UnsupportedError is a documented Deepgram option Izwi does not
// implement, asked for: refused (400 unsupported_option) rather than
// ignored, so a client never takes a plain transcript for the one it
// asked for.
type UnsupportedError struct{ ParamError }

// Unwrap makes an UnsupportedError a ParamError too (errors.As).
func (e *UnsupportedError) Unwrap() error { return &e.ParamError }

func unsupported(param, msg string) *UnsupportedError {
	return &UnsupportedError{ParamError{param, msg}}
}

// refusal maps a ParseParams or checkLanguage error to its answer.
func refusal(err error) (apierr.Code, string) {
	var ue *UnsupportedError
	var pe *ParamError
	switch {
	case errors.As(err, &ue) && ue.Param == "language":
		return apierr.CodeUnsupportedLanguage, ue.Param + " " + ue.Msg
	case errors.As(err, &ue):
		return apierr.CodeUnsupportedOption, ue.Param + " " + ue.Msg
	case errors.As(err, &pe):
		return apierr.CodeBadRequest, pe.Param + " " + pe.Msg
	}
	return apierr.CodeBadRequest, ""
}

// writeRefusal answers a refused parameter.
func writeRefusal(w http.ResponseWriter, r *http.Request, err error) {
	code, msg := refusal(err)
	writeError(w, r, code, msg)
}

// checkLanguage gives the engine the language a request named, as its
// primary subtag, or refuses one the engine does not hear.
func checkLanguage(p *Params, info speech.EngineInfo) error {
	primary, err := speech.PrimaryLanguage(p.Language)
	if err != nil {
		return &ParamError{"language", "must be a language code such as en or en-US"}
	}
	if !info.Hears(primary) {
		return unsupported("language", "is not heard by this engine (it hears "+strings.Join(info.Languages, ", ")+")")
	}
	p.Language = primary
	return nil
}

// ignoredParams are Deepgram options Izwi accepts and does nothing with.
// Parameters not listed anywhere are ignored silently, as Deepgram does.
func ignoredParams() []string {
	return []string{
		"alternatives", "detect_entities", "diarize_version", "dictation",
		"filler_words", "intents", "measurements", "mip_opt_out", "no_delay", "numerals", "paragraphs",
		"search", "sentiment", "summarize", "tag", "topics", "utt_split",
	}
}

// ParseParams reads a /v1/listen query. live selects the streaming rules
// (encoding and sample_rate required, bounds of live audio); a file
// request carries its format in its container and may omit them.
func ParseParams(q url.Values, live bool) (Params, error) {
	p := Params{Endpointing: DefaultEndpointing}
	var err error
	one := func(name string) string { return q.Get(name) }
	boolean := func(name string, dst *bool) {
		if err != nil || !q.Has(name) {
			return
		}
		*dst, err = parseBool(name, one(name))
	}
	label := func(name string, dst *string) {
		if err != nil {
			return
		}
		v := one(name)
		if len(v) > maxLabelLen || !printable(v) {
			err = &ParamError{name, fmt.Sprintf("must be at most %d printable characters", maxLabelLen)}
			return
		}
		*dst = v
	}

	if q.Has("callback") || q.Has("callback_method") {
		return Params{}, &ParamError{"callback", "is not supported: Izwi never makes outbound requests on a client's behalf; read the results from the connection"}
	}
	var diarize, detect bool
	boolean("diarize", &diarize)
	boolean("detect_language", &detect)
	if err == nil && diarize {
		return Params{}, unsupported("diarize", "is not supported: Izwi names speakers only from enrolled voiceprints in live sessions; omit it for a transcript without speakers")
	}
	if err == nil && detect {
		return Params{}, unsupported("detect_language", "is not supported: name the language with language= (a language the engine does not hear is refused)")
	}
	boolean("multichannel", &p.Multichannel)
	boolean("interim_results", &p.Interim)
	boolean("punctuate", &p.Punctuate)
	boolean("smart_format", &p.SmartFormat)
	boolean("vad_events", &p.VADEvents)
	boolean("utterances", &p.Utterances)
	label("model", &p.Model)
	label("language", &p.Language)
	label("version", &p.Version)
	label("tier", &p.Tier)
	if err != nil {
		return Params{}, err
	}
	if live {
		if p.Format, err = parseFormat(q); err != nil {
			return Params{}, err
		}
	}
	if p.Multichannel && p.Format.Channels > 1 {
		return Params{}, unsupported("multichannel", msgMultichannel)
	}
	if q.Has("endpointing") {
		if p.Endpointing, err = parseEndpointing(one("endpointing")); err != nil {
			return Params{}, err
		}
	}
	if q.Has("utterance_end_ms") {
		if p.UtteranceEnd, err = parseMillis("utterance_end_ms", one("utterance_end_ms"), 0, maxUtteranceEnd); err != nil {
			return Params{}, err
		}
		if live && !p.Interim {
			return Params{}, &ParamError{"utterance_end_ms", "requires interim_results=true, as on Deepgram"}
		}
		p.UtteranceEnd = max(p.UtteranceEnd, minUtteranceEnd)
	}
	if p.Hotwords, err = parseTerms(q); err != nil {
		return Params{}, err
	}
	if p.Extra, err = parseExtra(q["extra"]); err != nil {
		return Params{}, err
	}
	if p.Filter, err = parseFilters(q); err != nil {
		return Params{}, err
	}
	for _, name := range ignoredParams() {
		if q.Has(name) {
			p.Ignored = append(p.Ignored, name)
		}
	}
	return p, nil
}

// parseFormat reads encoding, sample_rate and channels of a live stream.
func parseFormat(q url.Values) (audio.RawFormat, error) {
	enc := strings.ToLower(q.Get("encoding"))
	switch enc {
	case "":
		// Containerised audio: the stream starts with a WAV header that
		// declares the format (wavhead.go); sample_rate and channels are
		// the header's, as on Deepgram.
		return audio.RawFormat{}, nil
	case audio.EncLinear16, audio.EncLinear32, audio.EncFloat32, audio.EncMuLaw, audio.EncALaw:
	default:
		return audio.RawFormat{}, &ParamError{"encoding", "must be linear16, linear32, float32, mulaw or alaw"}
	}
	if !q.Has("sample_rate") {
		return audio.RawFormat{}, &ParamError{"sample_rate", "is required with encoding"}
	}
	rate, err := parseInt("sample_rate", q.Get("sample_rate"), audio.MinLiveRate, audio.MaxLiveRate)
	if err != nil {
		return audio.RawFormat{}, err
	}
	channels := 1
	if q.Has("channels") {
		if channels, err = parseInt("channels", q.Get("channels"), 1, audio.MaxLiveChannels); err != nil {
			return audio.RawFormat{}, err
		}
	}
	f, err := audio.ParseRawFormat(enc, rate, channels)
	if err != nil {
		return audio.RawFormat{}, &ParamError{"encoding", "is not a format this server decodes"}
	}
	return f, nil
}

// parseEndpointing reads endpointing: milliseconds, "false" (off) or
// "true" (the default).
func parseEndpointing(v string) (time.Duration, error) {
	switch strings.ToLower(v) {
	case "false":
		return 0, nil
	case "true":
		return DefaultEndpointing, nil
	}
	return parseMillis("endpointing", v, 0, maxEndpointing)
}

func parseMillis(name, v string, lo, hi time.Duration) (time.Duration, error) {
	n, err := parseInt(name, v, int(lo/time.Millisecond), int(hi/time.Millisecond))
	if err != nil {
		return 0, err
	}
	return time.Duration(n) * time.Millisecond, nil
}

func parseInt(name, v string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &ParamError{name, fmt.Sprintf("must be an integer from %d to %d", lo, hi)}
	}
	return n, nil
}

func parseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0", "":
		return false, nil
	}
	return false, &ParamError{name, "must be true or false"}
}

// Context is the request's key terms as prepared text, one a line (a
// term's phones, as in "izwi:IH Z W IY", stay with the hotword): engines
// that adapt to prepared text give them weight in their language model and
// spell the new ones by rule, so a term need not be in any dictionary, as
// with Deepgram itself.
func (p Params) Context() string {
	lines := make([]string, 0, len(p.Hotwords))
	for _, h := range p.Hotwords {
		word, _, _ := strings.Cut(h, ":")
		lines = append(lines, word)
	}
	return strings.Join(lines, "\n")
}

// parseTerms turns keyterm and keywords into hotwords. A keyword may carry
// Deepgram's ":boost" suffix (a number); the boost is dropped because the
// engines take a word list, not weights.
func parseTerms(q url.Values) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(name, term string) error {
		term = strings.Join(strings.Fields(term), " ")
		if term == "" {
			return nil
		}
		if len(term) > maxTermLen || !printable(term) {
			return &ParamError{name, fmt.Sprintf("each term must be at most %d printable characters", maxTermLen)}
		}
		if !seen[term] {
			seen[term] = true
			out = append(out, term)
		}
		if len(out) > maxTerms {
			return &ParamError{name, fmt.Sprintf("at most %d terms in keyterm and keywords together", maxTerms)}
		}
		return nil
	}
	for _, t := range q["keyterm"] {
		if err := add("keyterm", t); err != nil {
			return nil, err
		}
	}
	for _, k := range q["keywords"] {
		word := k
		if i := strings.LastIndexByte(k, ':'); i >= 0 {
			if _, err := finite.Parse(k[i+1:]); err != nil {
				return nil, &ParamError{"keywords", "a boost after ':' must be a number, as in word:2"}
			}
			word = k[:i]
		}
		if err := add("keywords", word); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseExtra reads Deepgram's extra=key:value pairs.
func parseExtra(vs []string) (map[string]string, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	if len(vs) > maxExtra {
		return nil, &ParamError{"extra", fmt.Sprintf("at most %d key:value pairs", maxExtra)}
	}
	out := make(map[string]string, len(vs))
	for _, v := range vs {
		k, val, ok := strings.Cut(v, ":")
		if !ok || k == "" || len(k) > maxLabelLen || len(val) > maxLabelLen || !printable(k) || !printable(val) {
			return nil, &ParamError{"extra", fmt.Sprintf("must be key:value, each at most %d printable characters", maxLabelLen)}
		}
		out[k] = val
	}
	return out, nil
}

// printable reports whether s is valid UTF-8 without control characters,
// so a value can be echoed in JSON and logs safely.
func printable(s string) bool {
	for _, r := range s {
		if r == 0xFFFD || r < 0x20 || r == 0x7F {
			return false
		}
	}
	return true
}

// parseFilters reads Deepgram's word filters: profanity_filter (mask with
// asterisks), replace=find:replacement (repeatable; find is matched
// ignoring case) and redact (numbers, true, pci and ssn redact every run
// of three or more numerals; the entity groups pii and phi need a model
// Izwi does not have and are refused rather than silently not applied).
func parseFilters(q url.Values) (*wordfilter.Filter, error) {
	var c wordfilter.Config
	if q.Has("profanity_filter") {
		v, err := parseBool("profanity_filter", q.Get("profanity_filter"))
		if err != nil {
			return nil, err
		}
		c.Profanity = v
	}
	if n := len(q["replace"]); n > wordfilter.MaxRules {
		return nil, &ParamError{"replace", fmt.Sprintf("at most %d terms", wordfilter.MaxRules)}
	}
	for _, v := range q["replace"] {
		find, repl, ok := strings.Cut(v, ":")
		if !ok || !printable(v) {
			return nil, &ParamError{"replace", "must be find:replacement in printable characters"}
		}
		c.Replace = append(c.Replace, wordfilter.Rule{Find: find, Replace: repl})
	}
	if err := c.Validate(); err != nil {
		return nil, &ParamError{"replace", strings.TrimPrefix(err.Error(), "wordfilter: ")}
	}
	if len(q["redact"]) > maxTerms {
		return nil, &ParamError{"redact", fmt.Sprintf("at most %d values", maxTerms)}
	}
	for _, v := range q["redact"] {
		for _, kind := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(kind)) {
			case "false", "":
			case "true", "numbers", "pci", "ssn":
				c.RedactNumbers = true
			default:
				return nil, &ParamError{"redact", "only numbers, pci, ssn or true (runs of three or more numerals) are supported here"}
			}
		}
	}
	f, err := wordfilter.New(c)
	if err != nil {
		return nil, &ParamError{"replace", strings.TrimPrefix(err.Error(), "wordfilter: ")}
	}
	if f.Empty() {
		return nil, nil
	}
	return f, nil
}
