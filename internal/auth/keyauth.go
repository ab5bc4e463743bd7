package auth

import (
	"net/http"
	"net/url"
	"strings"
)

// KeyAuthenticator recognises Izwi API keys in
//
//	Authorization: Bearer izk_…
//	Authorization: Token izk_…            (Deepgram style)
//	Sec-WebSocket-Protocol: token, izk_…   (Deepgram browser clients)
//
// and checks them against the key store on every request.
type KeyAuthenticator struct {
	Keys *KeyStore
}

var _ Authenticator = (*KeyAuthenticator)(nil)

// Authenticate implements Authenticator.
func (a *KeyAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	key, ok := KeyFromRequest(r)
	if !ok {
		return Principal{}, ErrNoCredentials
	}
	k, err := a.Keys.Verify(r.Context(), key)
	if err != nil {
		return Principal{}, err
	}
	return k.Principal(), nil
}

// KeyFromRequest returns the API key a request carries in its
// Authorization or Sec-WebSocket-Protocol header. A bearer value that is
// not an Izwi key (a JWT) is left to other authenticators.
func KeyFromRequest(r *http.Request) (string, bool) {
	if v := r.Header.Get("Authorization"); v != "" {
		scheme, cred, ok := strings.Cut(v, " ")
		if ok && (strings.EqualFold(scheme, "Bearer") || strings.EqualFold(scheme, "Token")) {
			cred = strings.TrimSpace(cred)
			if strings.HasPrefix(cred, KeyPrefix) {
				return cred, true
			}
		}
	}
	if p, ok := WebSocketProtocolCredential(r); ok && strings.HasPrefix(p, KeyPrefix) {
		return p, true
	}
	return "", false
}

// WebSocketProtocolCredential returns the credential of a
// "Sec-WebSocket-Protocol: token, <credential>" header, the way Deepgram's
// browser SDK authenticates (browsers cannot set Authorization on a
// WebSocket).
func WebSocketProtocolCredential(r *http.Request) (string, bool) {
	var protos []string
	for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, p := range strings.Split(h, ",") {
			protos = append(protos, strings.TrimSpace(p))
		}
	}
	for i := 0; i+1 < len(protos); i++ {
		if strings.EqualFold(protos[i], "token") && protos[i+1] != "" {
			return protos[i+1], true
		}
	}
	return "", false
}

// Redact removes credentials from r's headers once they have been checked,
// so no handler, log or error downstream can see them: Authorization is
// dropped and Sec-WebSocket-Protocol keeps only the "token" marker that the
// WebSocket handshake must echo back.
func Redact(r *http.Request) {
	r.Header.Del("Authorization")
	if _, ok := WebSocketProtocolCredential(r); ok {
		var keep []string
		for _, h := range r.Header.Values("Sec-WebSocket-Protocol") {
			for _, p := range strings.Split(h, ",") {
				p = strings.TrimSpace(p)
				if p == "" || strings.HasPrefix(p, KeyPrefix) || looksLikeToken(p) {
					continue
				}
				keep = append(keep, p)
			}
		}
		r.Header.Del("Sec-WebSocket-Protocol")
		if len(keep) > 0 {
			r.Header.Set("Sec-WebSocket-Protocol", strings.Join(keep, ", "))
		}
	}
}

// looksLikeToken reports whether a subprotocol value is a credential rather
// than a protocol name: protocol names are short words.
func looksLikeToken(p string) bool { return len(p) > 32 || strings.Count(p, ".") == 2 }

// credentialParams are query parameters that only ever carry credentials.
func credentialParam(name string) bool {
	switch strings.ToLower(name) {
	case "key", "api_key", "apikey", "api-key", "token", "access_token", "auth", "authorization", "password", "secret":
		return true
	}
	return false
}

// CredentialsInURL reports whether rawQuery carries something that looks
// like a credential: a parameter named like one, or any value that is an
// Izwi key. Such requests are refused, whatever the route.
func CredentialsInURL(rawQuery string) bool {
	if rawQuery == "" {
		return false
	}
	if strings.Contains(rawQuery, KeyPrefix) {
		return true
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		// Unparseable: look at raw names, case-insensitively.
		for _, part := range strings.Split(rawQuery, "&") {
			name, _, _ := strings.Cut(part, "=")
			if credentialParam(name) {
				return true
			}
		}
		return false
	}
	for name, vals := range q {
		if credentialParam(name) {
			return true
		}
		for _, v := range vals {
			if strings.HasPrefix(v, KeyPrefix) {
				return true
			}
		}
	}
	return false
}
