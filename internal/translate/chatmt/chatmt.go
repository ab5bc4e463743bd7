// Package chatmt owns translation through a chat model: any
// OpenAI-compatible upstream the chat proxy (internal/chat) serves, for any
// pair of languages. It calls the proxy in process, so routing, upstream
// keys, size limits and the chat-token quotas of the payer all apply: the
// payer is the session's owner, which translate.WithPayer puts on the
// context (livetranslate does, from live.Info.Owner). Captions are never
// logged.
package chatmt

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/auth"
	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/translate"
)

// Chat runs one streamed chat completion (*chat.Proxy does, charging who's
// token quotas).
type Chat interface {
	Stream(ctx context.Context, who *auth.Principal, model string, msgs []chat.Message, delta func(string) error) (chat.Usage, error)
}

var _ Chat = (*chat.Proxy)(nil)

// Options configure an Engine.
type Options struct {
	Chat Chat
	// Model is the chat model that translates.
	Model string
	// Principal is whose token quotas translations are charged to when the
	// context names no payer (translate.WithPayer); nil: none.
	Principal *auth.Principal
}

// Engine translates with a chat model. Safe for concurrent use.
type Engine struct {
	chat  Chat
	model string
	who   *auth.Principal
}

var _ translate.Engine = (*Engine)(nil)

// New builds the engine; Chat and Model are required.
func New(opts Options) (*Engine, error) {
	if opts.Chat == nil || opts.Model == "" {
		return nil, errors.New("chatmt: a chat proxy and a model are required")
	}
	return &Engine{chat: opts.Chat, model: opts.Model, who: opts.Principal}, nil
}

// Name is "chat".
func (e *Engine) Name() string { return "chat" }

// Pairs is nil: a chat model translates between any languages.
func (e *Engine) Pairs() []translate.Pair { return nil }

// maxAnswer bounds a translation: a model that runs on is cut off.
const maxAnswer = 4 * translate.MaxTextBytes

// Translate asks the model for the translation alone.
func (e *Engine) Translate(ctx context.Context, p translate.Pair, text string) (string, error) {
	from, to := translate.LangName(p.From), translate.LangName(p.To)
	if from == "" || to == "" {
		return "", fmt.Errorf("%w: %s", translate.ErrUnsupported, p)
	}
	if len(text) > translate.MaxTextBytes {
		return "", translate.ErrTooLong
	}
	msgs := []chat.Message{
		{Role: "system", Content: "You are a live-caption translator. Translate the user's " + from + " caption into " + to +
			". Answer with the translation only: no quotes, notes or explanations. Keep names as they are."},
		{Role: "user", Content: text},
	}
	var b strings.Builder
	who := e.who
	if s := translate.Payer(ctx); s != "" {
		who = &auth.Principal{Subject: s}
	}
	_, err := e.chat.Stream(ctx, who, e.model, msgs, func(d string) error {
		if b.Len()+len(d) > maxAnswer {
			return errTooLong
		}
		b.WriteString(d)
		return nil
	})
	if err != nil && !errors.Is(err, errTooLong) {
		if ctx.Err() != nil {
			return "", fmt.Errorf("chatmt: %w", ctx.Err())
		}
		var ae *apierr.Error
		if errors.As(err, &ae) && (ae.Code == apierr.CodeQuotaExceeded || ae.Code == apierr.CodeRateLimited) {
			return "", fmt.Errorf("%w: chat: %w", translate.ErrOverQuota, err)
		}
		return "", fmt.Errorf("%w: chat: %w", translate.ErrUnavailable, err)
	}
	out := strings.TrimSpace(b.String())
	if out == "" {
		return "", fmt.Errorf("%w: the chat model answered nothing", translate.ErrUnavailable)
	}
	return out, nil
}

var errTooLong = errors.New("chatmt: answer too long")
