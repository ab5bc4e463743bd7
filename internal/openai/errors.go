package openai

import (
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"
	"strconv"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/speech"
)

// accepted names the input formats in refusals.
const accepted = "send WAV, FLAC or MP3 (Ogg/Opus, WebM and MP4 are not decoded)"

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

// claimedContainer maps a file part's Content-Type to the container it
// promises: "wav", "flac", "mp3", "other" for audio containers Izwi does
// not decode, "" for types that promise nothing in particular
// (application/octet-stream, audio/*, none).
func claimedContainer(ctype string) string {
	mt, _, err := mime.ParseMediaType(ctype)
	if err != nil {
		return ""
	}
	switch mt {
	case "audio/wav", "audio/wave", "audio/x-wav", "audio/vnd.wave":
		return "wav"
	case "audio/flac", "audio/x-flac":
		return "flac"
	case "audio/mpeg", "audio/mp3", "audio/mpeg3", "audio/x-mp3", "audio/x-mpeg", "audio/mpga":
		return "mp3"
	case "audio/ogg", "audio/opus", "audio/webm", "video/webm", "audio/mp4", "audio/m4a", "audio/x-m4a",
		"video/mp4", "audio/aac":
		return "other"
	}
	return ""
}

// checkClaim refuses a file whose bytes contradict the container its part
// claimed (415), so a mislabelled upload is named rather than guessed at.
// An ID3 tag may front MP3 or FLAC, so a tagged file matches either.
func checkClaim(file []byte, ctype string) *reqError {
	claimed := claimedContainer(ctype)
	if claimed == "" {
		return nil
	}
	if claimed == "other" {
		return &reqError{apierr.CodeUnsupportedMediaType, "files of type " + clip(ctype) + " are not decoded; " + accepted}
	}
	got := audio.Sniff(file[:min(len(file), 16)])
	if got == "" || got == claimed || (got == "mp3" && claimed == "flac" && bytes.HasPrefix(file, []byte("ID3"))) {
		return nil // unrecognised bytes get the decoder's own answer
	}
	return &reqError{apierr.CodeUnsupportedMediaType, "the file is " + got + " but its Content-Type says " + clip(ctype)}
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
