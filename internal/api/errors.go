package api

import (
	"net/http"

	"github.com/izwi-speech/izwi/internal/api/apierr"
)

// Code is a stable, documented error code clients can switch on. The
// catalogue itself lives in apierr so that packages the gateway wires in
// (auth, limit, admin) answer in the same shape.
type Code = apierr.Code

// The error catalogue (see apierr for statuses and messages).
const (
	CodeBadRequest           = apierr.CodeBadRequest
	CodeUnauthenticated      = apierr.CodeUnauthenticated
	CodeCredentialsInURL     = apierr.CodeCredentialsInURL
	CodeForbidden            = apierr.CodeForbidden
	CodeIPDenied             = apierr.CodeIPDenied
	CodeNotFound             = apierr.CodeNotFound
	CodeMethodNotAllowed     = apierr.CodeMethodNotAllowed
	CodeConflict             = apierr.CodeConflict
	CodePayloadTooLarge      = apierr.CodePayloadTooLarge
	CodeUnsupportedMediaType = apierr.CodeUnsupportedMediaType
	CodeRateLimited          = apierr.CodeRateLimited
	CodeQuotaExceeded        = apierr.CodeQuotaExceeded
	CodeNotReady             = apierr.CodeNotReady
	CodeInternal             = apierr.CodeInternal
)

// Codes lists every catalogued code (for tests and docs).
func Codes() []Code { return apierr.Codes() }

// ErrorBody is the one JSON shape of every error response.
type ErrorBody = apierr.Body

// ErrorDetail is the inside of ErrorBody.
type ErrorDetail = apierr.Detail

func catalogue(c Code) apierr.Entry { return apierr.Lookup(c) }

func writeError(w http.ResponseWriter, r *http.Request, code Code, msg string) {
	apierr.Write(w, r, code, msg)
}

func writeJSON(w http.ResponseWriter, status int, v any) { apierr.JSON(w, status, v) }
