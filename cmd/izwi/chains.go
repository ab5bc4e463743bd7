package main

import (
	"log/slog"
	"time"

	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/engines"
	"github.com/izwi-speech/izwi/internal/speech"
	"github.com/izwi-speech/izwi/internal/speech/chain"
)

// chainer joins a role's engines with package chain, tuned by
// [engines.failover].
type chainer struct {
	cfg chain.Config
	log *slog.Logger
}

var _ engines.Chainer = chainer{}

func newChainer(f config.Failover, log *slog.Logger) chainer {
	return chainer{cfg: chain.Config{Stall: time.Duration(f.Stall), ReplayWindow: time.Duration(f.ReplayWindow),
		ProbeMin: time.Duration(f.ProbeMin), ProbeMax: time.Duration(f.ProbeMax), CatchUpMax: time.Duration(f.CatchUpMax)}, log: log}
}

func (c chainer) Recognizers(links []engines.Link[speech.Recognizer]) (speech.Recognizer, error) {
	es := make([]chain.Engine, len(links))
	for i, l := range links {
		es[i] = chain.Engine{Name: l.Name, Rec: l.Engine}
	}
	return chain.New(c.cfg, c.log, es...)
}

func (c chainer) Transcribers(links []engines.Link[speech.Transcriber]) (speech.Transcriber, error) {
	es := make([]chain.FileEngine, len(links))
	for i, l := range links {
		es[i] = chain.FileEngine{Name: l.Name, Tr: l.Engine}
	}
	return chain.NewTranscriber(c.log, es...)
}
