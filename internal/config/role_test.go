package config

import (
	"strings"
	"testing"
)

// server.role: all by default; gateway and worker need an external bus;
// anything else is refused.
func TestRole(t *testing.T) {
	c, err := loadEnv(t, map[string]string{})
	if err != nil || c.Server.Role != RoleAll {
		t.Fatalf("default role %q, %v", c.Server.Role, err)
	}
	c, err = loadEnv(t, map[string]string{"IZWI_ROLE": "worker", "IZWI_BUS_URL": "nats://127.0.0.1:4222"})
	if err != nil || c.Server.Role != RoleWorker {
		t.Fatalf("IZWI_ROLE=worker: %q, %v", c.Server.Role, err)
	}
	for env, want := range map[string]string{"gateway": "needs bus.url", "identifier": "want all, gateway or worker",
		"All": "want all, gateway or worker"} {
		if _, err := loadEnv(t, map[string]string{"IZWI_ROLE": env}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("IZWI_ROLE=%s: %v, want %q", env, err, want)
		}
	}
}
