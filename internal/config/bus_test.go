package config

import (
	"strings"
	"testing"
)

// bus.tls is all three files or none, and only with bus.url; the env
// variables reach every field.
func TestBusSecurity(t *testing.T) {
	url := "nats://127.0.0.1:4222"
	c, err := loadEnv(t, map[string]string{"IZWI_BUS_URL": url, "IZWI_BUS_TLS_CA": "/c/ca.crt",
		"IZWI_BUS_TLS_CERT": "/c/worker.crt", "IZWI_BUS_TLS_KEY": "/c/worker.key", "IZWI_BUS_NKEY_FILE": "/c/worker.nk"})
	if err != nil || c.Bus.TLS != (BusTLS{CA: "/c/ca.crt", Cert: "/c/worker.crt", Key: "/c/worker.key"}) || c.Bus.NKeyFile != "/c/worker.nk" {
		t.Fatalf("%+v %v", c.Bus, err)
	}
	if _, err := loadEnv(t, map[string]string{"IZWI_BUS_LISTEN": "127.0.0.1:4222"}); err != nil {
		t.Errorf("loopback bus.listen: %v", err)
	}
	for name, env := range map[string]map[string]string{
		"cert without key":  {"IZWI_BUS_URL": url, "IZWI_BUS_TLS_CA": "/c/ca.crt", "IZWI_BUS_TLS_CERT": "/c/w.crt"},
		"ca alone":          {"IZWI_BUS_URL": url, "IZWI_BUS_TLS_CA": "/c/ca.crt"},
		"tls, no url":       {"IZWI_BUS_TLS_CA": "/c/ca.crt", "IZWI_BUS_TLS_CERT": "/c/w.crt", "IZWI_BUS_TLS_KEY": "/c/w.key"},
		"nkey, no url":      {"IZWI_BUS_NKEY_FILE": "/c/w.nk"},
		"listen on the lan": {"IZWI_BUS_LISTEN": "10.0.0.1:4222"},
		"listen on all":     {"IZWI_BUS_LISTEN": ":4222"},
	} {
		if _, err := loadEnv(t, env); err == nil || !strings.Contains(err.Error(), "bus.") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
