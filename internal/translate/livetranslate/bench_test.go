package livetranslate

import (
	"context"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/chat"
	"github.com/izwi-speech/izwi/internal/chat/chattest"
	"github.com/izwi-speech/izwi/internal/config"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/live/livehttp"
	"github.com/izwi-speech/izwi/internal/store"
	"github.com/izwi-speech/izwi/internal/testdata"
	"github.com/izwi-speech/izwi/internal/testenv"
	"github.com/izwi-speech/izwi/internal/translate"
	"github.com/izwi-speech/izwi/internal/translate/apertium"
	"github.com/izwi-speech/izwi/internal/translate/chatmt"
)

var _ livehttp.Translations = (*Service)(nil)

// chanFeed is a source feed the benchmark publishes to.
type chanFeed struct {
	ch   chan live.Event
	once sync.Once
}

func (f *chanFeed) Events() <-chan live.Event { return f.ch }
func (f *chanFeed) Err() error                { return nil }
func (f *chanFeed) Close()                    { f.once.Do(func() { close(f.ch) }) }

// sentences are the shared recordings' reference transcripts, as captions.
func sentences(b *testing.B) []string {
	var out []string
	for _, u := range testdata.Utterances(b) {
		out = append(out, strings.ToLower(u.Reference))
	}
	return out
}

func engines(b *testing.B) map[string]translate.Engine {
	testenv.LookPath(b, "apertium", "apt-get install apertium apertium-eng-spa")
	ap, err := apertium.New(apertium.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(ap.Close)
	once, err := apertium.New(apertium.Options{OneShot: true}) // apertium's CLI per caption, side by side
	if err != nil {
		b.Fatal(err)
	}
	up := chattest.New(chattest.Options{Reply: func(r chattest.Request) string { return "Traducción: " + r.Messages[1].Content }})
	b.Cleanup(up.Close)
	c, err := config.Parse([]byte("[chat]\n[[chat.upstreams]]\nname = \"local\"\nbase_url = \"" + up.BaseURL() + "\"\nmodels = [\"m\"]\n"))
	if err != nil {
		b.Fatal(err)
	}
	c = c.Defaults()
	px, err := chat.NewProxy(chat.Options{Config: c.Chat})
	if err != nil {
		b.Fatal(err)
	}
	cm, err := chatmt.New(chatmt.Options{Chat: px, Model: "m"})
	if err != nil {
		b.Fatal(err)
	}
	return map[string]translate.Engine{"apertium": ap, "apertium-cli": once, "upstream-double": cm}
}

// BenchmarkFinalToTranslated measures what translation adds between a
// final caption leaving the session's publisher and its translation
// reaching a viewer's feed (the cache off: every caption is new), p50 and
// p95, per engine. End of speech → translated final on a viewer socket is
// the live BenchmarkLatency's end→final plus this.
func BenchmarkFinalToTranslated(b *testing.B) {
	texts := sentences(b)
	for name, e := range engines(b) {
		b.Run(name, func(b *testing.B) {
			st, err := store.Open(context.Background(), b.TempDir()+"/izwi.db")
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			svc, _ := translate.NewService(translate.Options{Engines: []translate.Engine{e}, CacheSize: 1})
			lt, err := New(context.Background(), Options{Translator: svc, Store: st})
			if err != nil {
				b.Fatal(err)
			}
			if err := lt.Set(context.Background(), "ses_b", []string{"es"}); err != nil {
				b.Fatal(err)
			}
			src := &chanFeed{ch: make(chan live.Event, 1)}
			f, err := lt.Feed(context.Background(), live.Info{ID: "ses_b"}, "es", src)
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var lat []float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				start := time.Now()
				src.ch <- live.Event{Type: live.TypeCaption, Seq: uint64(i + 1), Final: true, Text: texts[i%len(texts)]}
				ev := <-f.Events()
				lat = append(lat, time.Since(start).Seconds())
				if ev.Lang != "es" {
					b.Fatalf("not translated: %+v", ev)
				}
			}
			sort.Float64s(lat)
			b.ReportMetric(lat[len(lat)/2], "final→translated-p50-s")
			b.ReportMetric(lat[min(len(lat)-1, len(lat)*95/100)], "final→translated-p95-s")
		})
	}
}

// BenchmarkTranslationsPerCore runs GOMAXPROCS translators at once over the
// shared sentences (no cache) and reports translations per second per core.
func BenchmarkTranslationsPerCore(b *testing.B) {
	texts := sentences(b)
	for name, e := range engines(b) {
		b.Run(name, func(b *testing.B) {
			var n atomic.Int64
			start := time.Now()
			b.SetParallelism(1)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if _, err := e.Translate(context.Background(), translate.Pair{From: "en", To: "es"}, texts[int(i)%len(texts)]); err != nil {
						b.Error(err)
						return
					}
				}
			})
			per := float64(n.Load()) / time.Since(start).Seconds() / float64(runtime.GOMAXPROCS(0))
			b.ReportMetric(per, "translations/s/core")
		})
	}
}
