package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/bus/natstest"
)

// A worker without a speaker engine (IZWI_SPEAKER_ENGINE=off) names a
// person enrolled with `izwi speakers enrol` on its live captions through
// an identifier (izwi serve --role identifier) on the same bus: only
// embeddings cross, the gallery and consent stay with the worker, and
// neither process logs the name. The bus is a secured cluster: the
// identifier's NKey lets it hear identify requests and answer them, and
// nothing else, which must be all it needs.
func TestIdentifierNamesSpeakersForAWorker(t *testing.T) {
	env := speakerServeEnv(t)
	enrol, _ := liveUtterance(t, "1089-134686-0000")
	if r := run(t, env, "speakers", "enrol", enrol.WAV, "--name", "Ada Lovelace", "--consent-given", "--operator", "user:ops"); r.code != exitOK {
		t.Fatalf("speakers enrol: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	key := newKey(t, env, "--name", "venue", "--scopes", "live.write,live.read", "--limits", `{"rps":-1}`)
	nats := natstest.StartSecured(t, natstest.Izwi(izwiBin))
	id := startUntil(t, append(slices.Clone(env), nats.Env(bus.RoleIdentifier)...), "identifier ready", "serve", "--role", "identifier")
	w := startServe(t, append(append(slices.Clone(env), nats.Env(bus.RoleWorker)...), "IZWI_SPEAKER_ENGINE=off"), "--role", "worker")

	wantAdaOnCaptions(t, w, key)
	for name, s := range map[string]*server{"worker": w, "identifier": id} {
		if strings.Contains(s.logs.String(), "Ada Lovelace") {
			t.Errorf("the enrolled name reached the %s log", name)
		}
	}
	checkBusLogs(t, nats, w, id)
}
