package config

import (
	"strings"
	"testing"
)

// Tests for the [tls] and [telemetry] sections.
func TestTLSAndTelemetryValidate(t *testing.T) {
	tests := []struct {
		name    string
		toml    string
		env     map[string]string
		wantErr string
	}{
		{"defaults", "", nil, ""},
		{"self signed public", "[server]\nlisten=\"0.0.0.0:8443\"\n[tls]\nmode=\"self_signed\"\nhosts=[\"izwi.lan\",\"10.0.0.5\"]\n", nil, ""},
		// The listen rule knows about TLS: a public address needs TLS on (or
		// the explicit insecure switch behind a proxy), for both listeners.
		{"public without tls", "[server]\nlisten=\"0.0.0.0:8080\"\n", nil, "not a loopback"},
		{"public admin without tls", "[server]\nadmin_listen=\"0.0.0.0:8081\"\n", nil, "server.admin_listen"},
		{"public admin with tls", "[server]\nadmin_listen=\"0.0.0.0:8081\"\n[tls]\nmode=\"self_signed\"\nhosts=[\"izwi.lan\"]\n", nil, ""},
		{"public behind proxy", "[server]\nlisten=\"0.0.0.0:8080\"\nallow_insecure_http=true\n", nil, ""},
		{"files", "[tls]\nmode=\"files\"\ncert_file=\"c.pem\"\nkey_file=\"k.pem\"\n", nil, ""},
		{"files missing key", "[tls]\nmode=\"files\"\ncert_file=\"c.pem\"\n", nil, "needs both"},
		{"files while off", "[tls]\ncert_file=\"c.pem\"\nkey_file=\"k.pem\"\n", nil, "mode is off"},
		{"bad mode", "[tls]\nmode=\"ssl3\"\n", nil, "want off, files"},
		{"acme without hosts", "[tls]\nmode=\"acme\"\n", nil, "needs hosts"},
		{"acme with ip", "[tls]\nmode=\"acme\"\nhosts=[\"izwi.example.org\",\"192.0.2.1\"]\n", nil, "DNS names only"},
		{"acme bad email", "[tls]\nmode=\"acme\"\nhosts=[\"izwi.example.org\"]\nacme_email=\"not an email\"\n", nil, "not an e-mail"},
		{"acme ok", "[tls]\nmode=\"acme\"\nhosts=[\"izwi.example.org\"]\nacme_email=\"ops@example.org\"\n", nil, ""},
		{"wildcard host", "[tls]\nmode=\"self_signed\"\nhosts=[\"*.lan\"]\n", nil, "not a DNS name"},
		{"env mode", "", map[string]string{"IZWI_TLS_MODE": "acme", "IZWI_TLS_HOSTS": " a.example.org, ,b.example.org"}, ""},
		{"env hsts bad", "", map[string]string{"IZWI_TLS_HSTS": "maybe"}, "IZWI_TLS_HSTS"},
		{"ratio zero is default", "[telemetry.traces]\nsample_ratio=0.0\n", nil, ""},
		{"ratio too big", "[telemetry.traces]\nsample_ratio=1.5\n", nil, "sample_ratio"},
		{"ratio negative", "", map[string]string{"IZWI_TRACE_SAMPLE_RATIO": "-0.1"}, "sample_ratio"},
		{"ratio not a number", "", map[string]string{"IZWI_TRACE_SAMPLE_RATIO": "lots"}, "IZWI_TRACE_SAMPLE_RATIO"},
		{"otlp ok", "[telemetry.traces]\notlp_endpoint=\"http://127.0.0.1:4318\"\n", nil, ""},
		{"otlp scheme", "[telemetry.traces]\notlp_endpoint=\"grpc://collector:4317\"\n", nil, "want http(s)"},
		{"otlp creds", "[telemetry.traces]\notlp_endpoint=\"https://u:p@collector\"\n", nil, "no credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			if tc.env != nil {
				err = applyEnv(&c, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			}
			if err == nil {
				err = c.Validate()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestTLSEnvAndHelpers(t *testing.T) {
	var c Config
	env := map[string]string{"IZWI_TLS_MODE": "Self_Signed", "IZWI_TLS_HOSTS": "a.lan,10.1.2.3", "IZWI_TLS_HSTS": "false",
		"IZWI_METRICS_ENABLED": "true", "IZWI_OTLP_ENDPOINT": "http://127.0.0.1:4318", "IZWI_TRACE_SAMPLE_RATIO": "0.25"}
	if err := applyEnv(&c, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	c = c.Defaults()
	if !c.TLS.Enabled() || c.TLS.Mode != TLSSelfSigned || c.TLS.HSTSEnabled() || len(c.TLS.Hosts) != 2 {
		t.Fatalf("tls from env: %+v", c.TLS)
	}
	if !c.Telemetry.MetricsEnabled || !c.Telemetry.Traces.Enabled() || c.Telemetry.Traces.SampleRatio != 0.25 {
		t.Fatalf("telemetry from env: %+v", c.Telemetry)
	}
	d := Config{}.Defaults()
	if d.TLS.Enabled() || !d.TLS.HSTSEnabled() || d.Telemetry.Traces.Enabled() || d.Telemetry.MetricsEnabled {
		t.Fatalf("defaults must be TLS off, HSTS on when TLS is, metrics and traces off: %+v %+v", d.TLS, d.Telemetry)
	}
	vars := strings.Join(EnvVars(), " ")
	for k := range env {
		if !strings.Contains(vars, k) {
			t.Errorf("EnvVars lacks %s", k)
		}
	}
}

// FuzzTLSTelemetryEnv: any IZWI_TLS_* / telemetry variable values give a
// config or an error, never a panic; accepted hosts are names or addresses.
func FuzzTLSTelemetryEnv(f *testing.F) {
	f.Add("self_signed", "a.lan,10.0.0.1,::1", "0.5", "http://127.0.0.1:4318")
	f.Add("acme", "izwi.example.org", "1", "")
	f.Add("files", ",,,", "NaN", "http://[::1")
	f.Add("off", "*.lan,-a-.b", "1e309", "https://u:p@h/?q")
	f.Fuzz(func(t *testing.T, mode, hosts, ratio, endpoint string) {
		env := map[string]string{"IZWI_TLS_MODE": mode, "IZWI_TLS_HOSTS": hosts, "IZWI_TRACE_SAMPLE_RATIO": ratio, "IZWI_OTLP_ENDPOINT": endpoint}
		var c Config
		if err := applyEnv(&c, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
			return
		}
		if c.Defaults().TLS.validate() != nil || c.Defaults().Telemetry.validate() != nil {
			return
		}
		for _, h := range c.TLS.Hosts {
			if !validHost(h) {
				t.Fatalf("accepted host %q", h)
			}
		}
		if r := c.Defaults().Telemetry.Traces.SampleRatio; !(r > 0 && r <= 1) {
			t.Fatalf("accepted ratio %v", r)
		}
	})
}
