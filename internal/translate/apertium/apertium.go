// Package apertium owns the Apertium translation engine: Debian's
// rule-based machine translation (apertium with apertium-eng-spa,
// apertium-eng-cat, apertium-en-gl, ...), offline and with nothing to
// download. Each translation runs apertium as a bounded subprocess: no
// shell, the text on stdin (never in arguments, never logged), resource
// limits set by prlimit, its whole process group killed when ctx ends.
// Each pair keeps one long-lived pipeline of the mode's programs in
// null-flush mode (pipeline.go), lent to one call at a time; when it cannot
// run, a translation runs apertium once (at most MaxProcs at once).
// docs/translation.md has the measurements.
package apertium

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/izwi-speech/izwi/internal/translate"
)

// Options configure an Engine. The zero value uses Debian's paths.
type Options struct {
	// ModesDir holds Apertium's installed modes (default
	// /usr/share/apertium/modes): one NAME.mode per direction.
	ModesDir string
	// Bin is the apertium program (default: looked up on PATH).
	Bin string
	// MaxProcs bounds concurrent translations (default: the CPU count).
	MaxProcs int
	// MaxMemory bounds each process's address space in bytes (default 1 GiB).
	MaxMemory int64
	// MaxCPU bounds each process's CPU time (default 30 s).
	MaxCPU time.Duration
	// OneShot runs one apertium process per translation, as its CLI
	// does, instead of a long-lived null-flush pipeline per pair.
	OneShot bool
}

// DefaultModesDir is where Debian installs Apertium's modes.
const DefaultModesDir = "/usr/share/apertium/modes"

// Engine is the Apertium engine. Safe for concurrent use.
type Engine struct {
	bin     string
	prlimit string
	modes   map[translate.Pair]string
	pairs   []translate.Pair
	sem     chan struct{}
	mem     int64
	cpu     time.Duration
	// Long-lived pipelines, one per pair, each lent to one call at a
	// time (nil when OneShot or the tools are missing).
	stdbuf, wblank, modesDir string
	slots                    map[translate.Pair]chan *slot
}

// slot is a pair's pipeline: its stages once read, and the running
// pipeline (nil until the first call, and after a failure).
type slot struct {
	stages [][]string
	p      *pipeline
	broken bool // the stages could not be read or started: one-shot only
}

var _ translate.Engine = (*Engine)(nil)

// ErrNotInstalled means apertium or its language data is missing.
var ErrNotInstalled = errors.New("apertium: not installed (apt-get install apertium apertium-eng-spa)")

// New finds the installed modes. No apertium, or no mode, is
// ErrNotInstalled.
func New(opts Options) (*Engine, error) {
	if opts.ModesDir == "" {
		opts.ModesDir = DefaultModesDir
	}
	if opts.MaxProcs <= 0 {
		opts.MaxProcs = runtime.NumCPU()
	}
	if opts.MaxMemory <= 0 {
		opts.MaxMemory = 1 << 30
	}
	if opts.MaxCPU <= 0 {
		opts.MaxCPU = 30 * time.Second
	}
	bin := opts.Bin
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("apertium"); err != nil {
			return nil, ErrNotInstalled
		}
	}
	pl, err := exec.LookPath("prlimit")
	if err != nil {
		return nil, fmt.Errorf("apertium: prlimit (util-linux) is needed to bound the subprocess: %w", err)
	}
	modes, err := Modes(opts.ModesDir)
	if err != nil {
		return nil, err
	}
	if len(modes) == 0 {
		return nil, ErrNotInstalled
	}
	e := &Engine{bin: bin, prlimit: pl, modes: modes, sem: make(chan struct{}, opts.MaxProcs), mem: opts.MaxMemory, cpu: opts.MaxCPU,
		modesDir: opts.ModesDir}
	for p := range modes {
		e.pairs = append(e.pairs, p)
	}
	e.stdbuf, _ = exec.LookPath("stdbuf")
	e.wblank, _ = exec.LookPath("apertium-wblank-mode")
	if !opts.OneShot && e.stdbuf != "" && e.wblank != "" {
		e.slots = map[translate.Pair]chan *slot{}
		for p := range modes {
			c := make(chan *slot, 1)
			c <- &slot{}
			e.slots[p] = c
		}
	}
	sort.Slice(e.pairs, func(i, j int) bool { return e.pairs[i].String() < e.pairs[j].String() })
	return e, nil
}

// Modes reads dir's NAME.mode files into the pairs they translate. Only
// plain directions count ("eng-spa", "en-gl"); variants ("eng-cat_valencia")
// are left out. Of two names for one pair, the ISO 639-3 one wins.
func Modes(dir string) (map[translate.Pair]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotInstalled
	} else if err != nil {
		return nil, fmt.Errorf("apertium: modes: %w", err)
	}
	out := map[translate.Pair]string{}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".mode")
		if !ok || strings.ContainsAny(name, "_.") {
			continue
		}
		p, ok := ParseMode(name)
		if !ok {
			continue
		}
		if old, dup := out[p]; dup && len(old) >= len(name) {
			continue
		}
		out[p] = name
	}
	return out, nil
}

// ParseMode reads a mode name ("eng-spa", "en-gl") as a pair.
func ParseMode(name string) (translate.Pair, bool) {
	from, to, ok := strings.Cut(name, "-")
	if !ok || strings.Contains(to, "-") {
		return translate.Pair{}, false
	}
	f, ok1 := translate.NormLang(from)
	t, ok2 := translate.NormLang(to)
	if !ok1 || !ok2 || f == t {
		return translate.Pair{}, false
	}
	return translate.Pair{From: f, To: t}, true
}

// Name is "apertium".
func (e *Engine) Name() string { return "apertium" }

// Pairs lists the installed directions.
func (e *Engine) Pairs() []translate.Pair { return e.pairs }

// maxOutput bounds what one translation may print.
const maxOutput = 64 << 10

// Translate translates one caption through the pair's long-lived
// pipeline, or, when there is none or it fails, by running apertium -u
// MODE once with text on stdin.
func (e *Engine) Translate(ctx context.Context, p translate.Pair, text string) (string, error) {
	mode, ok := e.modes[p]
	if !ok {
		return "", fmt.Errorf("%w: apertium has no %s mode", translate.ErrUnsupported, p)
	}
	if len(text) > translate.MaxTextBytes {
		return "", translate.ErrTooLong
	}
	// One line in, one line out: line breaks would end the caption early.
	line := strings.Join(strings.Fields(text), " ")
	if out, err := e.viaPipeline(ctx, p, mode, line); err == nil || ctx.Err() != nil {
		return out, err
	}
	return e.oneShot(ctx, mode, line)
}

// viaPipeline translates through the pair's pipeline, starting it when
// needed. An error other than ctx's means the caller should run the
// one-shot path.
func (e *Engine) viaPipeline(ctx context.Context, p translate.Pair, mode, line string) (string, error) {
	c := e.slots[p]
	if c == nil {
		return "", errStart
	}
	var sl *slot
	select {
	case sl = <-c:
		defer func() { c <- sl }()
	case <-ctx.Done():
		return "", fmt.Errorf("apertium: waiting for the %s pipeline: %w", mode, ctx.Err())
	}
	if sl.broken {
		return "", errStart
	}
	if sl.p == nil {
		var err error
		if sl.stages == nil {
			if sl.stages, err = stages(ctx, e.wblank, filepath.Join(e.modesDir, mode+".mode")); err != nil {
				sl.broken = true
				return "", err
			}
		}
		if sl.p, err = e.start(sl.stages); err != nil {
			return "", err
		}
	}
	out, err := sl.p.translate(ctx, line)
	if err != nil || sl.p.uses >= maxUses {
		sl.p.kill()
		sl.p = nil
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("apertium: %s: %w", mode, ctx.Err())
		}
		return "", fmt.Errorf("%w: apertium %s pipeline: %v", translate.ErrUnavailable, mode, filepath.Base(err.Error()))
	}
	return answer(mode, out)
}

// Close stops the long-lived pipelines. Translate may still be called:
// it starts them again.
func (e *Engine) Close() {
	for _, c := range e.slots {
		sl := <-c
		if sl.p != nil {
			sl.p.kill()
			sl.p = nil
		}
		c <- sl
	}
}

// answer checks and tidies a translation.
func answer(mode, out string) (string, error) {
	s := strings.Join(strings.Fields(out), " ") // a dropped pronoun leaves two spaces
	if s == "" || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: apertium %s answered nothing usable", translate.ErrUnavailable, mode)
	}
	return s, nil
}

// oneShot runs apertium -u -f txt MODE once, with the line on stdin.
func (e *Engine) oneShot(ctx context.Context, mode, line string) (string, error) {
	select {
	case e.sem <- struct{}{}:
		defer func() { <-e.sem }()
	case <-ctx.Done():
		return "", fmt.Errorf("apertium: waiting for a process: %w", ctx.Err())
	}
	cmd := exec.CommandContext(ctx, e.prlimit, append(e.limits(), "--", e.bin, "-u", "-f", "txt", mode)...)
	cmd.Stdin = strings.NewReader(line + "\n")
	cmd.Env, cmd.Dir = childEnv, "/"
	// apertium is a pipeline of processes: kill the whole group.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: maxOutput}
	cmd.Stderr = io.Discard // apertium's diagnostics may quote the text
	err := cmd.Run()
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("apertium: %s: %w", mode, ctx.Err())
	case err != nil:
		return "", fmt.Errorf("%w: apertium %s: %v", translate.ErrUnavailable, mode, exitClass(err))
	}
	return answer(mode, out.String())
}

// exitClass describes a failed run without its output.
func exitClass(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "exit status " + strconv.Itoa(ee.ExitCode())
	}
	return filepath.Base(err.Error())
}

// limitWriter keeps the first n bytes and discards the rest.
type limitWriter struct {
	w io.Writer
	n int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	if l.n <= 0 {
		return len(p), nil
	}
	k := min(len(p), l.n)
	l.n -= k
	_, err := l.w.Write(p[:k])
	return len(p), err
}
