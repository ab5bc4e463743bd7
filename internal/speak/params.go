package speak

import (
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/speech"
)

// request is a checked /v1/speak query.
type request struct {
	format      string // audio.StreamFormats name
	contentType string
	rate        int    // output rate; 0 keeps the engine's
	voice       string // the synthesizer's voice ID; "" its default
	model       string // the name reported in dg-model-name
}

// rates are the sample rates Deepgram offers for linear16 and flac.
var rates = []int{8000, 16000, 24000, 32000, 48000}

// Aura's voices by the gender of Deepgram's samples; a name picks the
// synthesizer's voices of that gender in turn.
var (
	auraFemale = []string{"asteria", "luna", "stella", "athena", "hera", "thalia", "andromeda", "helena", "amalthea",
		"cora", "cordelia", "delia", "electra", "harmonia", "iris", "juno", "minerva", "ophelia", "pandora", "phoebe",
		"selene", "theia", "vesta", "callista", "aurora", "janus"}
	auraMale = []string{"orion", "arcas", "perseus", "angus", "orpheus", "helios", "zeus", "apollo", "aries", "atlas",
		"draco", "hermes", "hyperion", "jupiter", "mars", "neptune", "odysseus", "pluto", "saturn"}
)

// parseQuery reads model, encoding, container, sample_rate (and bit_rate,
// accepted and not applied). ws selects the WebSocket's narrower set
// (raw linear16, mulaw or alaw; no container).
func parseQuery(q url.Values, info speech.EngineInfo, voices []speech.Voice, ws bool) (request, error) {
	if q.Has("callback") || q.Has("callback_method") {
		return request{}, &refusal{apierr.CodeBadRequest, "callback is not supported: Izwi never makes outbound requests on a client's behalf; read the audio from the response"}
	}
	var req request
	var err error
	if req.voice, req.model, err = pickVoice(q.Get("model"), info, voices); err != nil {
		return request{}, err
	}
	enc := strings.ToLower(q.Get("encoding"))
	container := strings.ToLower(q.Get("container"))
	if enc == "" {
		enc = "mp3" // Deepgram's REST default
		if ws {
			enc = "linear16"
		}
	}
	rate := 0
	if v := q.Get("sample_rate"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || !slices.Contains(rates, n) {
			return request{}, &refusal{apierr.CodeBadRequest, "sample_rate must be one of 8000, 16000, 24000, 32000, 48000"}
		}
		rate = n
	}
	switch enc {
	case "linear16":
		if rate == 0 {
			rate = 24000
		}
		switch {
		case container == "none" || ws:
			req.format, req.contentType = "pcm", "audio/l16; rate="+strconv.Itoa(rate)
		case container == "" || container == "wav":
			req.format, req.contentType = "wav", "audio/wav"
		default:
			return request{}, &refusal{apierr.CodeBadRequest, "container for linear16 must be wav or none"}
		}
	case "flac":
		req.format, req.contentType = "flac", "audio/flac"
	case "mp3", "opus", "aac":
		if rate != 0 {
			return request{}, &refusal{apierr.CodeBadRequest, "sample_rate applies to linear16 and flac only, as on Deepgram"}
		}
		req.format = enc
		req.contentType = map[string]string{"mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac"}[enc]
		if enc == "opus" && container != "" && container != "ogg" {
			return request{}, &refusal{apierr.CodeBadRequest, "container for opus must be ogg"}
		}
	case "mulaw", "alaw":
		if rate == 0 {
			rate = 8000
		}
		if rate != 8000 && rate != 16000 {
			return request{}, &refusal{apierr.CodeBadRequest, "sample_rate for " + enc + " must be 8000 or 16000"}
		}
		switch {
		case container == "none" || ws:
			req.format, req.contentType = enc, "audio/"+map[string]string{"mulaw": "basic", "alaw": "x-alaw-basic"}[enc]
		case container == "" || container == "wav":
			req.format, req.contentType = enc+"-wav", "audio/wav"
		default:
			return request{}, &refusal{apierr.CodeBadRequest, "container for " + enc + " must be wav or none"}
		}
	default:
		return request{}, &refusal{apierr.CodeBadRequest, "encoding must be linear16, flac, mp3, opus or aac"}
	}
	if ws && enc != "linear16" && enc != "mulaw" && enc != "alaw" {
		return request{}, &refusal{apierr.CodeBadRequest, "the WebSocket speaks linear16, mulaw or alaw"}
	}
	if enc != "mp3" && enc != "opus" && enc != "aac" && container != "" && container != "none" && container != "wav" {
		return request{}, &refusal{apierr.CodeBadRequest, "container " + container + " does not apply to " + enc}
	}
	req.rate = rate
	return req, nil
}

// pickVoice maps Deepgram's model (an Aura voice, "aura-asteria-en",
// "aura-2-thalia-en") or the engine's own names (its /v1/models ID, a voice
// ID) to a voice; "" is the engine's default voice.
func pickVoice(model string, info speech.EngineInfo, voices []speech.Voice) (voice, name string, err error) {
	id := info.Engine + "/" + info.Model
	switch {
	case model == "":
		return "", id, nil
	case model == id || model == info.Engine:
		return "", model, nil
	}
	for _, v := range voices {
		if strings.EqualFold(v.ID, model) {
			return v.ID, model, nil
		}
	}
	parts := strings.Split(strings.ToLower(model), "-")
	if len(parts) >= 2 && parts[0] == "aura" {
		n := parts[1]
		if n == "2" && len(parts) >= 3 {
			n = parts[2]
		}
		gender := ""
		switch {
		case slices.Contains(auraFemale, n):
			gender = "female"
		case slices.Contains(auraMale, n):
			gender = "male"
		}
		if gender != "" {
			return byGender(voices, gender, n), model, nil
		}
	}
	var ids []string
	for _, v := range voices {
		ids = append(ids, v.ID)
	}
	return "", "", &refusal{apierr.CodeBadRequest, "model " + clip(model) + " is not available; use an Aura voice (aura-asteria-en, aura-2-thalia-en, …), " +
		id + " or a voice: " + strings.Join(ids, ", ")}
}

// byGender picks one of the voices of gender for the Aura name n, the
// same one every time (or the default voice when there is none).
func byGender(voices []speech.Voice, gender, n string) string {
	var pool []string
	for _, v := range voices {
		if strings.EqualFold(v.Gender, gender) {
			pool = append(pool, v.ID)
		}
	}
	if len(pool) == 0 {
		return ""
	}
	h := 0
	for _, c := range n {
		h = h*31 + int(c)
	}
	return pool[(h&0x7fffffff)%len(pool)]
}

// clip shortens a caller-supplied value before it is quoted.
func clip(s string) string {
	if len(s) <= 40 {
		return s
	}
	return strings.ToValidUTF8(s[:40], "") + "…"
}
