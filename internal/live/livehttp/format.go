package livehttp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/audio"
)

// errNoFormat: the query declares no format; a config message must come first.
var errNoFormat = errors.New("livehttp: no audio format declared")

// formatFromQuery reads the declared audio format: encoding, sample_rate,
// channels (Deepgram's names; "rate" is accepted for sample_rate). Nothing
// declared is errNoFormat. A declared encoding without a rate, or a rate
// without an encoding, defaults the other to linear16 / 16000 Hz; channels
// default to 1. Errors are safe to show the client.
func formatFromQuery(q url.Values) (audio.RawFormat, error) {
	enc, rate, ch := q.Get("encoding"), q.Get("sample_rate"), q.Get("channels")
	if rate == "" {
		rate = q.Get("rate")
	}
	if enc == "" && rate == "" && ch == "" {
		return audio.RawFormat{}, errNoFormat
	}
	r, c := 16000, 1
	var err error
	if rate != "" {
		if r, err = strconv.Atoi(rate); err != nil {
			return audio.RawFormat{}, fmt.Errorf("livehttp: sample_rate %q is not a number: %w", trim(rate), audio.ErrUnsupported)
		}
	}
	if ch != "" {
		if c, err = strconv.Atoi(ch); err != nil {
			return audio.RawFormat{}, fmt.Errorf("livehttp: channels %q is not a number: %w", trim(ch), audio.ErrUnsupported)
		}
	}
	return parseFormat(enc, r, c)
}

func parseFormat(enc string, rate, ch int) (audio.RawFormat, error) {
	enc = strings.ToLower(strings.TrimSpace(enc))
	switch enc {
	case "":
		enc = audio.EncLinear16
	case "pcm_s16le", "s16le":
		enc = audio.EncLinear16
	case "pcm_f32le", "f32le":
		enc = audio.EncFloat32
	case "pcm_mulaw", "ulaw":
		enc = audio.EncMuLaw
	case "pcm_alaw":
		enc = audio.EncALaw
	}
	if rate == 0 {
		rate = 16000
	}
	if ch == 0 {
		ch = 1
	}
	f, err := audio.ParseRawFormat(enc, rate, ch)
	if err != nil {
		return audio.RawFormat{}, fmt.Errorf("livehttp: %w", err)
	}
	return f, nil
}

func trim(s string) string {
	if len(s) > 16 {
		return s[:16] + "…"
	}
	return s
}

// control is a text message on the ingest socket.
type control struct {
	Type string `json:"type"`
	// config only.
	Encoding   string `json:"encoding,omitempty"`
	SampleRate int    `json:"sample_rate,omitempty"`
	Channels   int    `json:"channels,omitempty"`
}

// Control message types (Deepgram's spellings are accepted too).
const (
	ctlConfig    = "config"
	ctlFinalize  = "finalize"
	ctlKeepAlive = "keepalive"
	ctlClose     = "close"
)

// errControl wraps a text message that is not valid JSON (1007); errUnknown
// one whose type is unknown (1003).
var (
	errControl = errors.New("livehttp: control message is not a JSON object")
	errUnknown = errors.New("livehttp: unknown control message")
)

// parseControl reads one text message. Unknown fields are refused so a
// typo in a config is not silently ignored.
func parseControl(b []byte) (control, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var c control
	if err := dec.Decode(&c); err != nil || dec.More() {
		return control{}, errControl
	}
	switch strings.ToLower(c.Type) {
	case ctlConfig:
		c.Type = ctlConfig
	case ctlFinalize:
		c.Type = ctlFinalize
	case ctlKeepAlive:
		c.Type = ctlKeepAlive
	case ctlClose, "closestream":
		c.Type = ctlClose
	default:
		return control{}, fmt.Errorf("%w %q (want config, finalize, keepalive or close)", errUnknown, trim(c.Type))
	}
	if c.Type != ctlConfig && (c.Encoding != "" || c.SampleRate != 0 || c.Channels != 0) {
		return control{}, fmt.Errorf("%w: format fields on a %s message", errControl, c.Type)
	}
	return c, nil
}
