// Package deepgram owns Izwi's cloud speech engine: Deepgram's live
// WebSocket API (GET /v1/listen with linear16 frames, KeepAlive, Finalize,
// CloseStream; Results with is_final/speech_final and timed words) as a
// speech.Recognizer, and its pre-recorded API (POST /v1/listen) as a
// speech.Transcriber.
//
// Public API (used by cmd/izwi): Register adds the engine to a
// speech.Registry under Name for the asr and transcribe roles; Config
// (with ConfigFromSpec and Validate) holds its settings; New and
// NewTranscriber build it directly. Errors are *Error values that wrap
// speech.ErrUnavailable (network, TLS, 401/403, 429, 5xx, a stall, a
// malformed answer) or speech.ErrBadAudio, and say why in Reason, so a chain
// knows when to fail over and what to report.
//
// The API key is read from a file (Config.APIKeyFile, or the
// deepgram_api_key secret: IZWI_DEEPGRAM_API_KEY_FILE or a systemd
// credential) on every connection, so a rotated key needs no restart. It
// travels only in the Authorization header, never in a URL, log line,
// metric or error.
//
// Only cmd/izwi and tests import this package.
package deepgram

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/speech"
)

// Name is the engine's registered name.
const Name = "deepgram"

// Defaults for zero Config fields.
const (
	DefaultURL          = "wss://api.deepgram.com"
	DefaultModel        = "nova-3"
	DefaultLanguage     = "en"
	DefaultSampleRate   = 16000
	DefaultEndpointing  = 300 * time.Millisecond
	DefaultUtteranceEnd = time.Second
	DefaultDialTimeout  = 5 * time.Second
	DefaultFlushTimeout = 5 * time.Second
	DefaultKeepAlive    = 5 * time.Second
	// SecretName is the secret looked up when APIKeyFile is empty:
	// IZWI_DEEPGRAM_API_KEY(_FILE) or $CREDENTIALS_DIRECTORY/deepgram_api_key.
	SecretName = "deepgram_api_key"
)

// Config is the engine's settings. The zero value (plus a key) talks to
// Deepgram's cloud with nova-3 in English.
type Config struct {
	// URL is the service's base URL; Izwi appends /v1/listen. wss/ws for
	// live, and the matching https/http is used for files.
	URL string `json:"url,omitempty"`
	// APIKeyFile holds the API key (mode 0600/0400). Empty: the
	// deepgram_api_key secret. Read again on every connection.
	APIKeyFile string `json:"api_key_file,omitempty"`
	Model      string `json:"model,omitempty"`
	Language   string `json:"language,omitempty"`
	Tier       string `json:"tier,omitempty"`
	// SampleRate of the audio Izwi sends (linear16, mono).
	SampleRate int `json:"sample_rate,omitempty"`
	// Endpointing is the silence that ends an utterance (speech_final).
	Endpointing time.Duration `json:"endpointing,omitempty"`
	// UtteranceEnd is utterance_end_ms (at least 1 s; needs interim results).
	UtteranceEnd time.Duration `json:"utterance_end,omitempty"`
	// NoInterim turns interim (partial) results off.
	NoInterim bool `json:"no_interim,omitempty"`
	// DialTimeout bounds a connection handshake; FlushTimeout how long
	// Flush waits for Deepgram's answer to Finalize with no message at all
	// arriving meanwhile (a file may take FlushTimeout plus half its
	// length to be answered); KeepAlive how often an
	// idle stream sends KeepAlive (Deepgram closes after 10 s of nothing).
	DialTimeout  time.Duration `json:"dial_timeout,omitempty"`
	FlushTimeout time.Duration `json:"flush_timeout,omitempty"`
	KeepAlive    time.Duration `json:"keep_alive,omitempty"`
	// HTTPClient makes connections (tests trust a local CA with it); nil
	// uses a client with Go's default TLS settings (TLS 1.2+, system roots).
	HTTPClient *http.Client `json:"-"`
}

// ConfigFromSpec reads a Config from a registry spec: spec.Model, and
// spec.Options "url", "api_key_file", "language", "tier", "sample_rate",
// "endpointing_ms", "utterance_end_ms", "interim_results" (true/false),
// "dial_timeout_ms", "flush_timeout_ms", "keep_alive_ms".
func ConfigFromSpec(spec speech.Spec) (Config, error) {
	o := spec.Options
	c := Config{URL: o["url"], APIKeyFile: o["api_key_file"], Model: spec.Model,
		Language: o["language"], Tier: o["tier"]}
	var err error
	num := func(key string) int {
		v, ok := o[key]
		if !ok || err != nil {
			return 0
		}
		n, e := strconv.Atoi(v)
		if e != nil || n < 0 {
			err = fmt.Errorf("deepgram: option %s: %q is not a non-negative integer", key, v)
		}
		return n
	}
	ms := func(key string) time.Duration { return time.Duration(num(key)) * time.Millisecond }
	c.SampleRate = num("sample_rate")
	c.Endpointing, c.UtteranceEnd = ms("endpointing_ms"), ms("utterance_end_ms")
	c.DialTimeout, c.FlushTimeout, c.KeepAlive = ms("dial_timeout_ms"), ms("flush_timeout_ms"), ms("keep_alive_ms")
	if v, ok := o["interim_results"]; ok {
		b, e := strconv.ParseBool(v)
		if e != nil && err == nil {
			err = fmt.Errorf("deepgram: option interim_results: %q is not true or false", v)
		}
		c.NoInterim = !b
	}
	for k := range o {
		if !knownOptions[k] && err == nil {
			err = fmt.Errorf("deepgram: unknown option %q", k)
		}
	}
	if err != nil {
		return Config{}, err
	}
	return c, c.Validate()
}

var knownOptions = map[string]bool{"url": true, "api_key_file": true, "language": true, "tier": true,
	"sample_rate": true, "endpointing_ms": true, "utterance_end_ms": true, "interim_results": true,
	"dial_timeout_ms": true, "flush_timeout_ms": true, "keep_alive_ms": true}

// Validate reports the first unusable setting.
func (c Config) Validate() error {
	if c.URL != "" {
		u, err := url.Parse(c.URL)
		if err != nil {
			return errors.New("deepgram: url does not parse")
		}
		switch {
		case u.Scheme != "wss" && u.Scheme != "ws" && u.Scheme != "https" && u.Scheme != "http":
			return fmt.Errorf("deepgram: url scheme %q: want wss, ws, https or http", u.Scheme)
		case u.Host == "":
			return errors.New("deepgram: url has no host")
		case u.User != nil || u.RawQuery != "" || u.Fragment != "":
			// A key in a URL would end up in logs; keys go in the header.
			return errors.New("deepgram: url must not carry credentials, a query or a fragment")
		}
	}
	switch {
	case c.SampleRate != 0 && (c.SampleRate < 8000 || c.SampleRate > 48000):
		return fmt.Errorf("deepgram: sample_rate %d outside 8000–48000", c.SampleRate)
	case c.UtteranceEnd != 0 && c.UtteranceEnd < time.Second:
		return fmt.Errorf("deepgram: utterance_end %v below Deepgram's 1 s minimum", c.UtteranceEnd)
	case c.UtteranceEnd != 0 && c.NoInterim:
		return errors.New("deepgram: utterance_end needs interim results")
	case c.Endpointing < 0, c.DialTimeout < 0, c.FlushTimeout < 0, c.KeepAlive < 0:
		return errors.New("deepgram: durations must not be negative")
	}
	for _, s := range []string{c.Model, c.Language, c.Tier} {
		if strings.ContainsAny(s, "&=?#/ \t\r\n") {
			return fmt.Errorf("deepgram: model, language and tier are plain names, not %q", s)
		}
	}
	return nil
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	def := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	if c.URL == "" {
		c.URL = DefaultURL
	}
	if c.Model == "" {
		c.Model = DefaultModel
	}
	if c.Language == "" {
		c.Language = DefaultLanguage
	}
	if c.SampleRate == 0 {
		c.SampleRate = DefaultSampleRate
	}
	def(&c.Endpointing, DefaultEndpointing)
	if !c.NoInterim {
		def(&c.UtteranceEnd, DefaultUtteranceEnd)
	}
	def(&c.DialTimeout, DefaultDialTimeout)
	def(&c.FlushTimeout, DefaultFlushTimeout)
	def(&c.KeepAlive, DefaultKeepAlive)
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	return c
}

// endpoint is the /v1/listen URL for live (ws) or file (http) requests,
// with the query the settings and hotwords make. It never holds the key.
func (c Config) endpoint(live bool, hotwords []string) string {
	u, _ := url.Parse(c.URL) // validated
	switch {
	case live && u.Scheme == "https":
		u.Scheme = "wss"
	case live && u.Scheme == "http":
		u.Scheme = "ws"
	case !live && u.Scheme == "wss":
		u.Scheme = "https"
	case !live && u.Scheme == "ws":
		u.Scheme = "http"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/v1/listen"
	q := url.Values{}
	q.Set("model", c.Model)
	q.Set("language", c.Language)
	if c.Tier != "" {
		q.Set("tier", c.Tier)
	}
	if live {
		q.Set("encoding", "linear16")
		q.Set("sample_rate", strconv.Itoa(c.SampleRate))
		q.Set("channels", "1")
		q.Set("interim_results", strconv.FormatBool(!c.NoInterim))
		q.Set("endpointing", strconv.Itoa(int(c.Endpointing.Milliseconds())))
		if !c.NoInterim {
			q.Set("utterance_end_ms", strconv.Itoa(int(c.UtteranceEnd.Milliseconds())))
		}
	} else {
		q.Set("utterances", "true")
	}
	// nova-3 takes keyterm prompts; older models take keywords.
	param := "keywords"
	if strings.HasPrefix(c.Model, "nova-3") {
		param = "keyterm"
	}
	for _, h := range hotwords {
		if h = strings.TrimSpace(h); h != "" {
			q.Add(param, h)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
