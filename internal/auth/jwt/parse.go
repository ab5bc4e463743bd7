package jwt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/izwi-speech/izwi/internal/strictjson"
)

// MaxTokenBytes bounds a bearer JWT; larger ones are refused before decoding.
const MaxTokenBytes = 16 << 10

// Header is the part of a JOSE header Izwi reads. Members that make a
// verifier fetch or trust keys named by the token itself (jku, x5u, jwk,
// x5c) and any crit extension are refused by parseToken.
type Header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ,omitempty"`
	Kid string `json:"kid,omitempty"`
}

// token is a compact JWS split and decoded, not yet verified.
type token struct {
	header  Header
	payload map[string]any // decoded with UseNumber
	raw     string
}

// LooksLikeJWT reports whether s has the shape of a compact JWS (three
// base64url segments) so that API keys (izk_…) and other bearer tokens are
// left to other authenticators.
func LooksLikeJWT(s string) bool {
	if strings.HasPrefix(s, "izk_") || strings.Count(s, ".") != 2 {
		return false
	}
	parts := strings.Split(s, ".")
	if parts[0] == "" || parts[1] == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// b64 is base64url without padding, refusing non-canonical trailing bits.
func b64(s string) ([]byte, error) { return base64.RawURLEncoding.Strict().DecodeString(s) }

// parseToken decodes a compact JWS and applies the RFC 8725 header checks that
// do not depend on the issuer. It never verifies the signature.
func parseToken(s string) (*token, error) {
	if len(s) > MaxTokenBytes {
		return nil, errors.New("token too large")
	}
	if !LooksLikeJWT(s) {
		return nil, errors.New("not a compact JWS")
	}
	parts := strings.Split(s, ".")
	hb, err := b64(parts[0])
	if err != nil {
		return nil, errors.New("header is not base64url")
	}
	pb, err := b64(parts[1])
	if err != nil {
		return nil, errors.New("payload is not base64url")
	}
	if _, err := b64(parts[2]); err != nil {
		return nil, errors.New("signature is not base64url")
	}
	if err := checkJSONObject(hb); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if err := checkJSONObject(pb); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(hb, &members); err != nil {
		return nil, errors.New("header is not a JSON object")
	}
	for _, m := range []string{"jku", "x5u", "jwk", "x5c", "x5t", "x5t#S256"} {
		if _, ok := members[m]; ok {
			return nil, fmt.Errorf("header member %q is refused (keys come only from configuration)", m)
		}
	}
	if _, ok := members["crit"]; ok {
		return nil, errors.New("header crit names extensions Izwi does not understand")
	}
	if _, ok := members["b64"]; ok {
		return nil, errors.New("header b64 is refused")
	}
	t := &token{raw: s}
	for name, dst := range map[string]*string{"alg": &t.header.Alg, "typ": &t.header.Typ, "kid": &t.header.Kid} {
		v, ok := members[name]
		if !ok {
			continue
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return nil, fmt.Errorf("header %s is not a string", name)
		}
	}
	if !allowedAlg(t.header.Alg) {
		return nil, fmt.Errorf("alg %q is not allowed", clip(t.header.Alg))
	}
	if _, ok := members["kid"]; ok && !validKID(t.header.Kid) {
		return nil, errors.New("kid is malformed")
	}
	d := json.NewDecoder(bytes.NewReader(pb))
	d.UseNumber()
	if err := d.Decode(&t.payload); err != nil || t.payload == nil {
		return nil, errors.New("payload is not a JSON object")
	}
	return t, nil
}

// allowedAlg accepts only the algorithms Izwi verifies, case-sensitively:
// "none", "None" and "NONE" all fail here.
func allowedAlg(a string) bool {
	switch a {
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "HS256", "HS384", "HS512":
		return true
	}
	return false
}

// validKID admits the key ids issuers use (base64, UUIDs, thumbprints) and
// refuses path traversal, quotes, separators and control characters. Keys are
// only ever looked up in memory; this keeps junk out of logs and refetches.
func validKID(k string) bool {
	if k == "" || len(k) > 128 || strings.Contains(k, "..") {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("-_.:+/=~", c) >= 0) {
			return false
		}
	}
	return true
}

// checkJSONObject is strictjson.CheckObject: one object, no duplicate
// members at any depth, bounded nesting.
func checkJSONObject(b []byte) error { return strictjson.CheckObject(b) }

// clip keeps attacker-chosen strings short in errors and logs.
func clip(s string) string {
	const max = 32
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
