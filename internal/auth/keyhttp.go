package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/strictjson"
)

// KeyHandlers serve the key-management API (scope admin):
//
//	POST   /v1/keys              create; the key is in the response, once
//	GET    /v1/keys              list (never secrets)
//	DELETE /v1/keys/{id}         revoke
//	POST   /v1/keys/{id}/rotate  new secret in the same lineage; old revoked
//
// They are plain http.Handlers so the admin console can mount them too;
// the caller is whoever auth.FromContext names (the route's guard puts it
// there).
type KeyHandlers struct {
	Keys *KeyStore
	// ClientIP gives the audited remote address (RemoteAddr's host if nil).
	ClientIP func(*http.Request) string
}

// CreateRequest is the body of POST /v1/keys.
type CreateRequest struct {
	Name   string  `json:"name"`
	Scopes []Scope `json:"scopes"`
	// ExpiresIn is a Go duration ("720h"); empty never expires.
	ExpiresIn  string          `json:"expires_in,omitempty"`
	Limits     json.RawMessage `json:"limits,omitempty"`
	AllowCIDRs []string        `json:"allow_cidrs,omitempty"`
	DenyCIDRs  []string        `json:"deny_cidrs,omitempty"`
}

// CreateResponse carries a new key: the only time its secret is shown.
type CreateResponse struct {
	Key     Key    `json:"key"`
	Secret  string `json:"secret"`
	Warning string `json:"warning"`
}

const shownOnce = "store this key now: it is shown once and cannot be recovered"

// maxKeyBody bounds request bodies of the key API.
const maxKeyBody = 64 << 10

// Create handles POST /v1/keys.
func (h KeyHandlers) Create() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req CreateRequest
		if err := strictjson.DecodeBody(w, r, maxKeyBody, &req); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				apierr.Write(w, r, apierr.CodePayloadTooLarge, "")
				return
			}
			apierr.Write(w, r, apierr.CodeBadRequest, "the body must be one JSON key request: "+err.Error())
			return
		}
		spec, err := req.Spec(time.Now())
		if err == nil {
			err = h.Keys.ValidateSpec(spec)
		}
		if err != nil {
			apierr.Write(w, r, apierr.CodeBadRequest, err.Error())
			return
		}
		k, secret, err := h.Keys.Create(r.Context(), h.actor(r), spec)
		if err != nil {
			apierr.WriteErr(w, r, err)
			return
		}
		apierr.JSON(w, http.StatusCreated, CreateResponse{Key: k, Secret: secret, Warning: shownOnce})
	})
}

// Spec converts the request into a KeySpec, with expiry relative to now.
func (req CreateRequest) Spec(now time.Time) (KeySpec, error) {
	spec := KeySpec{Name: req.Name, Scopes: req.Scopes, Limits: req.Limits}
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 {
			return KeySpec{}, errors.New("auth: expires_in must be a positive duration such as 720h")
		}
		spec.Expires = now.Add(d).UTC().Truncate(time.Second)
	}
	var err error
	if spec.Allow, err = ParseCIDRs(req.AllowCIDRs); err != nil {
		return KeySpec{}, err
	}
	if spec.Deny, err = ParseCIDRs(req.DenyCIDRs); err != nil {
		return KeySpec{}, err
	}
	return spec, nil
}

// ParseCIDRs parses CIDRs ("10.0.0.0/8") or single addresses.
func ParseCIDRs(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("auth: %q is not a CIDR or an IP address", clip(s))
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

func clip(s string) string {
	if len(s) > 48 {
		return s[:48] + "…"
	}
	return s
}

// List handles GET /v1/keys.
func (h KeyHandlers) List() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		keys, err := h.Keys.List(r.Context())
		if err != nil {
			apierr.WriteErr(w, r, err)
			return
		}
		apierr.JSON(w, http.StatusOK, map[string][]Key{"keys": keys})
	})
}

// Revoke handles DELETE /v1/keys/{id}.
func (h KeyHandlers) Revoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h.Keys.Revoke(r.Context(), h.actor(r), r.PathValue("id"))
		if errors.Is(err, ErrKeyNotFound) {
			apierr.Write(w, r, apierr.CodeNotFound, "")
			return
		}
		if err != nil {
			apierr.WriteErr(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// Rotate handles POST /v1/keys/{id}/rotate.
func (h KeyHandlers) Rotate() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		k, err := h.Keys.Get(r.Context(), id)
		switch {
		case errors.Is(err, ErrKeyNotFound):
			apierr.Write(w, r, apierr.CodeNotFound, "")
			return
		case err != nil:
			apierr.WriteErr(w, r, err)
			return
		case !k.Revoked.IsZero():
			apierr.Write(w, r, apierr.CodeConflict, "the key is revoked; create a new one")
			return
		}
		nk, secret, err := h.Keys.Rotate(r.Context(), h.actor(r), id)
		if err != nil {
			apierr.WriteErr(w, r, err)
			return
		}
		apierr.JSON(w, http.StatusCreated, CreateResponse{Key: nk, Secret: secret, Warning: shownOnce})
	})
}

func (h KeyHandlers) actor(r *http.Request) Actor {
	a := Actor{ID: "anonymous", RequestID: apierr.RequestID(r.Context())}
	if p, ok := FromContext(r.Context()); ok {
		a.ID = ActorID(p)
	}
	if h.ClientIP != nil {
		a.RemoteIP = h.ClientIP(r)
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		a.RemoteIP = host
	}
	return a
}

// ActorID names p for the audit log ("key:<id>", "jwt:<iss>#<sub>",
// "ticket:<id>", "user:<id>").
func ActorID(p Principal) string {
	switch p.Kind {
	case KindAPIKey:
		return "key:" + p.ID
	case KindJWT:
		return "jwt:" + p.ID
	case KindTicket:
		return "ticket:" + p.ID
	case KindAdmin:
		return "user:" + p.ID
	}
	return "anonymous"
}
