// Package identify owns speaker identification across processes: an
// identifier (izwi serve --role identifier) answers voice-embedding
// requests over the bus with its speaker engine, and Remote is the
// speech.Embedder a worker without a speaker engine of its own uses in its
// place. Only embeddings cross: the gallery of enrolled voiceprints, the
// consent checks and the tracker stay in the worker.
//
// Requests carry raw speech, so the subjects must stay private to the
// cluster: the bus is never exposed beyond the trusted network
// (docs/deploy.md). Nothing here logs audio or embeddings.
package identify

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// Subjects of the identifier service. Identifiers subscribe in one queue
// group, so each request reaches exactly one of them.
const (
	SubjectInfo  = "izwi.identify.info"
	SubjectEmbed = "izwi.identify.embed"
	queueGroup   = "izwi-identify"
)

// Headers of requests and replies.
const (
	hdrModel = "Izwi-Model" // request: the model the caller's gallery was enrolled with
	hdrError = "Izwi-Error" // reply: an error code (errorCodes); body is a short message
)

// Errors a Remote returns; each wraps the matching code an identifier
// replies with.
var (
	// ErrUnavailable: no identifier answered.
	ErrUnavailable = errors.New("identify: no identifier answered")
	// ErrTooLong: the audio exceeds the identifier's limit.
	ErrTooLong = errors.New("identify: audio too long")
	// ErrBusy: the identifier's queue is full.
	ErrBusy = errors.New("identify: identifier busy")
	// ErrModel: the identifier runs another speaker model.
	ErrModel = errors.New("identify: identifier runs another speaker model")
	// ErrFailed: the identifier could not embed the audio.
	ErrFailed = errors.New("identify: embedding failed")
)

// errorCodes map reply codes to errors.
var errorCodes = map[string]error{"too_long": ErrTooLong, "busy": ErrBusy, "model": ErrModel,
	"failed": ErrFailed, "bad_request": ErrFailed, "timeout": ErrFailed}

// Info is what an identifier advertises.
type Info struct {
	Engine     string `json:"engine"`
	Model      string `json:"model"`
	SampleRate int    `json:"sample_rate"`
	Dim        int    `json:"dim"`
	// MaxSamples bounds one request's audio.
	MaxSamples int `json:"max_samples"`
}

// maxDim bounds an advertised embedding size (real models use 192–512).
const maxDim = 8192

// ParseInfo decodes and checks an identifier's advertisement.
func ParseInfo(b []byte) (Info, error) {
	var in Info
	if len(b) > 4096 {
		return in, errors.New("identify: info too long")
	}
	if err := json.Unmarshal(b, &in); err != nil {
		return in, fmt.Errorf("identify: info: %w", err)
	}
	switch {
	case in.Model == "" || len(in.Model) > 200:
		return in, errors.New("identify: info: bad model name")
	case in.SampleRate < 8000 || in.SampleRate > 48000:
		return in, fmt.Errorf("identify: info: sample rate %d out of range", in.SampleRate)
	case in.Dim < 1 || in.Dim > maxDim:
		return in, fmt.Errorf("identify: info: dimension %d out of range", in.Dim)
	case in.MaxSamples < in.SampleRate/2:
		return in, fmt.Errorf("identify: info: max_samples %d below half a second", in.MaxSamples)
	}
	return in, nil
}

// encode packs samples (audio or an embedding) as little-endian float32.
func encode(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// decode unpacks at most max little-endian float32 values; NaN and
// infinities are refused.
func decode(b []byte, max int) ([]float32, error) {
	if len(b)%4 != 0 {
		return nil, errors.New("identify: payload is not whole float32 values")
	}
	if len(b)/4 > max {
		return nil, ErrTooLong
	}
	v := make([]float32, len(b)/4)
	for i := range v {
		x := math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, errors.New("identify: payload holds a non-finite value")
		}
		v[i] = x
	}
	return v, nil
}
