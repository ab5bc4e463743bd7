package ffmpeg

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strconv"
)

// Encoding is one compressed format ffmpeg may write.
type Encoding struct {
	Name string   // "mp3", "opus", "aac"
	args []string // encoder and muxer, after the input
}

// The compressed formats of OpenAI's and Deepgram's speech routes: MP3,
// Opus in Ogg (as OpenAI sends it) and AAC in ADTS frames (a stream a
// player can start anywhere). -flush_packets 1 hands each packet on as
// it is made.
var (
	MP3  = Encoding{"mp3", []string{"-c:a", "libmp3lame", "-b:a", "64k", "-write_xing", "0", "-id3v2_version", "0", "-f", "mp3"}}
	Opus = Encoding{"opus", []string{"-c:a", "libopus", "-b:a", "32k", "-ar", "48000", "-page_duration", "100000", "-f", "ogg"}}
	AAC  = Encoding{"aac", []string{"-c:a", "aac", "-b:a", "64k", "-f", "adts"}}
	// G.711 for telephony (Deepgram's speak): raw, or in a streamed WAV.
	MuLaw    = Encoding{"mulaw", []string{"-c:a", "pcm_mulaw", "-f", "mulaw"}}
	ALaw     = Encoding{"alaw", []string{"-c:a", "pcm_alaw", "-f", "alaw"}}
	MuLawWAV = Encoding{"mulaw-wav", []string{"-c:a", "pcm_mulaw", "-f", "wav"}}
	ALawWAV  = Encoding{"alaw-wav", []string{"-c:a", "pcm_alaw", "-f", "wav"}}
)

// Encoder streams mono 16-bit PCM through ffmpeg into one Encoding,
// copying what ffmpeg makes to the writer as it comes. The writer is used
// from the Encoder's own goroutine until Close or Abort returns.
type Encoder struct {
	cancel context.CancelFunc
	cmd    *exec.Cmd
	in     io.WriteCloser
	done   chan error // the copy's result
	t      *tail
	ctx    context.Context
}

// NewEncoder starts ffmpeg encoding rate-Hz mono PCM16 into e, written to
// out. It ends with ctx, with Abort, or (complete) with Close.
func NewEncoder(ctx context.Context, out io.Writer, rate int, e Encoding, lim Limits) (*Encoder, error) {
	ctx, cancel := context.WithCancel(ctx)
	// Raw input needs no probing; without these ffmpeg would hold the
	// first seconds of audio to "analyse" them before encoding a byte.
	// (Not -fflags nobuffer: it drops the audio read while probing.)
	args := append([]string{"-protocol_whitelist", "pipe", "-threads", "1",
		"-probesize", "32", "-analyzeduration", "0",
		"-f", "s16le", "-ar", strconv.Itoa(rate), "-ac", "1", "-i", "pipe:0",
		"-map_metadata", "-1", "-flush_packets", "1", "-bitexact"}, e.args...)
	cmd, t, err := command(ctx, lim, append(args, "pipe:1")...)
	if err != nil {
		cancel()
		return nil, err
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		return nil, fmt.Errorf("ffmpeg: start: %w", err)
	}
	enc := &Encoder{cancel: cancel, cmd: cmd, in: in, done: make(chan error, 1), t: t, ctx: ctx}
	go func() {
		buf := make([]byte, 16<<10)
		var werr error
		for {
			n, rerr := stdout.Read(buf)
			if n > 0 && werr == nil {
				if _, werr = out.Write(buf[:n]); werr != nil {
					cancel() // nobody is reading: stop ffmpeg too
				}
			}
			if rerr != nil {
				if errors.Is(rerr, io.EOF) {
					rerr = nil
				}
				if werr == nil {
					werr = rerr
				}
				break
			}
		}
		enc.done <- werr
	}()
	return enc, nil
}

// Write hands ffmpeg PCM16 little-endian mono samples.
func (e *Encoder) Write(pcm []byte) error {
	if _, err := e.in.Write(pcm); err != nil {
		if e.ctx.Err() != nil {
			return fmt.Errorf("ffmpeg: %w", e.ctx.Err())
		}
		return fmt.Errorf("ffmpeg: encoder input: %w", err)
	}
	return nil
}

// Close ends the input and waits until ffmpeg has written everything.
func (e *Encoder) Close() error {
	defer e.cancel()
	_ = e.in.Close()
	cerr := <-e.done
	if err := e.cmd.Wait(); err != nil {
		return failed(e.ctx, err, e.t)
	}
	if cerr != nil {
		return fmt.Errorf("ffmpeg: writing output: %w", cerr)
	}
	return nil
}

// Abort stops ffmpeg and waits for it; what it made so far is discarded.
func (e *Encoder) Abort() {
	e.cancel()
	_ = e.in.Close()
	<-e.done
	_ = e.cmd.Wait()
}
