package realtime

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/clientsecret"
)

// This file mints the ephemeral client secrets a browser opens a call
// with (package clientsecret holds them): POST
// /v1/realtime/client_secrets in OpenAI's GA shape, and the beta's POST
// /v1/realtime/sessions. The session configuration is checked here as a
// session.update would be, and applied when the call starts.

// Minter mints client secrets (*clientsecret.Store).
type Minter interface {
	Mint(who auth.Principal, ttl time.Duration, session []byte) (clientsecret.Minted, error)
}

var _ Minter = (*clientsecret.Store)(nil)

// maxMintBody bounds a mint request (instructions are ≤ 8 KiB).
const maxMintBody = 64 << 10

// CallRate is the rate a Realtime call's audio is decoded to (rtc.CallOptions.InputRate).
const CallRate = 24000

// ClientSecrets serves POST /v1/realtime/client_secrets:
// {"expires_after":{"anchor":"created_at","seconds":600},"session":{…}}
// answers {"value":"ek_…","expires_at":…,"session":{…}}.
func (h *Handler) ClientSecrets(m Minter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ExpiresAfter *struct {
				Anchor  string `json:"anchor"`
				Seconds int    `json:"seconds"`
			} `json:"expires_after"`
			Session json.RawMessage `json:"session"`
		}
		if !readMint(w, r, &req) {
			return
		}
		var ttl time.Duration
		if ea := req.ExpiresAfter; ea != nil {
			if ea.Anchor != "" && ea.Anchor != "created_at" {
				apierr.Write(w, r, apierr.CodeBadRequest, `expires_after.anchor must be "created_at"`)
				return
			}
			ttl = time.Duration(ea.Seconds) * time.Second
		}
		view, minted, ok := h.mint(w, r, m, ttl, req.Session)
		if !ok {
			return
		}
		writeJSON(w, struct {
			Value     string       `json:"value"`
			ExpiresAt int64        `json:"expires_at"`
			Session   *sessionView `json:"session"`
		}{minted.Value, minted.ExpiresAt.Unix(), view})
	})
}

// BetaSessions serves the beta's POST /v1/realtime/sessions: the body is
// the session; the answer is the session with its client_secret.
func (h *Handler) BetaSessions(m Minter) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var session json.RawMessage
		if !readMint(w, r, &session) {
			return
		}
		view, minted, ok := h.mint(w, r, m, 0, session)
		if !ok {
			return
		}
		type secret struct {
			Value     string `json:"value"`
			ExpiresAt int64  `json:"expires_at"`
		}
		writeJSON(w, struct {
			*sessionView
			ClientSecret secret `json:"client_secret"`
		}{view, secret{minted.Value, minted.ExpiresAt.Unix()}})
	})
}

// readMint decodes a mint request's JSON body into v.
func readMint(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxMintBody))
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			apierr.Write(w, r, apierr.CodePayloadTooLarge, "the body is at most 64 KiB")
		} else {
			apierr.Write(w, r, apierr.CodeBadRequest, "the body must be a JSON object")
		}
		return false
	}
	return true
}

// mint checks the session configuration for a call of the caller's and
// mints its secret.
func (h *Handler) mint(w http.ResponseWriter, r *http.Request, m Minter, ttl time.Duration, session json.RawMessage) (*sessionView, clientsecret.Minted, bool) {
	who, ok := auth.FromContext(r.Context())
	if !ok || who.Subject == "" {
		apierr.Write(w, r, apierr.CodeUnauthenticated, "")
		return nil, clientsecret.Minted{}, false
	}
	if who.Kind == clientsecret.Kind {
		apierr.Write(w, r, apierr.CodeForbidden, "a client secret cannot mint another")
		return nil, clientsecret.Minted{}, false
	}
	s := h.callSession(&who, CallRate)
	if len(session) > 0 && string(session) != "null" {
		next, werr := s.initial(session)
		if werr != nil {
			apierr.Write(w, r, werr.code, werr.param+": "+werr.message)
			return nil, clientsecret.Minted{}, false
		}
		s.set = next
	} else {
		session = nil
	}
	minted, err := m.Mint(who, ttl, session)
	switch {
	case errors.Is(err, clientsecret.ErrTTL):
		apierr.Write(w, r, apierr.CodeBadRequest, "expires_after.seconds must be 10 to 600")
		return nil, clientsecret.Minted{}, false
	case errors.Is(err, clientsecret.ErrFull):
		apierr.Write(w, r, apierr.CodeRateLimited, "too many client secrets outstanding; retry shortly")
		return nil, clientsecret.Minted{}, false
	case err != nil:
		apierr.Write(w, r, apierr.CodeInternal, "")
		return nil, clientsecret.Minted{}, false
	}
	h.opts.Logger.Info("realtime: client secret minted", "request_id", apierr.RequestID(r.Context()), "ephemeral_id", minted.ID,
		"expires_at", minted.ExpiresAt)
	return s.set.view(""), minted, true
}

// writeJSON answers with a secret (apierr.JSON: never cached).
func writeJSON(w http.ResponseWriter, v any) { apierr.JSON(w, http.StatusOK, v) }
