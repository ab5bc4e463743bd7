package openai

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
)

// accepted names the input formats in refusals.
const accepted = "send WAV, FLAC, MP3, Ogg/Opus, WebM/Opus or M4A/AAC"

// decodeError maps an audio decoding failure to a refusal. The decoder's
// own description (formats, sizes, never samples) is safe to show.
func decodeError(err error) *reqError {
	switch {
	case errors.Is(err, audio.ErrUnsupported):
		return &reqError{apierr.CodeUnsupportedMediaType, "the file's audio format is not supported (" + err.Error() + "); " + accepted}
	case errors.Is(err, audio.ErrTooLarge):
		return bad("the audio is too long or expands too far: %s", err.Error())
	case errors.Is(err, audio.ErrEmpty):
		return bad("the file holds no audio")
	}
	return bad("the file is not audio Izwi can decode (%s); %s", err.Error(), accepted)
}

// checkClaim refuses (415) a file whose bytes contradict the container its
// part claimed; see audio.CheckClaim.
func checkClaim(file []byte, ctype string) *reqError {
	if err := audio.CheckClaim(file[:min(len(file), 16)], ctype); err != nil {
		return &reqError{apierr.CodeUnsupportedMediaType, err.Error()}
	}
	return nil
}

// fail answers err: a refusal with its code, a limit with 429 and
// Retry-After, a caller's speech.ErrBadInput as 400; anything else is an
// internal error, logged by request ID with no payload.
func (h *Handlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	var re *reqError
	var le *limit.Error
	switch {
	case errors.As(err, &re):
		apierr.Write(w, r, re.code, re.msg)
	case errors.As(err, &le):
		w.Header().Set("Retry-After", strconv.FormatInt(le.RetryAfterSeconds(), 10))
		code, msg := apierr.CodeRateLimited, "request rate limit reached; retry after the Retry-After seconds"
		if le.Code == limit.CodeQuotaExceeded {
			code, msg = apierr.CodeQuotaExceeded, "quota "+le.Limit+" exhausted; retry after the Retry-After seconds"
		}
		apierr.Write(w, r, code, msg)
	case errors.Is(err, speech.ErrBadInput):
		apierr.Write(w, r, apierr.CodeBadRequest, err.Error())
	case errors.Is(err, speech.ErrUnsupported):
		// An engine refusing an option it cannot honour (a language its
		// model does not hear): the caller's choice, not a fault.
		apierr.Write(w, r, apierr.CodeUnsupportedOption, err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody is left to answer.
	default:
		h.log.Error("openai request failed", "request_id", apierr.RequestID(r.Context()), "route", r.Pattern, "err", err)
		apierr.Write(w, r, apierr.CodeInternal, "")
	}
}

// principal is the caller, if the gateway authenticated one.
func principal(r *http.Request) (auth.Principal, bool) {
	p, ok := auth.FromContext(r.Context())
	return p, ok && p.Subject != ""
}
