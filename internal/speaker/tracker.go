package speaker

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Embedder is what a Tracker needs from a speaker model
// (speech.Embedder satisfies it).
type Embedder interface {
	SampleRate() int
	Dim() int
	Embed(ctx context.Context, samples []float32) ([]float32, error)
}

// Config tunes a Tracker. Zero fields take the defaults in brackets.
type Config struct {
	// Threshold is the cosine similarity at which a window is attributed
	// to an enrolled voiceprint [0.6].
	Threshold float32
	// ClusterThreshold is the similarity at which an unknown window joins
	// an existing unknown voice rather than starting a new one [0.75].
	ClusterThreshold float32
	// Window is the audio embedded per decision [2 s]; Hop how often a
	// decision is made [0.5 s].
	Window, Hop time.Duration
	// MinSpeech is the share of a window the caller must have marked as
	// speech for it to be embedded at all [0.5].
	MinSpeech float64
	// MinDuration: a different speaker must win for this long before the
	// label switches (hysteresis in time) [1 s].
	MinDuration time.Duration
	// Margin: a challenger must beat the current speaker's similarity on
	// the same window by this much to count (hysteresis in score) [0.05].
	Margin float32
	// MaxUnknown bounds the unknown voices named in a stream [8]; beyond
	// it, windows join the nearest one.
	MaxUnknown int
	// UnknownPrefix names unknown voices: "<prefix> 1", "<prefix> 2" ["Speaker"].
	UnknownPrefix string
	// History is how much labelled time SpeakerAt can look back [10 min].
	History time.Duration
}

func (c Config) withDefaults() Config {
	def := func(p *float32, v float32) {
		if *p == 0 {
			*p = v
		}
	}
	def(&c.Threshold, 0.6)
	def(&c.ClusterThreshold, 0.75)
	def(&c.Margin, 0.05)
	if c.Window == 0 {
		c.Window = 2 * time.Second
	}
	if c.Hop == 0 {
		c.Hop = 500 * time.Millisecond
	}
	if c.MinSpeech == 0 {
		c.MinSpeech = 0.5
	}
	if c.MinDuration == 0 {
		c.MinDuration = time.Second
	}
	if c.MaxUnknown == 0 {
		c.MaxUnknown = 8
	}
	if c.UnknownPrefix == "" {
		c.UnknownPrefix = "Speaker"
	}
	if c.History == 0 {
		c.History = 10 * time.Minute
	}
	return c
}

// Label names who is speaking. Known labels come from the gallery (ID is
// the voiceprint's); unknown ones from clustering (ID empty).
type Label struct {
	Name       string  `json:"name"`
	Confidence float32 `json:"confidence"`
	Known      bool    `json:"known"`
	ID         string  `json:"-"`
}

// Span is a stretch of stream time with one decided label.
type Span struct {
	Start, End time.Duration
	Label      Label
}

type cluster struct {
	name string
	sum  []float32 // sum of unit vectors
}

// Tracker decides, for one stream, who is speaking. Feed it every sample of
// the stream, in order, with the VAD's verdict; ask SpeakerAt for the label
// of a caption's time span. Not safe for concurrent use.
type Tracker struct {
	emb  Embedder
	g    *Gallery
	cfg  Config
	rate int

	win      []float32 // the last Window of samples (ring, oldest at head)
	isSpeech []bool    // per sample of win
	head     int
	filled   int
	speechN  int
	pos      int // samples accepted since the start
	sinceHop int

	current        Label
	candidate      Label
	candidateSince time.Duration
	candSum        []float32     // sum of the challenger's unit windows so far
	speaking       bool          // the VAD's verdict on the last sample pushed
	onset          time.Duration // when speech last started after a pause
	clusters       []cluster
	spans          []Span
}

// NewTracker makes a tracker over emb and the gallery g (nil: nobody
// enrolled, every voice is unknown).
func NewTracker(emb Embedder, g *Gallery, cfg Config) (*Tracker, error) {
	cfg = cfg.withDefaults()
	if emb == nil || emb.SampleRate() <= 0 {
		return nil, fmt.Errorf("speaker: tracker needs an embedder")
	}
	if g.Len() > 0 && g.dim != emb.Dim() {
		return nil, fmt.Errorf("%w: gallery %d, model %d", ErrDim, g.dim, emb.Dim())
	}
	if cfg.Hop > cfg.Window || cfg.Window > 30*time.Second {
		return nil, fmt.Errorf("speaker: hop %v must not exceed window %v (≤ 30 s)", cfg.Hop, cfg.Window)
	}
	rate := emb.SampleRate()
	n := int(cfg.Window.Seconds() * float64(rate))
	return &Tracker{emb: emb, g: g, cfg: cfg, rate: rate, win: make([]float32, n), isSpeech: make([]bool, n)}, nil
}

// SampleRate is the rate Accept expects.
func (t *Tracker) SampleRate() int { return t.rate }

// Accept pushes samples (mono, SampleRate) that the VAD judged speech or
// not, and makes a decision at every hop.
func (t *Tracker) Accept(ctx context.Context, samples []float32, speech bool) error {
	hop := int(t.cfg.Hop.Seconds() * float64(t.rate))
	if t.speaking && !speech {
		t.pause()
	}
	if !t.speaking && speech {
		t.onset = t.now()
	}
	t.speaking = speech
	for len(samples) > 0 {
		n := min(len(samples), hop-t.sinceHop)
		for _, s := range samples[:n] {
			t.push(s, speech)
		}
		samples = samples[n:]
		t.sinceHop += n
		if t.sinceHop == hop {
			t.sinceHop = 0
			if err := t.decide(ctx); err != nil {
				return err
			}
		}
	}
	t.extend()
	return nil
}

func (t *Tracker) push(s float32, speech bool) {
	i := t.head
	if t.filled < len(t.win) {
		i = (t.head + t.filled) % len(t.win)
		t.filled++
	} else {
		if t.isSpeech[i] {
			t.speechN--
		}
		t.head = (t.head + 1) % len(t.win)
	}
	t.win[i], t.isSpeech[i] = s, speech
	if speech {
		t.speechN++
	}
	t.pos++
}

func (t *Tracker) now() time.Duration {
	return time.Duration(int64(t.pos) * int64(time.Second) / int64(t.rate))
}

// decide embeds the current window if it is full and mostly speech.
func (t *Tracker) decide(ctx context.Context) error {
	if t.filled < len(t.win) || float64(t.speechN) < t.cfg.MinSpeech*float64(len(t.win)) {
		return nil
	}
	// Only the samples the VAD called speech are embedded: silence in the
	// window would pull every voice's embedding toward the same point
	// (measured with the generated model: a window half silence scored
	// nearer other voices than its own speaker's), so a voice trailing
	// into a pause would read as a new voice and take a number.
	window := make([]float32, 0, t.speechN)
	for i := range len(t.win) {
		j := (t.head + i) % len(t.win)
		if t.isSpeech[j] {
			window = append(window, t.win[j])
		}
	}
	v, err := t.emb.Embed(ctx, window)
	if err != nil {
		return fmt.Errorf("speaker: embedding a window: %w", err)
	}
	u, err := Normalize(v)
	if err != nil {
		return err
	}
	start := t.now() - t.cfg.Window
	obs, idx := t.observe(u)

	switch {
	case t.current.Name == "":
		t.commit(idx, u)
		t.switchTo(obs, start)
	case obs.Name == t.current.Name:
		t.commit(idx, u)
		t.current.Confidence = obs.Confidence
		t.candidate, t.candSum = Label{}, t.candSum[:0]
	case t.stillCurrent(obs, idx, u):
		// Not clearly someone else: keep the current speaker.
		t.candidate, t.candSum = Label{}, t.candSum[:0]
	case obs.Name != t.candidate.Name || (idx == len(t.clusters) && Cosine(u, t.candSum) < t.cfg.ClusterThreshold):
		// A new challenger; or a would-be new voice whose windows do not
		// agree with each other, which is a turn change still in the
		// window, not a voice: start again from this window.
		t.candidate, t.candidateSince = obs, start+t.cfg.Window-t.cfg.Hop
		if t.onset >= start {
			// The window began at a pause, so this voice has spoken since
			// the speech after it started.
			t.candidateSince = t.onset
		}
		t.candSum = append(t.candSum[:0], u...)
	default:
		for i, x := range u {
			t.candSum[i] += x
		}
		if t.now()-t.candidateSince >= t.cfg.MinDuration {
			t.commit(idx, t.candSum)
			t.switchTo(obs, t.candidateSince)
		}
	}
	return nil
}

// pause starts the window afresh when the VAD hears speech stop, so no
// window mixes the voice before a pause with the one after it (turns
// change at pauses), and drops a half-made challenger.
func (t *Tracker) pause() {
	t.head, t.filled, t.speechN = 0, 0, 0
	t.candidate, t.candSum = Label{}, t.candSum[:0]
}

// observe labels one window without changing anything: an enrolled voice
// above the threshold (idx -1), else the nearest unknown voice above the
// cluster threshold (its index), else a new unknown voice (idx ==
// len(clusters); it exists once committed, so a voice that never wins a
// switch never takes a name).
func (t *Tracker) observe(u []float32) (Label, int) {
	if p, s, ok := t.g.Match(u); ok && s >= t.cfg.Threshold {
		return Label{Name: p.Name, ID: p.ID, Known: true, Confidence: s}, -1
	}
	best, bestScore := -1, float32(-2)
	for i, c := range t.clusters {
		if s := Cosine(u, c.sum); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 || (bestScore < t.cfg.ClusterThreshold && len(t.clusters) < t.cfg.MaxUnknown) {
		n := len(t.clusters)
		return Label{Name: t.cfg.UnknownPrefix + " " + strconv.Itoa(n+1), Confidence: 1}, n
	}
	return Label{Name: t.clusters[best].name, Confidence: bestScore}, best
}

// commit adds window u (a unit vector, or a sum of them) to unknown voice
// idx (creating it if new).
func (t *Tracker) commit(idx int, u []float32) {
	if idx < 0 {
		return
	}
	if idx == len(t.clusters) {
		t.clusters = append(t.clusters, cluster{name: t.cfg.UnknownPrefix + " " + strconv.Itoa(idx+1), sum: make([]float32, len(u))})
	}
	c := &t.clusters[idx]
	for i, x := range u {
		c.sum[i] += x
	}
}

// stillCurrent reports whether window u, observed as obs, is plausibly
// still the current speaker: close enough to the current reference, or an
// enrolled or known voice that does not beat the current one by Margin.
func (t *Tracker) stillCurrent(obs Label, idx int, u []float32) bool {
	cur := t.scoreOf(t.current, u)
	level := t.cfg.ClusterThreshold
	if t.current.Known {
		level = t.cfg.Threshold
	}
	if cur >= level-t.cfg.Margin {
		return true
	}
	return idx != len(t.clusters) && obs.Confidence-cur < t.cfg.Margin
}

// scoreOf is how similar window u is to label l's reference.
func (t *Tracker) scoreOf(l Label, u []float32) float32 {
	if l.Known {
		for _, p := range t.g.prints {
			if p.ID == l.ID {
				return dot(u, p.Vector)
			}
		}
		return -2
	}
	for _, c := range t.clusters {
		if c.name == l.Name {
			return Cosine(u, c.sum)
		}
	}
	return -2
}

func (t *Tracker) switchTo(l Label, at time.Duration) {
	at = max(at, 0)
	if n := len(t.spans); n > 0 && t.spans[n-1].End > at {
		t.spans[n-1].End = at
	}
	t.current, t.candidate = l, Label{}
	t.spans = append(t.spans, Span{Start: at, End: t.now(), Label: l})
	t.trim()
}

// extend stretches the current span to now.
func (t *Tracker) extend() {
	if n := len(t.spans); n > 0 {
		t.spans[n-1].End = t.now()
		t.spans[n-1].Label.Confidence = t.current.Confidence
	}
}

func (t *Tracker) trim() {
	cut := t.now() - t.cfg.History
	i := 0
	for i < len(t.spans)-1 && t.spans[i].End < cut {
		i++
	}
	t.spans = t.spans[i:]
}

// Current is the speaker decided now (zero Label before the first
// decision).
func (t *Tracker) Current() Label { return t.current }

// SpeakerAt returns the label that covers most of [start, end) (a
// caption's span), or a zero Label when no decision covers it.
func (t *Tracker) SpeakerAt(start, end time.Duration) Label {
	best, bestOverlap := Label{}, time.Duration(0)
	overlap := map[string]time.Duration{}
	for _, s := range t.spans {
		o := min(end, s.End) - max(start, s.Start)
		if o <= 0 {
			continue
		}
		overlap[s.Label.Name] += o
		if overlap[s.Label.Name] > bestOverlap {
			best, bestOverlap = s.Label, overlap[s.Label.Name]
		}
	}
	return best
}

// Spans returns a copy of the decided spans still held.
func (t *Tracker) Spans() []Span { return append([]Span(nil), t.spans...) }
