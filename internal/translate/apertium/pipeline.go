package apertium

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A pipeline is one long-lived chain of a mode's programs in Apertium's
// null-flush mode (-z): a caption goes in ending with NUL and its
// translation comes out ending with NUL, so a caption costs milliseconds
// instead of starting ten processes (~0.5–1 s). The stages are the ones
// Apertium's own apertium-wblank-mode writes for the mode with -z; each
// runs under prlimit and with stdbuf -o0, because lt-proc -b (lttoolbox
// 3.7) does not flush on NUL by itself. All stages share one process
// group, killed as one. Not safe for concurrent use: the Engine hands a
// pair's pipeline to one call at a time.
type pipeline struct {
	pgid  int
	in    io.WriteCloser
	out   *bufio.Reader
	procs []*exec.Cmd
	uses  int
}

// maxUses recycles a pipeline after this many translations, well before
// its stages' CPU limit (the limit counts their whole life).
const maxUses = 500

// stages reads the null-flush pipeline of a mode: apertium-wblank-mode -z
// MODEFILE prints it as a shell pipeline of single-quoted file names,
// which is parsed here, not run by a shell. $1 is the generator's option
// (-n: no marks on unknown words, as apertium -u) and $2 the tagger's
// (none). Anything else a shell would interpret is refused.
func stages(ctx context.Context, wblank, modeFile string) ([][]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, wblank, "-z", modeFile)
	cmd.Env, cmd.Dir = childEnv, "/"
	b, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("apertium: %s: %v", wblank, exitClass(err))
	}
	return ParsePipeline(string(b))
}

// ParsePipeline splits a mode's shell pipeline into its commands: words
// separated by spaces, single-quoted words, | between commands, $1 and $2
// as stages() says. Double quotes, backslashes, redirections, variables
// and command separators are refused.
func ParsePipeline(s string) ([][]string, error) {
	var (
		out    [][]string
		cmd    []string
		word   strings.Builder
		inWord bool
	)
	end := func() {
		if inWord {
			switch w := word.String(); w {
			case "$1":
				cmd = append(cmd, "-n")
			case "$2":
			default:
				cmd = append(cmd, w)
			}
		}
		word.Reset()
		inWord = false
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t', '\n':
			end()
		case '|':
			end()
			if len(cmd) == 0 {
				return nil, errors.New("apertium: empty command in the mode's pipeline")
			}
			out, cmd = append(out, cmd), nil
		case '\'':
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, errors.New("apertium: unterminated quote in the mode's pipeline")
			}
			word.WriteString(s[i+1 : i+1+j])
			inWord, i = true, i+1+j
		case '"', '\\', '<', '>', ';', '&', '`', '(', ')', '*', '?', '~', '#':
			return nil, fmt.Errorf("apertium: %q in the mode's pipeline is not supported", c)
		case '$':
			if i+1 >= len(s) || (s[i+1] != '1' && s[i+1] != '2') || inWord {
				return nil, errors.New("apertium: a variable other than $1 or $2 in the mode's pipeline")
			}
			word.WriteString(s[i : i+2])
			inWord, i = true, i+1
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	end()
	if len(cmd) == 0 {
		return nil, errors.New("apertium: empty command in the mode's pipeline")
	}
	return append(out, cmd), nil
}

// childEnv is the whole environment of Apertium's processes.
var childEnv = []string{"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "PATH=/usr/local/bin:/usr/bin:/bin"}

// start runs the stages, each as prlimit … -- stdbuf -o0 PROG ARGS, wired
// stdout to stdin, in one process group.
func (e *Engine) start(stages [][]string) (*pipeline, error) {
	p := &pipeline{}
	var prev *os.File // the read end feeding the next stage
	fail := func(err error) (*pipeline, error) {
		if prev != nil {
			prev.Close()
		}
		p.kill()
		return nil, fmt.Errorf("%w: apertium pipeline: %v", errStart, err)
	}
	for i, st := range stages {
		args := append(e.limits(), "--", e.stdbuf, "-o0")
		cmd := exec.Command(e.prlimit, append(args, st...)...)
		cmd.Env, cmd.Dir = childEnv, "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: p.pgid, Pdeathsig: syscall.SIGKILL}
		if i == 0 {
			w, err := cmd.StdinPipe()
			if err != nil {
				return fail(err)
			}
			p.in = w
		} else {
			cmd.Stdin = prev
		}
		var next *os.File
		if i == len(stages)-1 {
			r, err := cmd.StdoutPipe()
			if err != nil {
				return fail(err)
			}
			p.out = bufio.NewReader(r)
		} else {
			r, w, err := os.Pipe()
			if err != nil {
				return fail(err)
			}
			cmd.Stdout, next = w, r
			defer w.Close() // the child holds its own copy once started
		}
		if err := cmd.Start(); err != nil {
			if next != nil {
				next.Close()
			}
			return fail(err)
		}
		if i == 0 {
			p.pgid = cmd.Process.Pid
		}
		p.procs = append(p.procs, cmd)
		if prev != nil {
			prev.Close()
		}
		prev = next
	}
	return p, nil
}

// errStart marks a pipeline that could not be started (the one-shot path
// is then used).
var errStart = errors.New("apertium: pipeline did not start")

// limits are prlimit's options for each Apertium process.
func (e *Engine) limits() []string {
	return []string{"--as=" + strconv.FormatInt(e.mem, 10), "--cpu=" + strconv.Itoa(int(e.cpu.Seconds())), "--nofile=256", "--nproc=4096"}
}

// translate sends one caption and reads its translation, within ctx and
// maxOutput. Any error leaves the pipeline in an unknown state: the caller
// kills it.
func (p *pipeline) translate(ctx context.Context, text string) (string, error) {
	p.uses++
	type answer struct {
		s   string
		err error
	}
	done := make(chan answer, 1)
	go func() {
		var b strings.Builder
		for {
			chunk, err := p.out.ReadSlice(0)
			if b.Len()+len(chunk) > maxOutput {
				done <- answer{err: errors.New("answer over the output limit")}
				return
			}
			b.Write(chunk)
			if err == nil {
				done <- answer{s: strings.TrimSuffix(b.String(), "\x00")}
				return
			}
			if !errors.Is(err, bufio.ErrBufferFull) {
				done <- answer{err: err}
				return
			}
		}
	}()
	if _, err := io.WriteString(p.in, escape(text)+"\n\x00"); err != nil {
		p.kill() // ends the reader
		<-done
		return "", err
	}
	select {
	case a := <-done:
		return unescape(a.s), a.err
	case <-ctx.Done():
		p.kill()
		<-done
		return "", ctx.Err()
	}
}

// kill ends every stage and reaps them.
func (p *pipeline) kill() {
	if p.pgid > 0 {
		_ = syscall.Kill(-p.pgid, syscall.SIGKILL)
	}
	if p.in != nil {
		p.in.Close()
	}
	for _, c := range p.procs {
		_ = c.Wait()
	}
	p.procs = nil
}

// reserved are the characters of Apertium's stream format; in plain text
// they are escaped with a backslash, as apertium-destxt does.
const reserved = `\[]{}^$/<>@*#`

// escape turns one line of text into Apertium's stream format.
func escape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == 0:
		case strings.IndexByte(reserved, c) >= 0:
			b.WriteByte('\\')
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// unescape undoes escape on the translation.
func unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
