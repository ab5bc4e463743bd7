package chat

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/izwi-speech/izwi/internal/api/apierr"
)

// Usage is what one completion cost, in tokens. Estimated is set when the
// upstream did not report it and Izwi counted (about four bytes a token).
type Usage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
	Estimated        bool  `json:"-"`
}

// estimate guesses usage from byte counts: OpenAI's rule of thumb of about
// four characters of English a token.
func estimate(promptBytes, completionBytes int) Usage {
	u := Usage{PromptTokens: int64(promptBytes+3) / 4, CompletionTokens: int64(completionBytes+3) / 4, Estimated: true}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	return u
}

// send posts body to u's chat endpoint with u's key (never the caller's)
// and maps transport failures and error statuses to catalogued errors. On
// success the caller owns resp.Body.
func (p *Proxy) send(ctx context.Context, u *upstream, body []byte, stream bool) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.chatURL, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("chat: upstream %s: %w", u.name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if stream {
		req.Header.Set("Accept", "text/event-stream")
	}
	req.Header.Set("User-Agent", "izwi")
	if id := apierr.RequestID(ctx); id != "" {
		req.Header.Set("X-Request-Id", id)
	}
	if !u.key.IsZero() {
		req.Header.Set("Authorization", "Bearer "+u.key.Reveal())
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, statusError(resp)
}

// errCanceled means the caller went away; nothing is written back.
var errCanceled = errors.New("chat: caller canceled")

// transportError maps a failed round trip: a deadline is 504
// upstream_timeout, anything else 502 upstream_unavailable.
func transportError(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(ctx.Err(), context.Canceled):
		return errCanceled
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return &apierr.Error{Code: apierr.CodeUpstreamTimeout, Message: "the chat upstream did not answer in time"}
	}
	return &apierr.Error{Code: apierr.CodeUpstreamUnavailable, Message: "the chat upstream could not be reached"}
}

// statusError maps an upstream error status. 4xx answers keep their
// meaning (the request was refused upstream) with a sanitized message;
// the upstream refusing Izwi's own key, and every 5xx, are 502s: neither
// is the caller's fault.
func statusError(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	msg := sanitize(upstreamMessage(b))
	with := func(prefix string) string {
		if msg == "" {
			return prefix
		}
		return prefix + ": " + msg
	}
	switch s := resp.StatusCode; {
	case s == http.StatusUnauthorized || s == http.StatusForbidden:
		return &apierr.Error{Code: apierr.CodeUpstreamError, Message: "the chat upstream refused Izwi's credentials; the operator must check its key"}
	case s == http.StatusNotFound:
		return &apierr.Error{Code: apierr.CodeNotFound, Message: with("the chat upstream has no such model or route")}
	case s == http.StatusRequestEntityTooLarge:
		return &apierr.Error{Code: apierr.CodePayloadTooLarge, Message: with("the chat upstream refused the request size")}
	case s == http.StatusTooManyRequests:
		retry := time.Second
		if v, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && v > 0 && v < 3600 {
			retry = time.Duration(v) * time.Second
		}
		return &apierr.Error{Code: apierr.CodeRateLimited, Message: with("the chat upstream is rate limiting"), RetryAfter: retry}
	case s >= 400 && s < 500:
		return &apierr.Error{Code: apierr.CodeBadRequest, Message: with("the chat upstream refused the request (" + strconv.Itoa(s) + ")")}
	}
	return &apierr.Error{Code: apierr.CodeUpstreamError, Message: "the chat upstream failed (" + strconv.Itoa(resp.StatusCode) + ")"}
}

// upstreamMessage extracts OpenAI's {"error":{"message"}} (or a bare
// {"error":"..."} as llama.cpp and Ollama sometimes send).
func upstreamMessage(b []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(b, &e) != nil || len(e.Error) == 0 {
		return ""
	}
	var s string
	if json.Unmarshal(e.Error, &s) == nil {
		return s
	}
	var obj struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(e.Error, &obj)
	return obj.Message
}

// sanitize makes an upstream's message safe to show: printable, one line,
// at most 200 characters, and without anything that looks like a key.
func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case b.Len() >= 200:
			return strings.TrimSpace(b.String()) + "…"
		case unicode.IsPrint(r):
			b.WriteRune(r)
		case unicode.IsSpace(r):
			b.WriteByte(' ')
		}
	}
	words := strings.Fields(b.String())
	for i, w := range words {
		if looksLikeKey(w) {
			words[i] = "[redacted]"
		}
	}
	return strings.Join(words, " ")
}

// looksLikeKey spots bearer keys an upstream may echo ("Incorrect API key
// provided: sk-abc...").
func looksLikeKey(w string) bool {
	w = strings.Trim(w, ".,;:'\"()")
	for _, p := range []string{"sk-", "izwi_", "Bearer"} {
		if strings.HasPrefix(w, p) && len(w) > len(p)+4 {
			return true
		}
	}
	return false
}

// fetchModels asks u's GET /models.
func (p *Proxy) fetchModels(ctx context.Context, u *upstream) ([]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.modelsURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "izwi")
	if !u.key.IsZero() {
		req.Header.Set("Authorization", "Bearer "+u.key.Reveal())
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, statusError(resp)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 4<<20)).Decode(&list); err != nil {
		return nil, fmt.Errorf("chat: upstream %s: GET /models: %w", u.name, err)
	}
	out := make([]string, 0, len(list.Data))
	for _, m := range list.Data {
		if m.ID != "" && len(m.ID) <= 256 {
			out = append(out, m.ID)
		}
	}
	return out, nil
}
