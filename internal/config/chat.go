package config

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/izwi-speech/izwi/internal/netpolicy"
)

// Chat defaults, documented in izwi.example.toml.
const (
	DefaultChatTimeout          = 120 * time.Second
	DefaultChatMaxRequestBytes  = 1 << 20
	DefaultChatMaxResponseBytes = 8 << 20
	DefaultChatModelsTTL        = 5 * time.Minute
	// maxChatBytes bounds the size limits so a typo cannot ask for a
	// buffer the size of the machine.
	maxChatBytes = 1 << 30
)

// chatUpstreamName is what an upstream may be called: it names the secret
// chat_<name>_api_key (IZWI_CHAT_<NAME>_API_KEY[_FILE]), so it follows the
// secrets package's lower-case snake case.
var chatUpstreamName = regexp.MustCompile(`^[a-z][a-z0-9_]{0,31}$`)

// Chat configures the [chat] section: the OpenAI-compatible upstreams that
// POST /v1/chat/completions and WS /v1/converse forward to. No upstream
// means chat is off (the routes are left out).
type Chat struct {
	// Upstreams are the chat servers (llama.cpp server, Ollama, vLLM,
	// OpenAI). A request's "model" picks the upstream that lists it.
	Upstreams []ChatUpstream `json:"upstreams,omitempty" toml:"upstreams"`
	// Default names the upstream for models no upstream lists
	// (IZWI_CHAT_DEFAULT). Empty: such requests are refused with 404.
	Default string `json:"default,omitempty" toml:"default"`
	// Timeout bounds a whole upstream call, streaming included
	// (IZWI_CHAT_TIMEOUT). Default 2m.
	Timeout Duration `json:"timeout,omitempty" toml:"timeout"`
	// MaxRequestBytes bounds a chat request body (413 beyond it;
	// IZWI_CHAT_MAX_REQUEST_BYTES). Default 1 MiB.
	MaxRequestBytes int64 `json:"max_request_bytes,omitempty" toml:"max_request_bytes"`
	// MaxResponseBytes bounds what one upstream answer may send back; a
	// longer one is cut off (IZWI_CHAT_MAX_RESPONSE_BYTES). Default 8 MiB.
	MaxResponseBytes int64 `json:"max_response_bytes,omitempty" toml:"max_response_bytes"`
	// ModelsTTL is how long a model list discovered from an upstream's
	// GET /models is reused (IZWI_CHAT_MODELS_TTL). Default 5m.
	ModelsTTL Duration `json:"models_ttl,omitempty" toml:"models_ttl"`
}

// ChatUpstream is one OpenAI-compatible server.
type ChatUpstream struct {
	// Name identifies the upstream in logs and metrics: lower-case letters,
	// digits and _ ("local", "openai").
	Name string `json:"name" toml:"name"`
	// BaseURL is the API root, e.g. http://127.0.0.1:8080/v1 or
	// https://api.openai.com/v1; /chat/completions and /models are
	// appended. https is required unless the host is loopback or
	// AllowInsecure is set.
	BaseURL string `json:"base_url" toml:"base_url"`
	// APIKeyFile is a file (0600) holding the upstream's bearer key.
	// Empty: the secret chat_<name>_api_key (IZWI_CHAT_<NAME>_API_KEY,
	// IZWI_CHAT_<NAME>_API_KEY_FILE or a systemd credential), or no key.
	APIKeyFile string `json:"api_key_file,omitempty" toml:"api_key_file"`
	// Models this upstream serves. Empty: discovered from GET /models.
	Models []string `json:"models,omitempty" toml:"models"`
	// AllowInsecure permits plain http to a non-loopback host (a private
	// network you trust); prompts and the key then travel in clear.
	AllowInsecure bool `json:"allow_insecure,omitempty" toml:"allow_insecure"`
}

// SecretName is the secrets-package name of the upstream's API key.
func (u ChatUpstream) SecretName() string { return "chat_" + u.Name + "_api_key" }

// defaults fills empty fields with their defaults.
func (x Chat) defaults(Config) Chat {
	if x.Timeout == 0 {
		x.Timeout = Duration(DefaultChatTimeout)
	}
	if x.MaxRequestBytes == 0 {
		x.MaxRequestBytes = DefaultChatMaxRequestBytes
	}
	if x.MaxResponseBytes == 0 {
		x.MaxResponseBytes = DefaultChatMaxResponseBytes
	}
	if x.ModelsTTL == 0 {
		x.ModelsTTL = Duration(DefaultChatModelsTTL)
	}
	if len(x.Upstreams) == 0 {
		x.Upstreams = nil
	} else {
		x.Upstreams = slices.Clone(x.Upstreams)
		for i := range x.Upstreams {
			if len(x.Upstreams[i].Models) == 0 {
				x.Upstreams[i].Models = nil
			}
		}
	}
	return x
}

// validate reports every problem in x (after defaults).
func (x Chat) validate() []error {
	var errs []error
	if d := x.Timeout.Std(); d < time.Second || d > time.Hour {
		errs = append(errs, fmt.Errorf("config: chat.timeout %v: want 1s..1h", d))
	}
	for _, f := range []struct {
		key string
		v   int64
	}{{"max_request_bytes", x.MaxRequestBytes}, {"max_response_bytes", x.MaxResponseBytes}} {
		if f.v < 1024 || f.v > maxChatBytes {
			errs = append(errs, fmt.Errorf("config: chat.%s %d: want 1024..%d", f.key, f.v, maxChatBytes))
		}
	}
	if d := x.ModelsTTL.Std(); d < time.Second || d > 24*time.Hour {
		errs = append(errs, fmt.Errorf("config: chat.models_ttl %v: want 1s..24h", d))
	}
	seen := map[string]bool{}
	owner := map[string]string{} // model → upstream listing it
	for i, u := range x.Upstreams {
		at := fmt.Sprintf("chat.upstreams[%d]", i)
		if !chatUpstreamName.MatchString(u.Name) {
			errs = append(errs, fmt.Errorf("config: %s.name %q: want lower-case letters, digits and _, starting with a letter (at most 32)", at, u.Name))
		} else if seen[u.Name] {
			errs = append(errs, fmt.Errorf("config: %s.name %q is used twice", at, u.Name))
		}
		seen[u.Name] = true
		if err := checkChatURL(u.BaseURL, u.AllowInsecure); err != nil {
			errs = append(errs, fmt.Errorf("config: %s.base_url: %w", at, err))
		}
		for _, m := range u.Models {
			switch {
			case m == "" || len(m) > 256 || strings.ContainsAny(m, "\x00\r\n"):
				errs = append(errs, fmt.Errorf("config: %s.models: %q is not a model name", at, m))
			case owner[m] != "":
				errs = append(errs, fmt.Errorf("config: %s.models: %q is already served by upstream %q", at, m, owner[m]))
			default:
				owner[m] = u.Name
			}
		}
	}
	if x.Default != "" && !seen[x.Default] {
		errs = append(errs, fmt.Errorf("config: chat.default %q names no upstream", x.Default))
	}
	return errs
}

// checkChatURL requires an http(s) URL without credentials, query or
// fragment; plain http only to loopback unless insecure is allowed.
func checkChatURL(raw string, insecure bool) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%q: %w", raw, err)
	}
	if u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: want http(s)://host[:port]/path without credentials, query or fragment (keys go in api_key_file)", raw)
	}
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && (netpolicy.LoopbackHost(u.Hostname()) || insecure):
		return nil
	case u.Scheme == "http":
		return fmt.Errorf("%q: must be https (plain http only to loopback, or set allow_insecure = true for a network you trust)", raw)
	}
	return fmt.Errorf("%q: scheme must be http or https", raw)
}

// applyEnv reads this section's IZWI_* variables. IZWI_CHAT_UPSTREAM_URL
// adds (or, with the name of an existing one, replaces the URL of) one
// upstream, for deployments configured by environment alone.
func (x *Chat) applyEnv(e envReader) {
	e.String("IZWI_CHAT_DEFAULT", &x.Default)
	e.Duration("IZWI_CHAT_TIMEOUT", &x.Timeout)
	e.Duration("IZWI_CHAT_MODELS_TTL", &x.ModelsTTL)
	int64v := func(name string, dst *int64) {
		if v, ok := e.get(name); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				*e.errs = append(*e.errs, fmt.Errorf("config: %s=%q: want an integer", name, v))
				return
			}
			*dst = n
		}
	}
	int64v("IZWI_CHAT_MAX_REQUEST_BYTES", &x.MaxRequestBytes)
	int64v("IZWI_CHAT_MAX_RESPONSE_BYTES", &x.MaxResponseBytes)
	raw, ok := e.get("IZWI_CHAT_UPSTREAM_URL")
	if !ok {
		return
	}
	up := ChatUpstream{Name: "default", BaseURL: raw}
	e.String("IZWI_CHAT_UPSTREAM_NAME", &up.Name)
	e.Bool("IZWI_CHAT_UPSTREAM_ALLOW_INSECURE", &up.AllowInsecure)
	if v, ok := e.get("IZWI_CHAT_UPSTREAM_MODELS"); ok {
		for _, m := range strings.Split(v, ",") {
			if m = strings.TrimSpace(m); m != "" {
				up.Models = append(up.Models, m)
			}
		}
	}
	x.Upstreams = slices.Clone(x.Upstreams)
	for i := range x.Upstreams {
		if x.Upstreams[i].Name == up.Name {
			x.Upstreams[i].BaseURL, x.Upstreams[i].AllowInsecure = up.BaseURL, up.AllowInsecure || x.Upstreams[i].AllowInsecure
			if up.Models != nil {
				x.Upstreams[i].Models = up.Models
			}
			return
		}
	}
	x.Upstreams = append(x.Upstreams, up)
}

// envVars lists the IZWI_* variables applyEnv reads.
func (x Chat) envVars() []string {
	return []string{"IZWI_CHAT_DEFAULT", "IZWI_CHAT_TIMEOUT", "IZWI_CHAT_MODELS_TTL", "IZWI_CHAT_MAX_REQUEST_BYTES",
		"IZWI_CHAT_MAX_RESPONSE_BYTES", "IZWI_CHAT_UPSTREAM_URL", "IZWI_CHAT_UPSTREAM_NAME",
		"IZWI_CHAT_UPSTREAM_ALLOW_INSECURE", "IZWI_CHAT_UPSTREAM_MODELS"}
}
