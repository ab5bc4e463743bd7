package config

import (
	"strings"
	"testing"
	"time"
)

func loadEnv(t *testing.T, env map[string]string) (Config, error) {
	t.Helper()
	c, _, err := Load(Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		return c, err
	}
	c = c.Defaults()
	return c, c.Validate()
}

func TestChainFromEnv(t *testing.T) {
	c, err := loadEnv(t, map[string]string{"IZWI_ASR_ENGINE": " deepgram , pocketsphinx ", "IZWI_ASR_MODEL": "en-us",
		"IZWI_DEEPGRAM_URL": "ws://127.0.0.1:9/x", "IZWI_DEEPGRAM_API_KEY_FILE": "/run/keys/dg", "IZWI_DEEPGRAM_TIER": "enhanced",
		"IZWI_FAILOVER_STALL": "800ms", "IZWI_TRANSCRIBE_ENGINE": "deepgram,pocketsphinx"})
	if err != nil {
		t.Fatal(err)
	}
	links := c.Engines.Links(c.Engines.ASR)
	if len(links) != 2 || links[0].Engine != "deepgram" || links[1].Engine != "pocketsphinx" {
		t.Fatalf("links %+v", links)
	}
	dg := links[0]
	if dg.Model != "nova-3" || dg.Options["url"] != "ws://127.0.0.1:9/x" || dg.Options["api_key_file"] != "/run/keys/dg" ||
		dg.Options["tier"] != "enhanced" || dg.Options["language"] != "en" {
		t.Errorf("deepgram spec %+v", dg)
	}
	if links[1].Model != "en-us" {
		t.Errorf("the role's model must go to its local engine: %+v", links[1])
	}
	if c.Engines.Failover.Stall.Std() != 800*time.Millisecond || c.Engines.Failover.ProbeMax.Std() != DefaultProbeMax {
		t.Errorf("failover %+v", c.Engines.Failover)
	}
}

func TestChainValidate(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"IZWI_TTS_ENGINE": "flite,sherpa"}, "only asr and transcribe"},
		{map[string]string{"IZWI_ASR_ENGINE": "pocketsphinx,pocketsphinx"}, "each engine once"},
		{map[string]string{"IZWI_ASR_ENGINE": "deepgram,off"}, "each engine once"},
		{map[string]string{"IZWI_ASR_ENGINE": "deepgram", "IZWI_DEEPGRAM_URL": "wss://key:secret@api.deepgram.com"}, "must not carry credentials"},
		{map[string]string{"IZWI_ASR_ENGINE": "deepgram", "IZWI_DEEPGRAM_URL": "wss://api.deepgram.com/?token=x"}, "must not carry credentials"},
		{map[string]string{"IZWI_ASR_ENGINE": "deepgram", "IZWI_DEEPGRAM_URL": "ws://deepgram.example"}, "only to a loopback"},
		{map[string]string{"IZWI_ASR_ENGINE": "deepgram", "IZWI_DEEPGRAM_URL": "ftp://x"}, "want wss"},
		{map[string]string{"IZWI_ASR_ENGINE": "deepgram", "IZWI_DEEPGRAM_MODEL": "nova&x=1"}, "a plain name"},
		{map[string]string{"IZWI_FAILOVER_REPLAY_WINDOW": "100ms"}, "replay_window"},
		{map[string]string{"IZWI_FAILOVER_PROBE_MIN": "1m", "IZWI_FAILOVER_PROBE_MAX": "2s"}, "below probe_min"},
		{map[string]string{"IZWI_FAILOVER_STALL": "-1s"}, "negative"},
	} {
		_, err := loadEnv(t, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.env, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%v: an error quotes the credential: %v", tc.env, err)
		}
	}
}
