package main

import (
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/bus"
)

// jetStreamBus starts an embedded NATS server with JetStream on a free
// loopback port for the processes of one test, and returns its URL.
func jetStreamBus(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	b, err := bus.Start(t.Context(), bus.Config{Listen: addr, JetStream: true, StoreDir: filepath.Join(t.TempDir(), "bus")},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return "nats://" + addr
}

// A worker without a speaker engine (IZWI_SPEAKER_ENGINE=off) names a
// person enrolled with `izwi speakers enrol` on its live captions through
// an identifier (izwi serve --role identifier) on the same bus: only
// embeddings cross, the gallery and consent stay with the worker, and
// neither process logs the name.
func TestIdentifierNamesSpeakersForAWorker(t *testing.T) {
	env := speakerServeEnv(t)
	enrol, _ := liveUtterance(t, "1089-134686-0000")
	if r := run(t, env, "speakers", "enrol", enrol.WAV, "--name", "Ada Lovelace", "--consent-given", "--operator", "user:ops"); r.code != exitOK {
		t.Fatalf("speakers enrol: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	key := newKey(t, env, "--name", "venue", "--scopes", "live.write,live.read", "--limits", `{"rps":-1}`)
	env = append(env, "IZWI_BUS_URL="+jetStreamBus(t))
	id := startUntil(t, env, "identifier ready", "serve", "--role", "identifier")
	w := startServe(t, append(env, "IZWI_SPEAKER_ENGINE=off"), "--role", "worker")

	wantAdaOnCaptions(t, w, key)
	for name, s := range map[string]*server{"worker": w, "identifier": id} {
		if strings.Contains(s.logs.String(), "Ada Lovelace") {
			t.Errorf("the enrolled name reached the %s log", name)
		}
	}
}
