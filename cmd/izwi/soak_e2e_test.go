package main

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/live"
)

// soakKill9 runs izwi serve with a live session whose source is a looping
// file and which keeps its transcript, and kills it with SIGKILL n times,
// each time after a viewer has seen new finals. After every kill the
// database passes PRAGMA integrity_check; after every restart the session
// comes back interrupted → live as its source returns; at the end the kept
// transcript holds every final a viewer was sent before a kill.
func soakKill9(t *testing.T, n int) {
	dataDir := t.TempDir()
	u, _ := liveUtterance(t, "1089-134691-0001")
	env := append(keysEnv(dataDir), "IZWI_ASR_ENGINE=pocketsphinx", "IZWI_MODELS_DIR="+importVAD(t, false),
		"IZWI_VAD_ENGINE=sherpa", "IZWI_VAD_MODEL=silero-vad-v5", "IZWI_PRIVACY_KEEP_TRANSCRIPTS=true")
	admin := newKey(t, env, "--name", "soak", "--scopes", "admin")
	args := []string{"--source", "file:" + u.WAV + "?loop=1", "--source-label", "Soak hall"}
	seen := map[uint64]string{} // finals viewers were sent before a kill
	var id string
	for i := range n {
		s := startServe(t, env, args...)
		var list struct {
			Sessions []struct{ ID, State string }
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			if code := liveAPI(t, s, "GET", "/v1/sessions", admin, nil, &list); code == 200 && len(list.Sessions) == 1 &&
				list.Sessions[0].State == "live" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("iteration %d: the session did not come back live: %+v\n%s", i, list, s.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if id == "" {
			id = list.Sessions[0].ID
		} else if list.Sessions[0].ID != id {
			t.Fatalf("iteration %d: session %s, want %s resumed", i, list.Sessions[0].ID, id)
		}
		v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+id+"/captions"), nil)
		before := len(seen)
		var evs []live.Event
		deadline = time.Now().Add(90 * time.Second)
		for {
			evs = v.snapshot()
			fresh := 0
			for _, e := range evs {
				if e.Type == live.TypeCaption && e.Final && e.Text != "" && seen[e.Seq] == "" {
					fresh++
				}
			}
			if fresh > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("iteration %d: no new final in 90 s\n%s", i, s.logs)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if i > 0 && !resumedInOrder(evs) {
			t.Errorf("iteration %d: the viewer did not see interrupted → live: %v", i, states(evs))
		}
		_ = s.cmd.Process.Kill() // SIGKILL: no shutdown path runs
		<-s.done
		// Everything the viewer had by the kill was sent before it.
		for _, e := range v.snapshot() {
			if e.Type == live.TypeCaption && e.Final && e.Text != "" {
				seen[e.Seq] = e.Text
			}
		}
		if len(seen) == before {
			t.Fatalf("iteration %d: no finals recorded", i)
		}
		checkIntegrity(t, filepath.Join(dataDir, "izwi.db"))
	}
	s := startServe(t, env, args...)
	var kept struct{ Captions []live.Event }
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+id+"/transcript", admin, nil, &kept); code != 200 {
		t.Fatalf("transcript: %d", code)
	}
	have := map[uint64]string{}
	for _, e := range kept.Captions {
		have[e.Seq] = e.Text
	}
	for seq, text := range seen {
		if have[seq] != text {
			t.Errorf("final %d %q was sent to a viewer but is not in the kept transcript (%q)", seq, text, have[seq])
		}
	}
	t.Logf("%d kills: %d finals seen, all kept; integrity ok every time", n, len(seen))
	if code := s.stop(t); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func checkIntegrity(t *testing.T, path string) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var res string
	if err := db.QueryRow("PRAGMA integrity_check").Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check after kill: %q %v", res, err)
	}
}

func states(evs []live.Event) []string {
	var out []string
	for _, e := range evs {
		if e.Type == live.TypeState {
			out = append(out, string(e.State))
		}
	}
	return out
}

// resumedInOrder: the feed shows interrupted, then live.
func resumedInOrder(evs []live.Event) bool {
	st := fmt.Sprint(states(evs))
	return len(st) > 0 && (st == "[interrupted live]" || st == "[live interrupted live]")
}

// A short soak in make test; `make soak` runs 50 (build tag soak).
func TestSoakKill9Short(t *testing.T) { soakKill9(t, 3) }
