package auth

import (
	"net/http"
	"strings"

	"github.com/izwi-speech/izwi/internal/secrets"
)

// KindScrape is a metrics scraper holding the configured scrape token. It
// has no scopes and is accepted only on the metrics route, so handing
// Prometheus a token does not hand it an API key.
const KindScrape Kind = "scrape_token"

// ScrapeAuthenticator recognises "Authorization: Bearer <scrape token>".
type ScrapeAuthenticator struct {
	Token secrets.Secret
}

var _ Authenticator = (*ScrapeAuthenticator)(nil)

// Authenticate implements Authenticator. Any bearer value that is not the
// token is left to the other authenticators (it may be a JWT); the
// comparison is constant-time (secrets.Secret.Equal).
func (a *ScrapeAuthenticator) Authenticate(r *http.Request) (Principal, error) {
	if a.Token.IsZero() {
		return Principal{}, ErrNoCredentials
	}
	scheme, cred, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || !a.Token.Equal(strings.TrimSpace(cred)) {
		return Principal{}, ErrNoCredentials
	}
	return Principal{Kind: KindScrape, ID: "metrics-scraper", Subject: "scrape:metrics"}, nil
}
