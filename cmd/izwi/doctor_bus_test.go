package main

import (
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/izwi-speech/izwi/internal/bus"
	"github.com/izwi-speech/izwi/internal/config"
)

// doctor flags a plain bus to another machine, a bus certificate near its
// end or past it, and a readable key or seed.
func TestDoctorBusChecks(t *testing.T) {
	dir := privateDir(t)
	plain := config.Config{Data: config.Data{Dir: dir}, Server: config.Server{Role: config.RoleWorker},
		Bus: config.Bus{URL: "nats://127.0.0.1:4222,nats://10.0.0.2:4222"}}
	env := doctorEnv{cfg: plain, lookupEnv: noEnv, now: time.Now(), euid: 1000}
	if got := checks(env.run(context.Background())); !slices.Contains(got, "critical:bus-plain") {
		t.Fatalf("plain bus to another machine: %v", got)
	}
	env.cfg.Bus.URL = "nats://127.0.0.1:4222"
	if got := checks(env.run(context.Background())); slices.Contains(got, "critical:bus-plain") {
		t.Fatalf("plain bus on loopback: %v", got)
	}

	m, err := bus.MakeMaterial(t.TempDir(), []string{"10.0.0.2"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	files, seed := m.Client(bus.RoleWorker)
	env.cfg.Bus = config.Bus{URL: "nats://10.0.0.2:4222", TLS: config.BusTLS{CA: files.CA, Cert: files.Cert, Key: files.Key}, NKeyFile: seed}
	got := checks(env.run(context.Background()))
	for _, c := range got {
		if c == "critical:bus-plain" || c == "warning:bus-cert-expiring" || c == "critical:file-permissions" {
			t.Fatalf("a fresh secured bus: %v", got)
		}
	}
	_ = os.Chmod(seed, 0o644)
	env.now = time.Now().Add(bus.LeafLifetime - 24*time.Hour)
	if got := checks(env.run(context.Background())); !slices.Contains(got, "critical:file-permissions") || !slices.Contains(got, "warning:bus-cert-expiring") {
		t.Fatalf("readable seed / expiring certificate: %v", got)
	}
	env.now = time.Now().Add(2 * bus.LeafLifetime)
	if got := checks(env.run(context.Background())); !slices.Contains(got, "critical:bus-cert-expired") {
		t.Fatalf("expired: %v", got)
	}
	env.lookupEnv = func(k string) (string, bool) { return "SUAB", k == "IZWI_BUS_NKEY" }
	if got := checks(env.run(context.Background())); !slices.Contains(got, "warning:secret-in-env") {
		t.Fatalf("IZWI_BUS_NKEY set: %v", got)
	}
}
