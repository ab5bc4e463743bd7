package ffmpeg

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// Demuxer is one container ffmpeg may open, with the decoders allowed
// inside it. Nothing else is ever asked of ffmpeg's demuxers.
type Demuxer struct {
	Name   string   // ffmpeg's demuxer: "ogg", "matroska", "mov"
	Codecs []string // ffmpeg's decoders allowed in it: "opus", "aac"
}

// The containers phones and browsers record.
var (
	Ogg  = Demuxer{"ogg", []string{"opus"}}
	WebM = Demuxer{"matroska", []string{"opus"}}
	MP4  = Demuxer{"mov", []string{"aac"}}
	ADTS = Demuxer{"aac", []string{"aac"}}
)

// Decode has ffmpeg demux in (a whole file of container d) and decode its
// first audio stream to a streamed 32-bit float WAV (every channel, the
// stream's own rate), returned whole. The output is capped at maxOut
// bytes: past it the process is killed and ErrTooLarge returned, so a
// small file cannot expand without bound.
func Decode(ctx context.Context, in []byte, d Demuxer, maxOut int64, lim Limits) ([]byte, error) {
	f, err := newMemfd(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	cmd, t, err := command(ctx, lim,
		"-protocol_whitelist", "file", "-format_whitelist", d.Name, "-codec_whitelist", strings.Join(d.Codecs, ","),
		"-threads", "1", "-f", d.Name, "-i", "file:/proc/self/fd/3",
		"-map", "0:a:0", "-vn", "-sn", "-dn", "-map_metadata", "-1",
		"-c:a", "pcm_f32le", "-f", "wav", "-bitexact", "pipe:1")
	if err != nil {
		return nil, err
	}
	cmd.ExtraFiles = []*os.File{f}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("ffmpeg: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("ffmpeg: start: %w", err)
	}
	var buf bytes.Buffer
	n, rerr := io.Copy(&buf, io.LimitReader(out, maxOut+1))
	if n > maxOut {
		_ = cmd.Cancel()
		_ = cmd.Wait()
		return nil, fmt.Errorf("ffmpeg: decoded output passes %d bytes: %w", maxOut, ErrTooLarge)
	}
	werr := cmd.Wait()
	if werr != nil {
		return nil, failed(ctx, werr, t)
	}
	if rerr != nil {
		return nil, fmt.Errorf("ffmpeg: reading output: %w", rerr)
	}
	return buf.Bytes(), nil
}

// newMemfd holds b in an anonymous memory file (never on disk), sealed
// against change, that a child reads and seeks as its descriptor 3.
func newMemfd(b []byte) (*os.File, error) {
	fd, err := unix.MemfdCreate("izwi-audio", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("ffmpeg: memfd: %w", err)
	}
	f := os.NewFile(uintptr(fd), "izwi-audio")
	if _, err := f.Write(b); err != nil {
		f.Close()
		return nil, fmt.Errorf("ffmpeg: memfd: %w", err)
	}
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_WRITE|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("ffmpeg: memfd seal: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		f.Close()
		return nil, fmt.Errorf("ffmpeg: memfd: %w", err)
	}
	return f, nil
}
