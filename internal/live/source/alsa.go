package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// ALSA captures from an ALSA device with Debian's arecord (alsa-utils) as
// a child process, killed when the context ends. When arecord dies (the
// device unplugged, busy, a driver hiccup) it is restarted with backoff,
// and the session hears "reconnect" once audio flows again.
type ALSA struct {
	Device string
	// Command is the capture program; "" means arecord.
	Command string
	// Env is added to the child's environment (ALSA_CONFIG_PATH for a
	// test device).
	Env []string
	// MinBackoff and MaxBackoff bound the wait before a restart; 0 means
	// 250 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
}

func (a *ALSA) String() string { return "alsa:" + a.Device }

// errIngest marks a failed Write: the session refuses audio, so capture
// stops instead of restarting.
var errIngest = errors.New("source: session refused audio")

func (a *ALSA) run(ctx context.Context, ing live.Ingest) error {
	log := a.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	lo, hi := a.MinBackoff, a.MaxBackoff
	if lo <= 0 {
		lo = 250 * time.Millisecond
	}
	if hi < lo {
		hi = max(10*time.Second, lo)
	}
	backoff := lo
	for restart := false; ; restart = true {
		began := time.Now()
		err := a.capture(ctx, ing, restart)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errIngest) {
			return err
		}
		if time.Since(began) > 30*time.Second {
			backoff = lo // it ran a good while: start over
		}
		log.Warn("live: capture ended; restarting", "source", a.String(), "err", err, "backoff", backoff)
		if sleep(ctx, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, hi)
	}
}

// capture runs arecord once and pumps its output until it ends.
func (a *ALSA) capture(ctx context.Context, ing live.Ingest, restart bool) error {
	rate := ing.SampleRate()
	name := a.Command
	if name == "" {
		name = "arecord"
	}
	cmd := exec.CommandContext(ctx, name, "-q", "-D", a.Device, "-t", "raw", "-f", "S16_LE", "-c", "1", "-r", strconv.Itoa(rate))
	cmd.Env = append(os.Environ(), a.Env...)
	cmd.WaitDelay = 2 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &limited{w: &stderr, n: 512}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("source: starting %s: %w", name, err)
	}
	// 100 ms per read keeps latency low without a write per frame.
	buf := make([]byte, rate/10*2)
	samples := make([]float32, 0, rate/10)
	var carry []byte
	var werr error
	for {
		n, rerr := out.Read(buf)
		if n > 0 {
			if restart {
				restart = false
				reportReconnect(ing)
			}
			data := append(carry, buf[:n]...)
			even := len(data) &^ 1
			samples = samples[:0]
			for i := 0; i < even; i += 2 {
				samples = append(samples, float32(int16(binary.LittleEndian.Uint16(data[i:])))/32768)
			}
			carry = append(carry[:0], data[even:]...)
			if err := ing.Write(samples); err != nil {
				werr = fmt.Errorf("%w: %w", errIngest, err)
				_ = cmd.Process.Kill()
				break
			}
		}
		if rerr != nil {
			break
		}
	}
	_, _ = io.Copy(io.Discard, out)
	err = cmd.Wait()
	if werr != nil {
		return werr
	}
	msg := bytes.TrimSpace(stderr.Bytes())
	return fmt.Errorf("source: %s exited: %v: %s", name, err, msg)
}

// limited keeps the first n bytes written (the child's error message).
type limited struct {
	w *bytes.Buffer
	n int
}

func (l *limited) Write(p []byte) (int, error) {
	if room := l.n - l.w.Len(); room > 0 {
		l.w.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}
