// Package chat owns Izwi's proxy to OpenAI-compatible chat upstreams
// (llama.cpp server, Ollama, vLLM, OpenAI): routing by model, the upstream
// keys, request and response size limits, streaming pass-through, per-key
// chat-token accounting through the limiter, and the mapping of upstream
// failures to catalogued errors. Prompts and completions are never logged.
//
// Wiring (cmd/izwi, slice E1 and the lead):
//
//	px, err := chat.NewProxy(chat.Options{
//		Config:     cfg.Chat,                                // [chat]
//		Secrets:    secrets.Source{LookupEnv: os.LookupEnv}, // upstream keys
//		Limiter:    lim,                                     // *limit.Limiter (nil: no token limits)
//		Logger:     log.With("component", "chat"),
//		Registerer: metrics.Registry(),                      // nil: no metrics
//	})
//	// px == nil, err == nil when [chat] has no upstream: leave the routes out.
//	POST /v1/chat/completions  Scope(chat.read)  px.Handler()
//	GET  /v1/models            merge px.Models(ctx) with the speech models
//
// WS /v1/converse (package converse) takes px as its Chat.
package chat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/limit"
	"github.com/izwi-speech/izwi/internal/secrets"
)

// Charger is what the proxy needs from the limiter (*limit.Limiter):
// Charge reserves a prompt's tokens before the call and records the rest
// once usage is known; Usage tells what is left of a subject's day.
type Charger interface {
	Charge(ctx context.Context, p auth.Principal, tokens int64) error
	Usage(ctx context.Context, p auth.Principal) (limit.Usage, error)
}

var _ Charger = (*limit.Limiter)(nil)

// Options configure a Proxy.
type Options struct {
	// Config is the [chat] section, after Defaults.
	Config config.Chat
	// Secrets resolves each upstream's key (api_key_file, or the secret
	// chat_<name>_api_key). The zero value reads no environment.
	Secrets secrets.Source
	// Limiter charges chat tokens per subject; nil charges nothing.
	Limiter Charger
	// Logger gets IDs, names, statuses, counts and durations only.
	Logger *slog.Logger
	// Registerer, if set, receives the proxy's metrics.
	Registerer prometheus.Registerer
	// Client sends upstream requests; nil builds one that never follows
	// redirects (a redirect would carry the upstream key elsewhere).
	Client *http.Client
	// Now is the clock for the model-list cache; nil uses time.Now.
	Now func() time.Time
}

// Proxy forwards chat completions to the configured upstreams. Safe for
// concurrent use.
type Proxy struct {
	cfg     config.Chat
	log     *slog.Logger
	limiter Charger
	client  *http.Client
	now     func() time.Time
	metrics *metrics

	// chargeWait bounds how long charge waits for a per-second bucket.
	chargeWait time.Duration

	ups      []*upstream
	byModel  map[string]*upstream // models listed in the config
	fallback *upstream            // chat.default
}

// upstream is one configured server.
type upstream struct {
	name       string
	chatURL    string
	modelsURL  string
	key        secrets.Secret
	configured []string // explicit models; nil: discovered

	mu        sync.Mutex // guards the discovery cache; held while fetching
	found     []string
	fetchedAt time.Time
	failedAt  time.Time // the last failed fetch, retried after retryModels
	failure   error
}

// retryModels is how long a failed GET /models is not retried, so an
// upstream that is down does not make every request wait on it.
const retryModels = 10 * time.Second

// NewProxy builds the proxy for opts.Config. With no upstream configured it
// returns nil and no error: chat is off.
func NewProxy(opts Options) (*Proxy, error) {
	if len(opts.Config.Upstreams) == 0 {
		return nil, nil
	}
	if l, ok := opts.Limiter.(*limit.Limiter); ok && l == nil {
		opts.Limiter = nil // a typed nil from a build without limits
	}
	cfg := opts.Config
	if cfg.Timeout <= 0 || cfg.MaxRequestBytes <= 0 || cfg.MaxResponseBytes <= 0 || cfg.ModelsTTL <= 0 {
		return nil, errors.New("chat: options.Config must have its defaults applied")
	}
	p := &Proxy{cfg: cfg, log: opts.Logger, limiter: opts.Limiter, client: opts.Client, now: opts.Now,
		byModel: map[string]*upstream{}, chargeWait: maxChargeWait}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.client == nil {
		p.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	for _, c := range cfg.Upstreams {
		base, err := url.Parse(strings.TrimRight(c.BaseURL, "/"))
		if err != nil || base.Host == "" {
			return nil, fmt.Errorf("chat: upstream %s: base_url %q is not a URL", c.Name, c.BaseURL)
		}
		key, _, err := opts.Secrets.Resolve(c.SecretName(), c.APIKeyFile)
		if err != nil && !errors.Is(err, secrets.ErrNotSet) {
			return nil, fmt.Errorf("chat: upstream %s key: %w", c.Name, err)
		}
		u := &upstream{name: c.Name, chatURL: base.String() + "/chat/completions", modelsURL: base.String() + "/models",
			key: key, configured: slices.Clone(c.Models)}
		p.ups = append(p.ups, u)
		for _, m := range c.Models {
			p.byModel[m] = u
		}
		if c.Name == cfg.Default {
			p.fallback = u
		}
	}
	m, err := newMetrics(opts.Registerer)
	if err != nil {
		return nil, err
	}
	p.metrics = m
	return p, nil
}

// Model is one chat model an upstream serves, as GET /v1/models lists it.
type Model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`   // "model"
	OwnedBy string `json:"owned_by"` // the upstream's name
}

// Models lists every upstream's models: configured lists as they are,
// others from the upstream's GET /models (cached for models_ttl). An
// upstream that cannot be asked is left out and named in the error, which
// callers may log and otherwise ignore: the list returned is still good.
func (p *Proxy) Models(ctx context.Context) ([]Model, error) {
	var out []Model
	var errs []error
	for _, u := range p.ups {
		ms, err := p.modelsOf(ctx, u)
		if err != nil {
			errs = append(errs, fmt.Errorf("chat: upstream %s models: %w", u.name, err))
		}
		for _, m := range ms {
			out = append(out, Model{ID: m, Object: "model", OwnedBy: u.name})
		}
	}
	return out, errors.Join(errs...)
}

// modelsOf returns u's models, fetching them when not configured and the
// cache is stale. A failed refresh keeps serving the last good list.
func (p *Proxy) modelsOf(ctx context.Context, u *upstream) ([]string, error) {
	if u.configured != nil {
		return u.configured, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !u.fetchedAt.IsZero() && p.now().Sub(u.fetchedAt) < p.cfg.ModelsTTL.Std() {
		return u.found, nil
	}
	if !u.failedAt.IsZero() && p.now().Sub(u.failedAt) < retryModels {
		return u.found, u.failure
	}
	ctx, cancel := context.WithTimeout(ctx, min(p.cfg.Timeout.Std(), 10*time.Second))
	defer cancel()
	found, err := p.fetchModels(ctx, u)
	if err != nil {
		u.failedAt, u.failure = p.now(), err
		return u.found, err
	}
	u.found, u.fetchedAt, u.failedAt = found, p.now(), time.Time{}
	return found, nil
}

// route picks the upstream serving model: a configured list, then the
// discovered ones, then chat.default.
func (p *Proxy) route(ctx context.Context, model string) (*upstream, error) {
	if u := p.byModel[model]; u != nil {
		return u, nil
	}
	for _, u := range p.ups {
		if u.configured != nil {
			continue
		}
		if ms, _ := p.modelsOf(ctx, u); slices.Contains(ms, model) {
			return u, nil
		}
	}
	if p.fallback != nil {
		return p.fallback, nil
	}
	return nil, &apierr.Error{Code: apierr.CodeNotFound, Message: "no chat upstream serves this model; GET /v1/models lists them"}
}

// reserve charges, before the call, what the prompt will cost (estimated
// at about four bytes a token, at least one). Charging up front keeps the
// quotas atomic: parallel requests cannot all pass a check and then all
// spend; a per-second bucket in debt or a used-up day refuses here, with
// 429 and Retry-After. charge later adds the rest of the answer's real
// cost. A call that then fails upstream keeps its reservation: the limiter
// has no refunds, and the prompt did cost the caller's budget a request.
func (p *Proxy) reserve(ctx context.Context, who *auth.Principal, promptBytes int) (int64, error) {
	if p.limiter == nil || who == nil || who.Subject == "" {
		return 0, nil
	}
	n := max(estimate(promptBytes, 0).PromptTokens, 1)
	if err := p.limiter.Charge(ctx, *who, n); err != nil {
		return 0, limitError(err)
	}
	return n, nil
}

// maxChargeWait bounds how long charge waits for a per-second bucket.
const maxChargeWait = 5 * time.Second

// charge records the tokens an answer cost. The answer has been delivered,
// so the charge must stick even when the caller has gone (ctx is detached
// from cancellation) and even when it passes a limit: the limiter's Charge
// is all-or-nothing, so a refusal by the per-second bucket is retried once
// the bucket can take it (the wait is at most about a second's worth of
// tokens, and stops if the caller goes: a barge-in must not wait), and a
// refusal by the daily quota charges what is left of the day, so the next
// call is refused by reserve. reserved is what reserve already charged.
func (p *Proxy) charge(ctx context.Context, who *auth.Principal, upstream string, u Usage, reserved int64) {
	p.metrics.tokens(upstream, u)
	if p.limiter == nil || who == nil || who.Subject == "" || u.TotalTokens-reserved <= 0 {
		return
	}
	wait := ctx.Done() // waiting for the bucket stops when the caller goes
	ctx = context.WithoutCancel(ctx)
	n, waited := u.TotalTokens-reserved, time.Duration(0)
	for {
		err := p.limiter.Charge(ctx, *who, n)
		var le *limit.Error
		switch {
		case err == nil:
			return
		case errors.As(err, &le) && le.Limit == "chat_tokens_per_day":
			us, uerr := p.limiter.Usage(ctx, *who)
			if rest := us.Limits.ChatTokensPerDay - us.Used.ChatTokens; uerr == nil && rest > 0 && rest < n {
				n = rest
				continue
			}
		case errors.As(err, &le) && waited+le.RetryAfter <= p.chargeWait:
			waited += le.RetryAfter
			t := time.NewTimer(le.RetryAfter)
			select {
			case <-t.C:
				continue
			case <-wait:
				t.Stop()
			}
		}
		p.log.Warn("chat tokens not charged", "request_id", apierr.RequestID(ctx), "upstream", upstream, "tokens", n, "err", err)
		return
	}
}

// limitError turns a limiter refusal into the catalogued error (429 with
// Retry-After); other errors pass unchanged.
func limitError(err error) error {
	var le *limit.Error
	if errors.As(err, &le) {
		msg := "chat token rate reached; retry after the Retry-After seconds"
		if le.Code == limit.CodeQuotaExceeded {
			msg = "quota " + le.Limit + " exhausted; retry after the Retry-After seconds"
		}
		return &apierr.Error{Code: apierr.Code(le.Code), Message: msg, RetryAfter: max(le.RetryAfter, time.Second)}
	}
	return err
}
