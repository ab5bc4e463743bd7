package main

// The gateway: audit log, keys, JWT, tickets, IP rules and limits, assembled
// by buildGateway for izwi serve (see docs/architecture.md, "The gateway chain").

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/izwi-speech/izwi/internal/admin"
	"github.com/izwi-speech/izwi/internal/api"
	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/audit"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/auth/clientsecret"
	"github.com/izwi-speech/izwi/internal/auth/jwt"
	"github.com/izwi-speech/izwi/internal/auth/ticket"
	"github.com/izwi-speech/izwi/internal/buildinfo"
	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/netpolicy"
	"github.com/izwi-speech/izwi/internal/secrets"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/telemetry"
	"github.com/prometheus/client_golang/prometheus"
)

// gateway is the security layer serve puts in front of the routes.
type gateway struct {
	api     api.Options // the gateway fields only
	audit   *audit.Log
	keys    *auth.KeyStore
	limiter *limit.Limiter
	tracing *telemetry.Tracing
	// registry receives the live, chat and converse metrics; nil when
	// metrics are off.
	registry prometheus.Registerer
	// onRevoke, set by the live wiring, closes the open sockets of a
	// revoked key's subject (tickets are dropped here already).
	onRevoke func(subject string)
	// secrets are the Realtime API's ephemeral client secrets.
	secrets *clientsecret.Store
}

// credentialCheck is what long-lived streams (/v1/listen, /v1/converse)
// ask every few seconds: is the key they were opened with still valid? A
// revoked or expired key ends the stream; other credentials are judged by
// their own expiry, which the streams enforce themselves.
func (g *gateway) credentialCheck() func(ctx context.Context, p auth.Principal) error {
	return func(ctx context.Context, p auth.Principal) error {
		id := p.ID
		if p.Kind != auth.KindAPIKey {
			if id = clientsecret.KeyID(p); id == "" { // a call opened with a key's client secret
				return nil
			}
		}
		k, err := g.keys.Get(ctx, id)
		if err != nil {
			return err
		}
		if !k.Revoked.IsZero() {
			return auth.ErrRevoked
		}
		return nil
	}
}

func (g *gateway) close(ctx context.Context, log *slog.Logger) {
	if g.tracing != nil {
		if err := g.tracing.Shutdown(ctx); err != nil {
			log.Warn("flushing traces", "err", err)
		}
	}
	if g.limiter != nil {
		if err := g.limiter.Close(ctx); err != nil {
			log.Warn("flushing usage", "err", err)
		}
	}
	if g.keys != nil {
		_ = g.keys.Close()
	}
	if err := g.audit.Close(); err != nil {
		log.Warn("closing the audit log", "err", err)
	}
}

// buildGateway opens the audit log and the key store and assembles the
// chain: IP filter → authenticate (key, JWT, scrape token) → scope →
// limits. Every piece that fails to start stops the server: a gateway with
// a hole is worse than none.
func buildGateway(ctx context.Context, cfg config.Config, db *store.Store, broker *bus.Bus, logger *slog.Logger) (*gateway, error) {
	auditLog, err := audit.Open(ctx, db, cfg.Audit, telemetry.Component(logger, "audit"))
	if err != nil {
		return nil, err
	}
	g := &gateway{audit: auditLog, secrets: clientsecret.New(0, nil)}
	fail := func(err error) (*gateway, error) {
		g.close(context.WithoutCancel(ctx), logger)
		return nil, err
	}
	// Clients that keep failing authentication are throttled before the
	// credential checks; every audited auth.failure spends their budget.
	failures := limit.NewFailureLimiter(limit.FailureOptions{PerMinute: cfg.Limits.FailedAuthPerMinute, WriteError: writeCatalogued})
	recorder := failures.Recorder(auditLog)
	tickets, err := ticket.NewIssuer(cfg.JWT.Tickets, nil, telemetry.Component(logger, "ticket"))
	if err != nil {
		return fail(err)
	}
	pepper, err := auth.LoadOrCreatePepper(cfg.Auth.PepperFile)
	if err != nil {
		return fail(err)
	}
	if g.keys, err = auth.NewKeyStore(ctx, db, auth.KeyStoreConfig{Pepper: pepper, Audit: auditLog,
		EpochFile: keyEpochFile(cfg), OnRevoke: func(subject string) {
			tickets.RevokeSubject(subject)
			g.secrets.RevokeSubject(subject)
			if f := g.onRevoke; f != nil {
				f(subject)
			}
		},
		Announce: announceRevocations(broker), CheckLimits: checkKeyLimits}); err != nil {
		return fail(err)
	}
	jwtAuth, err := jwt.New(cfg.JWT, nil, nil, telemetry.Component(logger, "jwt"))
	if err != nil {
		return fail(err)
	}
	// Tickets first: a ticket presented anywhere is consumed and stripped
	// from the URL even when a key rides along, and refused off its route.
	// Client secrets (ek_…) open a Realtime call and nothing else.
	chain := auth.Chain{ticket.NewAuthenticator(tickets), &clientsecret.Authenticator{Store: g.secrets},
		&auth.KeyAuthenticator{Keys: g.keys}, jwtAuth}

	policy, err := netpolicy.New(limit.PolicyConfig(cfg.Limits))
	if err != nil {
		return fail(err)
	}
	policy.SetErrorWriter(writeCatalogued)
	clientIP := func(r *http.Request) string {
		if a, ok := netpolicy.ClientIP(r.Context()); ok {
			return a.String()
		}
		return api.RemoteIP(r)
	}
	g.limiter, err = limit.New(ctx, limit.Options{Defaults: limit.DefaultsFrom(cfg.Limits), Resolve: keyOverrides(g.keys), Store: db,
		LocalRate:     cfg.Limits.LocalRate,
		FlushInterval: cfg.Limits.FlushInterval.Std(), Logger: telemetry.Component(logger, "limit"), WriteError: writeCatalogued})
	if err != nil {
		return fail(err)
	}
	g.api = api.Options{Authenticator: chain, IPFilter: filters{policy, failures}, Limiter: g.limiter, Audit: recorder,
		ClientIP: clientIP, CheckOrigin: tickets.CheckOrigin, Keys: g.keys, Usage: g.limiter.UsageHandler(),
		Tickets: &ticket.Handler{Issuer: tickets, Audit: auditLog, Logger: telemetry.Component(logger, "ticket")}}
	// Reading the audit log is itself audited, as the reader's subject.
	reader := func(r *http.Request) (string, string) {
		p, _ := auth.FromContext(r.Context())
		actor := p.Subject
		if actor == "" {
			actor = string(p.Kind) + ":" + p.ID
		}
		return actor, clientIP(r)
	}
	g.api.AuditExport, g.api.AuditCheckpoint = auditLog.ExportHandler(reader), auditLog.CheckpointHandler(reader)

	if cfg.Telemetry.MetricsEnabled {
		m, err := telemetry.NewMetrics()
		if err != nil {
			return fail(err)
		}
		g.registry = m.Registry()
		tok, _, err := secrets.Source{LookupEnv: os.LookupEnv}.Resolve("metrics_scrape_token", cfg.Telemetry.ScrapeTokenFile)
		if err != nil && !errors.Is(err, secrets.ErrNotSet) {
			return fail(err)
		}
		chain = append(chain, &auth.ScrapeAuthenticator{Token: tok})
		g.api.Authenticator = chain
		g.api.Observe = m.Middleware
		// The gateway has checked access (admin or scrape token) before
		// the handler runs; the handler's own check sees the principal.
		g.api.Metrics = m.Handler(telemetry.MetricsAccess{IsAdmin: func(r *http.Request) bool {
			p, ok := auth.FromContext(r.Context())
			return ok && (p.Has(auth.ScopeAdmin) || p.Kind == auth.KindScrape)
		}})
	}
	tracing, err := telemetry.NewTracing(ctx, telemetry.TraceOptions{Endpoint: cfg.Telemetry.Traces.OTLPEndpoint,
		SampleRatio: cfg.Telemetry.Traces.SampleRatio, Version: buildinfo.Version})
	if err != nil {
		return fail(err)
	}
	g.tracing = tracing
	if metrics := g.api.Observe; metrics != nil {
		g.api.Observe = func(h http.Handler) http.Handler { return metrics(tracing.Middleware(h)) }
	} else {
		g.api.Observe = tracing.Middleware
	}
	if !cfg.Auth.Required() {
		g.api.Anonymous = &auth.Principal{Kind: "anonymous", ID: "anonymous", Subject: "anonymous",
			Scopes: []auth.Scope{auth.ScopeASRRead, auth.ScopeTTSRead, auth.ScopeChatRead, auth.ScopeLiveWrite, auth.ScopeLiveRead}}
	}
	return g, nil
}

// revocationPoll is how often the server looks for keys other processes
// revoked (requests see a revocation at once; this is for what was derived
// from the key, such as tickets).
const revocationPoll = 2 * time.Second

// filters runs the global IP rules, then the failed-authentication
// throttle, in front of the routes.
type filters struct {
	ip       *netpolicy.Policy
	failures *limit.FailureLimiter
}

var _ api.IPFilter = filters{}

func (f filters) Middleware(next http.Handler) http.Handler {
	return f.ip.Middleware(f.failures.Middleware(next))
}

// writeCatalogued adapts the netpolicy/limit error writers to the one
// catalogue (their codes are catalogue codes).
func writeCatalogued(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	c := apierr.Code(code)
	if apierr.Lookup(c).Status != status {
		msg = "" // an unknown code or mismatched status falls back to the catalogue's words
	}
	apierr.Write(w, r, c, msg)
}

// checkKeyLimits validates a key's per-key limits with the limiter's own
// parser when the key is created.
func checkKeyLimits(b []byte) error {
	_, err := limit.ParseLimits(b)
	return err
}

// keyOverrides gives the limiter an API key's own limits and IP rules. It
// resolves by quota subject, not credential id, so a ticket issued to a key
// and the key's rotated successors keep the key's limits.
func keyOverrides(keys *auth.KeyStore) limit.Resolver {
	return func(ctx context.Context, p auth.Principal) (limit.Overrides, error) {
		pol, ok, err := keys.SubjectPolicy(ctx, p.Subject)
		if err != nil || !ok {
			return limit.Overrides{}, err
		}
		return limit.OverridesFrom(pol.Limits, prefixStrings(pol.Allow), prefixStrings(pol.Deny))
	}
}

func prefixStrings[T fmt.Stringer](ps []T) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return out
}

// adminKeyRoutes mounts the key API on the admin console (admin role).
func adminKeyRoutes(keys *auth.KeyStore) []admin.Route {
	kh := auth.KeyHandlers{Keys: keys}
	return []admin.Route{
		{Method: http.MethodPost, Pattern: "/api/keys", Access: admin.AdminOnly, Handler: kh.Create()},
		{Method: http.MethodGet, Pattern: "/api/keys", Access: admin.AdminOnly, Handler: kh.List()},
		{Method: http.MethodDelete, Pattern: "/api/keys/{id}", Access: admin.AdminOnly, Handler: kh.Revoke()},
		{Method: http.MethodPost, Pattern: "/api/keys/{id}/rotate", Access: admin.AdminOnly, Handler: kh.Rotate()},
	}
}
