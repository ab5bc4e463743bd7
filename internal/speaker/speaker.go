// Package speaker owns speaker identification for live captions: the
// gallery of enrolled voiceprints and how an embedding is matched against
// it, enrolment quality checks, and the per-stream Tracker that decides who
// is speaking (threshold, hysteresis, minimum duration) and names unknown
// voices "Speaker 1", "Speaker 2"… by online clustering.
//
// It is pure Go and engine-neutral: embeddings come from a speech.Embedder
// (sherpa-onnx's speaker models), voiceprints from the vault (issue 6). It
// never stores audio; a Tracker holds only the last window of samples and
// the centroids of the voices it has heard in its stream.
package speaker

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Errors.
var (
	ErrDim   = errors.New("speaker: embedding dimension mismatch")
	ErrEmpty = errors.New("speaker: empty embedding")
)

// Voiceprint is one enrolled person's reference embedding.
type Voiceprint struct {
	ID     string // the subject's id (never shown)
	Name   string // shown on captions
	Vector []float32
}

// Gallery is an immutable set of voiceprints with one dimension. Build a
// new one to change it; trackers keep the one they were given.
type Gallery struct {
	dim    int
	prints []Voiceprint // vectors unit length
}

// NewGallery checks and normalises prints. An empty gallery is valid (every
// voice is unknown).
func NewGallery(prints []Voiceprint) (*Gallery, error) {
	g := &Gallery{}
	for _, p := range prints {
		v, err := Normalize(p.Vector)
		if err != nil {
			return nil, fmt.Errorf("speaker: voiceprint %s: %w", p.ID, err)
		}
		if g.dim == 0 {
			g.dim = len(v)
		} else if len(v) != g.dim {
			return nil, fmt.Errorf("%w: voiceprint %s has %d, gallery %d", ErrDim, p.ID, len(v), g.dim)
		}
		p.Vector = v
		g.prints = append(g.prints, p)
	}
	return g, nil
}

// Only is the gallery of g's voiceprints whose name is one of names
// (case-insensitive): identification among the people a caller named.
func (g *Gallery) Only(names []string) *Gallery {
	out := &Gallery{dim: g.dim}
	for _, p := range g.prints {
		for _, n := range names {
			if strings.EqualFold(p.Name, n) {
				out.prints = append(out.prints, p)
				break
			}
		}
	}
	return out
}

// Len is the number of voiceprints.
func (g *Gallery) Len() int {
	if g == nil {
		return 0
	}
	return len(g.prints)
}

// Match returns the voiceprint most similar to v (cosine) and the
// similarity, or ok=false for an empty gallery or a wrong dimension.
func (g *Gallery) Match(v []float32) (best Voiceprint, score float32, ok bool) {
	if g.Len() == 0 || len(v) != g.dim {
		return Voiceprint{}, 0, false
	}
	u, err := Normalize(v)
	if err != nil {
		return Voiceprint{}, 0, false
	}
	score = -2
	for _, p := range g.prints {
		if s := dot(u, p.Vector); s > score {
			best, score = p, s
		}
	}
	return best, score, true
}

// Normalize returns v scaled to unit length (a copy).
func Normalize(v []float32) ([]float32, error) {
	if len(v) == 0 {
		return nil, ErrEmpty
	}
	var n float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, fmt.Errorf("speaker: embedding holds NaN or Inf")
		}
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return nil, fmt.Errorf("speaker: zero embedding")
	}
	inv := float32(1 / math.Sqrt(n))
	out := slices.Clone(v)
	for i := range out {
		out[i] *= inv
	}
	return out, nil
}

// Cosine is the cosine similarity of a and b (0 when either is zero or
// the lengths differ).
func Cosine(a, b []float32) float32 {
	if len(a) != len(b) || len(a) == 0 {
		return 0
	}
	var d, na, nb float64
	for i := range a {
		d += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return float32(d / math.Sqrt(na*nb))
}

// Centroid averages unit-normalised embeddings (an enrolment from several
// windows of speech) and returns the unit-length mean.
func Centroid(vs [][]float32) ([]float32, error) {
	if len(vs) == 0 {
		return nil, ErrEmpty
	}
	var sum []float32
	for _, v := range vs {
		u, err := Normalize(v)
		if err != nil {
			return nil, err
		}
		if sum == nil {
			sum = make([]float32, len(u))
		} else if len(u) != len(sum) {
			return nil, ErrDim
		}
		for i, x := range u {
			sum[i] += x
		}
	}
	return Normalize(sum)
}

func dot(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}
