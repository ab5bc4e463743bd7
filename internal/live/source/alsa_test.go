package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/audio"
	"github.com/izwi-speech/izwi/internal/testenv"
)

// script writes an executable shell script standing in for arecord.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "capture.sh")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func needArecord(t *testing.T) string {
	t.Helper()
	return testenv.LookPath(t, "arecord", "apt-get install alsa-utils")
}

// TestALSACapturesRealDevice captures through real arecord from an ALSA
// "file" PCM (no sound card needed): ALSA reads the utterance from a raw
// file as if a microphone said it. The device ends at the end of the
// recording (arecord -d), so the source also restarts it and reports the
// reconnect.
func TestALSACapturesRealDevice(t *testing.T) {
	arecord := needArecord(t)
	u := utterance(t)
	c, err := audio.DecodeFile(u.WAV, audio.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	secs := int(float64(len(c.Samples))/16000) + 2
	in := rawPCM(t, append(c.Samples, make([]float32, 32000)...))
	conf := filepath.Join(t.TempDir(), "asound.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`pcm.izwitest {
  type file
  slave.pcm { type null }
  file "/dev/null"
  infile %q
  format "raw"
}
`, in)), 0o600)
	// arecord as is, only with a duration (ALSA's file PCM is not paced
	// and would otherwise stream silence forever after the recording).
	// Later runs (the restarts) give 0.1 s of silence and hang, so the
	// test hears the reconnect without recognising the file again.
	mark := filepath.Join(t.TempDir(), "ran")
	cmd := script(t, fmt.Sprintf(`if [ -e %[3]s ]; then head -c 3200 /dev/zero; exec sleep 600; fi
touch %[3]s
exec %[1]s "$@" -d %[2]d`, arecord, secs, mark))
	src, err := Parse("alsa:izwitest")
	if err != nil {
		t.Fatal(err)
	}
	a := src.(*ALSA)
	a.Command, a.Env, a.MinBackoff = cmd, []string{"ALSA_CONFIG_PATH=" + conf}, 10*time.Millisecond

	m, id := newManager(t)
	ing, err := m.Attach(t.Context(), "k", id, src.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ing.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	counted := &reconnectCounter{Ingest: ing}
	go func() { done <- Run(ctx, src, counted) }()
	rate := waitWords(t, m, id, u.Reference, 0.45)
	t.Logf("ALSA source WER %.3f", rate)
	deadline := time.Now().Add(60 * time.Second)
	for counted.n.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if counted.n.Load() == 0 {
		t.Error("no reconnect reported after arecord ended")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestALSARestartsWithBackoffAndReportsReconnect(t *testing.T) {
	// A capture program that writes 0.1 s of audio and dies.
	cmd := script(t, `head -c 3200 /dev/zero; exit 1`)
	a := &ALSA{Device: "hw:9", Command: cmd, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}
	ing := &countingIngest{rate: 16000}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, a, ing) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, _, rc := ing.get()
		if rc >= 3 && n >= 4*1600 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d samples, %d reconnects", n, rc)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel: %v", err)
	}
}

func TestALSAKilledOnContextEnd(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	// Never writes, never exits by itself.
	cmd := script(t, `echo $$ > `+pidFile+`; exec sleep 600`)
	a := &ALSA{Device: "hw:0", Command: cmd}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, a, &countingIngest{rate: 16000}) }()
	var pid int
	deadline := time.Now().Add(30 * time.Second)
	for pid == 0 {
		if b, err := os.ReadFile(pidFile); err == nil {
			fmt.Sscan(string(b), &pid)
		}
		if time.Now().After(deadline) {
			t.Fatal("capture never started")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// The child is gone (killed and reaped: signal 0 finds nothing).
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("capture process %d: kill -0 = %v, want ESRCH", pid, err)
	}
}

func TestALSAStopsWhenSessionRefusesAudio(t *testing.T) {
	cmd := script(t, `exec cat /dev/zero`)
	a := &ALSA{Device: "hw:0", Command: cmd, MinBackoff: time.Millisecond}
	ing := &countingIngest{rate: 16000, fail: errors.New("stopped")}
	err := Run(t.Context(), a, ing)
	if !errors.Is(err, errIngest) {
		t.Fatalf("Run: %v, want the ingest's refusal", err)
	}
	if _, _, rc := ing.get(); rc != 0 {
		t.Errorf("%d reconnects after a refusal", rc)
	}
}
