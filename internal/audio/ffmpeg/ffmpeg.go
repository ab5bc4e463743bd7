// Package ffmpeg owns the one way Izwi runs Debian's ffmpeg: as a sandboxed
// subprocess that demuxes and decodes the containers phones and browsers
// record (Ogg and WebM Opus, MP4/M4A AAC) and encodes the compressed speech
// formats (MP3, Opus, AAC). Only internal/audio imports it.
//
// The sandbox, for every run: no shell and an empty environment; resource
// limits set by util-linux prlimit(1) before ffmpeg starts (CPU seconds,
// address space, RLIMIT_FSIZE 0 so no file can be written, no core dumps,
// few descriptors); its own process group, killed as a whole when ctx ends
// and when Izwi dies (Pdeathsig); only the pipe and file protocols
// (-protocol_whitelist), one named demuxer and a fixed list of decoders
// (-format_whitelist, -codec_whitelist); -nostdin, -threads 1, -max_alloc.
// Audio crosses in pipes or an anonymous memfd, never a file on disk:
// MP4's index (moov) often follows the audio, and reading it needs a
// seekable input, which a pipe is not. See docs/codecs.md.
package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Sentinels, wrapped with %w.
var (
	// ErrMissing means ffmpeg (or prlimit) is not installed.
	ErrMissing = errors.New("ffmpeg is not installed")
	// ErrFailed means ffmpeg refused the input or died (a limit included).
	ErrFailed = errors.New("ffmpeg failed")
	// ErrTooLarge means the output ran past the caller's cap.
	ErrTooLarge = errors.New("output too large")
)

// Limits bound one run; zero fields take the defaults.
type Limits struct {
	// CPU is the process's CPU time (RLIMIT_CPU, whole seconds).
	CPU time.Duration
	// Memory is its address space (RLIMIT_AS) in bytes.
	Memory int64
}

// Defaults of Limits. ffmpeg maps about 200 MB of shared libraries before
// it decodes a byte; 512 MiB leaves room for one stream's buffers.
const (
	DefaultCPU    = 60 * time.Second
	DefaultMemory = 512 << 20
	// maxAlloc caps any single allocation inside ffmpeg (-max_alloc).
	maxAlloc = 64 << 20
	// stderrTail is how much of ffmpeg's complaint is kept for the error.
	stderrTail = 512
)

func (l Limits) withDefaults() Limits {
	if l.CPU <= 0 {
		l.CPU = DefaultCPU
	}
	if l.Memory <= 0 {
		l.Memory = DefaultMemory
	}
	return l
}

// Available reports whether ffmpeg and prlimit are installed.
func Available() error {
	for _, name := range []string{"ffmpeg", "prlimit"} {
		if _, err := exec.LookPath(name); err != nil {
			return fmt.Errorf("ffmpeg: %s not found on PATH: %w", name, ErrMissing)
		}
	}
	return nil
}

// command builds the sandboxed command line: prlimit sets the limits and
// execs ffmpeg in place, so the pid and process group are ffmpeg's own.
func command(ctx context.Context, lim Limits, args ...string) (*exec.Cmd, *tail, error) {
	if err := Available(); err != nil {
		return nil, nil, err
	}
	lim = lim.withDefaults()
	cpu := max(1, int(lim.CPU.Seconds()))
	full := append([]string{
		"--cpu=" + strconv.Itoa(cpu), "--as=" + strconv.FormatInt(lim.Memory, 10),
		"--fsize=0", "--core=0", "--nofile=32", "--",
		"ffmpeg", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error",
		"-max_alloc", strconv.Itoa(maxAlloc),
	}, args...)
	cmd := exec.CommandContext(ctx, "prlimit", full...)
	cmd.Env = []string{}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error {
		if cmd.Process == nil {
			return nil
		}
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 2 * time.Second
	t := &tail{}
	cmd.Stderr = t
	return cmd, t, nil
}

// failed describes a run that did not end well: the context's error when
// it ended, else ffmpeg's last complaint (formats and reasons, never
// samples: it logs at "error" level only).
func failed(ctx context.Context, err error, t *tail) error {
	if ctx.Err() != nil {
		return fmt.Errorf("ffmpeg: %w", ctx.Err())
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			sig := ws.Signal()
			if sig == syscall.SIGXCPU || sig == syscall.SIGKILL {
				return fmt.Errorf("ffmpeg: stopped by signal %v (a CPU or memory limit): %w", sig, ErrFailed)
			}
		}
	}
	msg := t.last()
	if msg == "" {
		msg = err.Error()
	}
	return fmt.Errorf("ffmpeg: %s: %w", msg, ErrFailed)
}

// tail keeps the last bytes ffmpeg wrote to stderr.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > stderrTail {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-stderrTail:]...)
	}
	return len(p), nil
}

// last is the last non-empty line, trimmed and made printable.
func (t *tail) last() string {
	t.mu.Lock()
	s := string(t.buf)
	t.mu.Unlock()
	lines := strings.Split(strings.TrimSpace(s), "\n")
	line := strings.TrimSpace(lines[len(lines)-1])
	line = strings.ToValidUTF8(line, "")
	line = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, line)
	if len(line) > 160 {
		line = strings.ToValidUTF8(line[:160], "") + "…"
	}
	return line
}
