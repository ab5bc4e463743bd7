package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "izwi.toml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestZeroValueIsValidDefaults(t *testing.T) {
	if err := (Config{}).Validate(); err != nil {
		t.Fatalf("zero Config does not validate: %v", err)
	}
	c := Config{}.Defaults()
	if c.Server.Listen != DefaultListen || c.Server.AdminListen != DefaultAdminListen ||
		c.Data.ModelsDir != filepath.Join("data", "models") || c.Log.Level != "info" {
		t.Fatalf("defaults = %+v", c)
	}
	if c.Engines.ASR.Engine != "pocketsphinx" || c.Engines.Transcribe.Engine != "pocketsphinx" ||
		c.Engines.TTS.Engine != "flite" || c.Engines.VAD.Engine != "sherpa" || c.Engines.VAD.Model != "silero-vad-v5" ||
		!c.Engines.Speaker.Off() || c.Engines.VAD.Required {
		t.Fatalf("default engines = %+v", c.Engines)
	}
}

func TestPrecedence(t *testing.T) {
	file := writeFile(t, `
[server]
listen = "127.0.0.1:9000"
[data]
dir = "/var/lib/izwi"
[log]
level = "warn"
[engines.asr]
engine = "sherpa"
model = "file-model"
`)
	cases := []struct {
		name  string
		src   Source
		flags func(*Config)
		check func(c Config) string
	}{
		{"file only", Source{Path: file}, nil, func(c Config) string {
			if c.Server.Listen != "127.0.0.1:9000" || c.Log.Level != "warn" || c.Engines.ASR.Model != "file-model" {
				return "file values not applied"
			}
			if c.Data.ModelsDir != "/var/lib/izwi/models" {
				return "models dir not derived from data dir: " + c.Data.ModelsDir
			}
			return ""
		}},
		{"env over file", Source{Path: file, LookupEnv: env(map[string]string{
			"IZWI_LISTEN": "127.0.0.1:9100", "IZWI_ASR_MODEL": "env-model", "IZWI_MODELS_DIR": "/m", "IZWI_VAD_REQUIRED": "true"})}, nil,
			func(c Config) string {
				if c.Server.Listen != "127.0.0.1:9100" || c.Engines.ASR.Model != "env-model" || c.Engines.ASR.Engine != "sherpa" ||
					c.Data.ModelsDir != "/m" || !c.Engines.VAD.Required || c.Log.Level != "warn" {
					return "env did not override file"
				}
				return ""
			}},
		{"flags over env", Source{Path: file, LookupEnv: env(map[string]string{"IZWI_LISTEN": "127.0.0.1:9100"})},
			func(c *Config) { c.Server.Listen = "127.0.0.1:9200"; _ = c.SetRole("asr", "pocketsphinx", "") },
			func(c Config) string {
				if c.Server.Listen != "127.0.0.1:9200" || c.Engines.ASR.Engine != "pocketsphinx" || c.Engines.ASR.Model != "" {
					return "flags did not override env"
				}
				return ""
			}},
		{"IZWI_CONFIG names the file", Source{LookupEnv: env(map[string]string{"IZWI_CONFIG": file})}, nil, func(c Config) string {
			if c.Server.Listen != "127.0.0.1:9000" {
				return "IZWI_CONFIG ignored"
			}
			return ""
		}},
		{"flag path beats IZWI_CONFIG", Source{Path: file, LookupEnv: env(map[string]string{"IZWI_CONFIG": "/nonexistent.toml"})}, nil,
			func(c Config) string {
				if c.Server.Listen != "127.0.0.1:9000" {
					return "--config did not win"
				}
				return ""
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _, err := Load(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			if tc.flags != nil {
				tc.flags(&c)
			}
			c = c.Defaults()
			if msg := tc.check(c); msg != "" {
				t.Fatalf("%s: %+v", msg, c)
			}
		})
	}
}

func TestDefaultFileInWorkingDir(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, path, err := Load(Source{}); err != nil || path != "" {
		t.Fatalf("no ./izwi.toml: path %q err %v", path, err)
	}
	if err := os.WriteFile(filepath.Join(dir, DefaultFile), []byte("[log]\nlevel = \"debug\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, path, err := Load(Source{})
	if err != nil || path != DefaultFile || c.Log.Level != "debug" {
		t.Fatalf("./izwi.toml not read: %+v %q %v", c.Log, path, err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := map[string]Source{
		"missing explicit file": {Path: filepath.Join(t.TempDir(), "nope.toml")},
		"unknown key":           {Path: writeFile(t, "[server]\nlisten_addr = \"x\"\n")},
		"bad toml":              {Path: writeFile(t, "[server\n")},
		"wrong type":            {Path: writeFile(t, "[server]\nlisten = 8080\n")},
		"bad duration":          {Path: writeFile(t, "[server]\nshutdown_timeout = \"soon\"\n")},
		"bad env bool":          {LookupEnv: env(map[string]string{"IZWI_ALLOW_INSECURE_HTTP": "maybe"})},
		"bad env int":           {LookupEnv: env(map[string]string{"IZWI_VAD_THREADS": "many"})},
	}
	for name, src := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := Load(src); err == nil || !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("Load = %v, want a config: error", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name    string
		mutate  func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"ipv6 loopback", func(c *Config) { c.Server.Listen = "[::1]:8080" }, ""},
		{"localhost", func(c *Config) { c.Server.Listen = "localhost:8080" }, ""},
		{"all interfaces refused", func(c *Config) { c.Server.Listen = ":8080" }, "not a loopback address"},
		{"public ip refused", func(c *Config) { c.Server.Listen = "0.0.0.0:8080" }, "allow_insecure_http"},
		{"public ip allowed explicitly", func(c *Config) { c.Server.Listen = "0.0.0.0:8080"; c.Server.AllowInsecureHTTP = true }, ""},
		{"admin never public", func(c *Config) { c.Server.AdminListen = "0.0.0.0:8081"; c.Server.AllowInsecureHTTP = true }, "admin_listen"},
		{"no port", func(c *Config) { c.Server.Listen = "127.0.0.1" }, "server.listen"},
		{"same address", func(c *Config) { c.Server.AdminListen = c.Server.Listen }, "both"},
		{"bad level", func(c *Config) { c.Log.Level = "loud" }, "log.level"},
		{"required but off", func(c *Config) { c.Engines.Speaker.Required = true }, "engines.speaker is required"},
		{"threads", func(c *Config) { c.Engines.VAD.Threads = -1 }, "threads"},
		{"model path", func(c *Config) { c.Engines.VAD.Model = "../../etc/passwd" }, "not a path"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Config{}.Defaults()
			tc.mutate(&c)
			err := c.Validate()
			if tc.wantErr == "" && err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// The shipped example must parse, validate and state exactly the defaults.
func TestExampleFileGolden(t *testing.T) {
	c, path, err := Load(Source{Path: filepath.Join("..", "..", "izwi.example.toml")})
	if err != nil || path == "" {
		t.Fatalf("izwi.example.toml: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("izwi.example.toml does not validate: %v", err)
	}
	got, want := c.Defaults(), Config{}.Defaults()
	got.Engines.VAD.Threads = 0 // the example spells out threads = 1
	got.Data.ModelsDir = filepath.Clean(got.Data.ModelsDir)
	got.Data.Database = filepath.Clean(got.Data.Database)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("example differs from defaults:\n got %+v\nwant %+v", got, want)
	}
}

func TestRoundTrip(t *testing.T) {
	c := Config{}.Defaults()
	c.Engines.VAD.Options = map[string]string{"threshold": "0.5"}
	var buf strings.Builder
	if err := toml.NewEncoder(&buf).Encode(c); err != nil {
		t.Fatal(err)
	}
	back, err := Parse([]byte(buf.String()))
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("TOML round trip: %v\n%s\n%+v", err, buf.String(), back)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var fromJSON Config
	if err := json.Unmarshal(js, &fromJSON); err != nil || !reflect.DeepEqual(fromJSON, c) {
		t.Fatalf("JSON round trip: %v\n%s", err, js)
	}
}

func FuzzParse(f *testing.F) {
	ex, _ := os.ReadFile(filepath.Join("..", "..", "izwi.example.toml"))
	f.Add(string(ex))
	f.Add("[server]\nlisten = \"0.0.0.0:1\"\n")
	f.Add("[engines.vad]\noptions = { a = \"b\" }\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse([]byte(s))
		if err != nil {
			return
		}
		_ = c.Validate() // must not panic on anything that parses
	})
}

// Every setting Config has is documented in the example file: a new field
// without an example line fails here.
func TestExampleFileCoversEveryKey(t *testing.T) {
	var buf strings.Builder
	if err := toml.NewEncoder(&buf).Encode(Config{}.Defaults()); err != nil {
		t.Fatal(err)
	}
	keys := func(doc string) map[string]bool {
		var m map[string]any
		if _, err := toml.Decode(doc, &m); err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		var walk func(prefix string, m map[string]any)
		walk = func(prefix string, m map[string]any) {
			for k, v := range m {
				if sub, ok := v.(map[string]any); ok && k != "options" {
					walk(prefix+k+".", sub)
					continue
				}
				out[prefix+k] = true
			}
		}
		walk("", m)
		return out
	}
	ex, err := os.ReadFile(filepath.Join("..", "..", "izwi.example.toml"))
	if err != nil {
		t.Fatal(err)
	}
	documented := keys(string(ex))
	for k := range keys(buf.String()) {
		if !documented[k] && !strings.HasSuffix(k, ".model") && !strings.HasSuffix(k, ".threads") && !strings.HasSuffix(k, ".required") {
			t.Errorf("izwi.example.toml does not document %s", k)
		}
	}
}
