package chat

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
)

// Handler serves POST /v1/chat/completions. The route table puts it behind
// authentication and the chat.read scope; the handler charges the caller's
// chat tokens itself.
func (p *Proxy) Handler() http.Handler { return http.HandlerFunc(p.serve) }

// outcome is what one proxied call did, for the log line and metrics.
type outcome struct {
	upstream string
	model    string
	stream   bool
	status   int
	usage    Usage
	start    time.Time
	first    time.Duration // to the first byte from the upstream
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	o := outcome{upstream: "-", start: time.Now()}
	defer func() { p.finish(r.Context(), o) }()
	fail := func(err error) {
		if errors.Is(err, errCanceled) {
			o.status = 499 // the caller went away; nothing to write
			return
		}
		var ae *apierr.Error
		if errors.As(err, &ae) {
			o.status = apierr.Lookup(ae.Code).Status
		} else {
			o.status = http.StatusInternalServerError
			p.log.Error("chat proxy failed", "request_id", apierr.RequestID(r.Context()), "err", err)
		}
		apierr.WriteErr(w, r, err)
	}
	var who *auth.Principal
	if pr, ok := auth.FromContext(r.Context()); ok {
		who = &pr
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		fail(&apierr.Error{Code: apierr.CodeUnsupportedMediaType, Message: "send the chat request as Content-Type: application/json"})
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxRequestBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(&apierr.Error{Code: apierr.CodePayloadTooLarge, Message: fmt.Sprintf("the chat request is larger than %d bytes", p.cfg.MaxRequestBytes)})
			return
		}
		fail(errCanceled)
		return
	}
	req, err := parseRequest(raw)
	if err != nil {
		var er errRequest
		if errors.As(err, &er) {
			err = &apierr.Error{Code: apierr.CodeBadRequest, Message: string(er)}
		}
		fail(err)
		return
	}
	o.model, o.stream = req.model, req.stream
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Timeout.Std())
	defer cancel()
	u, err := p.route(ctx, req.model)
	if err != nil {
		fail(err)
		return
	}
	o.upstream = u.name
	reserved, err := p.reserve(ctx, who, req.promptBytes)
	if err != nil {
		fail(err)
		return
	}
	resp, err := p.send(ctx, u, req.body, req.stream)
	o.first = time.Since(o.start)
	if err != nil {
		fail(err)
		return
	}
	defer resp.Body.Close()
	o.status = http.StatusOK
	if req.stream {
		o.usage = p.relayStream(ctx, w, r, resp, req)
	} else if o.usage, err = p.relayJSON(w, resp, req); err != nil {
		fail(err)
		return
	}
	p.charge(r.Context(), who, u.name, o.usage, reserved)
}

// relayJSON passes a whole (non-streamed) answer through and reads its
// usage, estimating when the upstream gave none.
func (p *Proxy) relayJSON(w http.ResponseWriter, resp *http.Response, req request) (Usage, error) {
	b, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxResponseBytes+1))
	if err != nil {
		return Usage{}, transportError(context.Background(), err)
	}
	if int64(len(b)) > p.cfg.MaxResponseBytes {
		return Usage{}, &apierr.Error{Code: apierr.CodeUpstreamError, Message: "the chat upstream's answer is larger than this server passes on"}
	}
	var body struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
		Usage *Usage `json:"usage"`
	}
	if err := json.Unmarshal(b, &body); err != nil {
		return Usage{}, &apierr.Error{Code: apierr.CodeUpstreamError, Message: "the chat upstream answered something that is not a chat completion"}
	}
	usage := Usage{}
	if body.Usage != nil && body.Usage.TotalTokens > 0 {
		usage = *body.Usage
	} else {
		n := 0
		for _, c := range body.Choices {
			n += len(c.Message.Content)
		}
		usage = estimate(req.promptBytes, n)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	// A length lets the caller finish reading before charge returns.
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
	_ = http.NewResponseController(w).Flush() // before charge, which may wait
	return usage, nil
}

// relayStream passes an event stream through event by event, flushing each,
// and returns the usage it reported (or an estimate). The usage-only chunk
// Izwi asked for is dropped unless the caller asked for it too. A failure
// mid-stream (too large, timeout) ends the stream with an OpenAI-style
// error event, since the status line has gone.
func (p *Proxy) relayStream(ctx context.Context, w http.ResponseWriter, r *http.Request, resp *http.Response, req request) Usage {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	var reported *Usage
	completion := 0
	err := readEvents(resp.Body, p.cfg.MaxResponseBytes, func(ev event) error {
		if c, ok := parseChunk(ev.data); ok {
			completion += len(c.text())
			if c.Usage != nil && c.Usage.TotalTokens > 0 {
				reported = c.Usage
			}
			if c.usageOnly() && !req.wantUsage {
				return nil
			}
		}
		if _, err := w.Write(ev.raw); err != nil {
			return errCanceled
		}
		p.metrics.chunk()
		if err := rc.Flush(); err != nil {
			return errCanceled
		}
		if ev.done() {
			return io.EOF
		}
		return nil
	})
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, errCanceled) && r.Context().Err() == nil {
		code, msg := apierr.CodeUpstreamError, "the chat upstream's stream failed"
		switch {
		case errors.Is(err, errTooLarge):
			msg = "the chat upstream's answer is larger than this server passes on"
		case errors.Is(ctx.Err(), context.DeadlineExceeded):
			code, msg = apierr.CodeUpstreamTimeout, "the chat upstream did not finish in time"
		}
		b, _ := json.Marshal(apierr.Body{Error: apierr.Detail{Code: code, Message: msg, RequestID: apierr.RequestID(r.Context())}})
		_, _ = fmt.Fprintf(w, "data: %s\n\n", b)
		_ = rc.Flush()
	}
	if reported != nil {
		return *reported
	}
	return estimate(req.promptBytes, completion)
}

// finish logs one line per call (names, status, counts, durations: never
// content) and updates the metrics.
func (p *Proxy) finish(ctx context.Context, o outcome) {
	d := time.Since(o.start)
	p.metrics.request(o.upstream, o.stream, o.status, d)
	p.log.Info("chat completion", "request_id", apierr.RequestID(ctx), "upstream", o.upstream, "model", o.model,
		"stream", o.stream, "status", o.status, "prompt_tokens", o.usage.PromptTokens,
		"completion_tokens", o.usage.CompletionTokens, "estimated", o.usage.Estimated,
		"upstream_first_byte_ms", o.first.Milliseconds(), "duration_ms", d.Milliseconds())
}
