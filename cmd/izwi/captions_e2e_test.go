package main

import (
	"strings"
	"testing"

	"github.com/izwi-speech/izwi/internal/live"
)

// Caption settings on a real session: the defaults format the engine's
// bare words (PocketSphinx gives lower case without punctuation), a
// replacement list changes what viewers and the kept transcript read, and
// a replacement that makes a word profane is masked. The settings route
// refuses bad lists and other owners.
func TestCaptionSettingsOnALiveSession(t *testing.T) {
	env := append(liveEnv(t), "IZWI_DATA_DIR="+t.TempDir(), "IZWI_PRIVACY_KEEP_TRANSCRIPTS=true")
	key := newKey(t, env, "--name", "venue", "--scopes", "live.write,live.read")
	other := newKey(t, env, "--name", "other", "--scopes", "live.write")
	s := startServe(t, env)

	u, samples := liveUtterance(t, "1089-134691-0001") // for a full hour he had paced up and down waiting ...
	ses := createLiveSession(t, s, key, map[string]any{"label": "filters"})
	var got struct {
		Format    bool `json:"format"`
		Profanity bool `json:"profanity_filter"`
		Replace   []struct{ Find, Replace string }
	}
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/filters", key, nil, &got); code != 200 || !got.Format || !got.Profanity {
		t.Fatalf("default settings: %d %+v", code, got)
	}
	set := map[string]any{"format": true, "profanity_filter": true,
		"replace": []map[string]string{{"find": "hour", "replace": "shit"}, {"find": "up and down", "replace": "Up And Down"}}}
	if code := liveAPI(t, s, "PUT", "/v1/sessions/"+ses.ID+"/filters", key, set, nil); code != 200 {
		t.Fatalf("PUT filters: %d", code)
	}
	for _, bad := range []map[string]any{
		{"replace": []map[string]string{{"find": "", "replace": "x"}}},
		{"format": true, "unknown": 1},
		{"replace": []map[string]string{{"find": strings.Repeat("a", 101), "replace": "x"}}},
	} {
		if code := liveAPI(t, s, "PUT", "/v1/sessions/"+ses.ID+"/filters", key, bad, nil); code != 400 {
			t.Errorf("PUT %v: %d, want 400", bad, code)
		}
	}
	if code := liveAPI(t, s, "PUT", "/v1/sessions/"+ses.ID+"/filters", other, set, nil); code != 404 {
		t.Errorf("another key's PUT: %d, want 404", code)
	}

	liveAPI(t, s, "POST", "/v1/sessions/"+ses.ID+"/start", key, nil, nil)
	v, _ := watchLiveWS(t, liveWSURL(s, "/v1/sessions/"+ses.ID+"/captions"), nil)
	streamPaced(t, s, key, ses.ID, samples, 4)
	evs := awaitLiveWER(t, "filtered session", v, strings.ReplaceAll(strings.ReplaceAll(u.Reference, "HOUR", "****"), "UP AND DOWN", "Up And Down"))
	finals := liveFinals(evs)
	if !strings.Contains(finals, " **** ") || !strings.Contains(finals, "Up And Down") || strings.Contains(finals, "hour") ||
		!strings.HasPrefix(finals, "For") || !strings.HasSuffix(finals, ".") {
		t.Errorf("viewers read %q", finals)
	}
	var kept struct{ Captions []live.Event }
	if code := liveAPI(t, s, "GET", "/v1/sessions/"+ses.ID+"/transcript", key, nil, &kept); code != 200 || liveFinals(kept.Captions) != finals {
		t.Errorf("kept transcript %d %q, viewers read %q", code, liveFinals(kept.Captions), finals)
	}
}
