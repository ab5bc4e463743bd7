package identify

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/izwi-speech/izwi/internal/speech"
)

// EmbedTimeout bounds every Embed (a tracker embeds a window every half
// second, so a lost identifier must not stall a session for long);
// DiscoverTimeout bounds a Discover whose context has no deadline.
const (
	EmbedTimeout    = 2 * time.Second
	DiscoverTimeout = time.Second
)

func withDefaultDeadline(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Remote is a speech.Embedder answered by identifiers over the bus.
type Remote struct {
	nc   *nats.Conn
	info Info
}

var _ speech.Embedder = (*Remote)(nil)

// Discover asks the identifiers what they run, within ctx's deadline (give
// it a short one; none means DiscoverTimeout). It returns ErrUnavailable
// when none answers.
func Discover(ctx context.Context, nc *nats.Conn) (*Remote, error) {
	ctx, cancel := withDefaultDeadline(ctx, DiscoverTimeout)
	defer cancel()
	m, err := nc.RequestWithContext(ctx, SubjectInfo, nil)
	if err != nil {
		return nil, unavailable(err)
	}
	in, err := ParseInfo(m.Data)
	if err != nil {
		return nil, err
	}
	return &Remote{nc: nc, info: in}, nil
}

func unavailable(err error) error {
	if errors.Is(err, nats.ErrNoResponders) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return fmt.Errorf("identify: %w", err)
}

// Model is the catalogue name of the identifiers' speaker model.
func (r *Remote) Model() string { return r.info.Model }

// MaxSamples bounds the audio of one Embed.
func (r *Remote) MaxSamples() int { return r.info.MaxSamples }

func (r *Remote) SampleRate() int { return r.info.SampleRate }
func (r *Remote) Dim() int        { return r.info.Dim }

func (r *Remote) Info() speech.EngineInfo {
	return speech.EngineInfo{Engine: "identifier/" + r.info.Engine, Role: "speaker", Model: r.info.Model}
}

// Close does nothing: the bus connection is the caller's.
func (r *Remote) Close() error { return nil }

// Embed sends samples to an identifier and returns its embedding. Audio
// longer than the identifier accepts is refused here with ErrTooLong; the
// call ends by ctx's deadline or EmbedTimeout, whichever comes first.
func (r *Remote) Embed(ctx context.Context, samples []float32) ([]float32, error) {
	if len(samples) > r.info.MaxSamples {
		return nil, fmt.Errorf("%w: %d samples, at most %d", ErrTooLong, len(samples), r.info.MaxSamples)
	}
	if len(samples) == 0 {
		return nil, errors.New("identify: no audio")
	}
	ctx, cancel := context.WithTimeout(ctx, EmbedTimeout)
	defer cancel()
	req := nats.NewMsg(SubjectEmbed)
	req.Header.Set(hdrModel, r.info.Model)
	req.Data = encode(samples)
	m, err := r.nc.RequestMsgWithContext(ctx, req)
	if err != nil {
		return nil, unavailable(err)
	}
	if code := m.Header.Get(hdrError); code != "" {
		e, ok := errorCodes[code]
		if !ok {
			e = ErrFailed
		}
		return nil, fmt.Errorf("%w (%s)", e, code)
	}
	v, err := decode(m.Data, r.info.Dim)
	if err != nil || len(v) != r.info.Dim {
		return nil, fmt.Errorf("%w: reply of %d bytes, want %d floats", ErrFailed, len(m.Data), r.info.Dim)
	}
	return v, nil
}
