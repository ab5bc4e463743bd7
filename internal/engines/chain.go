package engines

import (
	"context"
	"errors"
	"fmt"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/speech"
)

// Link is one loaded engine of a chain, with the name it goes by.
type Link[T any] struct {
	Name   string
	Engine T
}

// Chainer joins the loaded engines of a role configured as a chain
// ("deepgram,pocketsphinx"), first = primary. The composition root gives
// one over package chain; engines itself knows no failover.
type Chainer interface {
	Recognizers(links []Link[speech.Recognizer]) (speech.Recognizer, error)
	Transcribers(links []Link[speech.Transcriber]) (speech.Transcriber, error)
}

// Server is what a chain reports for /readyz: how many streams each of its
// engines serves now.
type Server interface {
	Serving() map[string]int
}

// errNoChainer is a chain configured where nothing can join one.
var errNoChainer = errors.New("engines: this command cannot run a chain of engines; name one engine")

// specs returns the specs of r's engines: its links, or its own spec.
func specs(r config.NamedRole) []speech.Spec {
	if len(r.Links) > 0 {
		return r.Links
	}
	return []speech.Spec{r.Spec}
}

// loadChain loads every link with newOne, in order, and joins them with
// join; a link that fails closes the ones already loaded.
func loadChain[T interface{ Close() error }](ctx context.Context, r config.NamedRole,
	newOne func(context.Context, speech.Spec) (T, error), join func([]Link[T]) (T, error)) (T, error) {
	var zero T
	var links []Link[T]
	closeAll := func() {
		for _, l := range links {
			_ = l.Engine.Close()
		}
	}
	for _, sp := range specs(r) {
		v, err := newOne(ctx, sp)
		if err != nil {
			closeAll()
			return zero, fmt.Errorf("engines: %s chain, engine %s: %w", r.Name, sp.Engine, err)
		}
		links = append(links, Link[T]{Name: sp.Engine, Engine: v})
	}
	if len(links) == 1 {
		return links[0].Engine, nil
	}
	v, err := join(links)
	if err != nil {
		closeAll()
		return zero, err
	}
	return v, nil
}
