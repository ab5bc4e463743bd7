package chat

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
)

// Message is one turn of a conversation.
type Message struct {
	Role    string `json:"role"` // "system", "user" or "assistant"
	Content string `json:"content"`
}

// Stream runs one streaming chat completion of msgs on model for who, in
// process (the voice conversation endpoint uses it): the same routing,
// budget check, limits and token charging as the HTTP route. delta gets
// each piece of the answer as it arrives; its error stops the stream and is
// returned. Cancelling ctx cancels the upstream request at once. Failures
// are *apierr.Error values (upstream_unavailable, upstream_timeout,
// rate_limited, ...), which callers may show.
func (p *Proxy) Stream(ctx context.Context, who *auth.Principal, model string, msgs []Message, delta func(string) error) (Usage, error) {
	o := outcome{upstream: "-", model: model, stream: true, start: time.Now()}
	defer func() { p.finish(ctx, o) }()
	body, err := json.Marshal(map[string]any{"model": model, "messages": msgs, "stream": true,
		"stream_options": map[string]bool{"include_usage": true}})
	if err != nil {
		return Usage{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout.Std())
	defer cancel()
	u, err := p.route(ctx, model)
	if err != nil {
		o.status = statusOf(err)
		return Usage{}, err
	}
	o.upstream = u.name
	text := 0
	for _, m := range msgs {
		text += len(m.Content)
	}
	reserved, err := p.reserve(ctx, who, text)
	if err != nil {
		o.status = statusOf(err)
		return Usage{}, err
	}
	resp, err := p.send(ctx, u, body, true)
	o.first = time.Since(o.start)
	if err != nil {
		o.status = statusOf(err)
		return Usage{}, err
	}
	defer resp.Body.Close()
	var reported *Usage
	completion := 0
	err = readEvents(resp.Body, p.cfg.MaxResponseBytes, func(ev event) error {
		if ev.done() {
			return errDone
		}
		c, ok := parseChunk(ev.data)
		if !ok {
			return nil
		}
		if len(c.Error) > 0 {
			return &apierr.Error{Code: apierr.CodeUpstreamError, Message: "the chat upstream reported an error mid-stream"}
		}
		if c.Usage != nil && c.Usage.TotalTokens > 0 {
			reported = c.Usage
		}
		if t := c.text(); t != "" {
			completion += len(t)
			return delta(t)
		}
		return nil
	})
	o.usage = estimate(text, completion)
	if reported != nil {
		o.usage = *reported
	}
	p.charge(ctx, who, u.name, o.usage, reserved)
	switch {
	case err == nil || errors.Is(err, errDone):
		o.status = 200
		return o.usage, nil
	case ctx.Err() != nil:
		o.status = 499
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			o.status = 504
		}
		return o.usage, transportError(ctx, ctx.Err())
	case errors.Is(err, errTooLarge):
		o.status = 502
		return o.usage, &apierr.Error{Code: apierr.CodeUpstreamError, Message: "the chat upstream's answer is larger than this server passes on"}
	}
	o.status = statusOf(err)
	return o.usage, err
}

// errDone ends reading at the [DONE] marker.
var errDone = errors.New("chat: stream done")

// statusOf is the HTTP status an error would be answered with.
func statusOf(err error) int {
	var ae *apierr.Error
	if errors.As(err, &ae) {
		return apierr.Lookup(ae.Code).Status
	}
	if errors.Is(err, errCanceled) {
		return 499
	}
	return 500
}
