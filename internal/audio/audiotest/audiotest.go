// Package audiotest owns the test fixtures of compressed audio: the
// containers phones and browsers record (WebM/Opus, Ogg/Opus, M4A/AAC),
// made at test time from a shared WAV with Debian's ffmpeg, so no encoded
// copy of the shared data is ever committed. Only tests import it.
package audiotest

import (
	"os"
	"os/exec"
	"testing"

	"github.com/izwi-speech/izwi/internal/testenv"
)

// Container is one recording format a phone or browser produces.
type Container struct {
	Name        string // "webm-opus", "ogg-opus", "m4a-aac"
	ContentType string // what a browser's upload claims
	Filename    string // a name the upload carries
	args        []string
}

// PhoneContainers are every upload container a phone or browser makes:
// Chrome and Firefox MediaRecorder (WebM/Opus), Firefox and Android
// (Ogg/Opus), iOS and Android voice recorders (M4A/AAC, index at the end,
// as their recorders write it).
var PhoneContainers = []Container{
	{"webm-opus", "audio/webm", "memo.webm", []string{"-c:a", "libopus", "-b:a", "32k", "-f", "webm"}},
	{"ogg-opus", "audio/ogg", "memo.ogg", []string{"-c:a", "libopus", "-b:a", "32k", "-f", "ogg"}},
	{"m4a-aac", "audio/mp4", "memo.m4a", []string{"-c:a", "aac", "-b:a", "64k", "-f", "ipod"}},
}

// FFmpeg returns Debian's ffmpeg, or reports it missing.
func FFmpeg(t testing.TB) string {
	t.Helper()
	return testenv.LookPath(t, "ffmpeg", "apt-get install -y ffmpeg (scripts/setup.sh)")
}

// Encode makes c from the audio file at wav with ffmpeg and returns its
// bytes (written to a pipe: ipod/mp4 need a seekable output, so those go
// through t.TempDir).
func Encode(t testing.TB, wav string, c Container) []byte {
	t.Helper()
	ff := FFmpeg(t)
	out := "pipe:1"
	seekable := c.Name == "m4a-aac"
	if seekable {
		out = t.TempDir() + "/" + c.Filename
	}
	args := append([]string{"-nostdin", "-hide_banner", "-loglevel", "error", "-i", wav}, c.args...)
	cmd := exec.Command(ff, append(args, "-y", out)...)
	b, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("ffmpeg %s: %v %s", c.Name, err, msg)
	}
	if seekable {
		if b, err = os.ReadFile(out); err != nil {
			t.Fatal(err)
		}
	}
	if len(b) == 0 {
		t.Fatalf("ffmpeg %s made nothing", c.Name)
	}
	return b
}
