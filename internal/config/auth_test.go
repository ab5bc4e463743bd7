package config

import (
	"path/filepath"
	"testing"
)

func TestAuthSection(t *testing.T) {
	d := Config{Data: Data{Dir: "/var/lib/izwi"}}.Defaults()
	if !d.Auth.Required() || d.Auth.PepperFile != filepath.Join("/var/lib/izwi", "auth.pepper") {
		t.Fatalf("defaults: %+v", d.Auth)
	}
	env := map[string]string{"IZWI_AUTH_REQUIRE": "false", "IZWI_AUTH_PEPPER_FILE": "/run/creds/pepper"}
	c, _, err := Load(Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }, Path: ""})
	if err != nil {
		t.Fatal(err)
	}
	c = c.Defaults()
	if c.Auth.Required() || c.Auth.PepperFile != "/run/creds/pepper" {
		t.Fatalf("from env: %+v", c.Auth)
	}
	env["IZWI_AUTH_REQUIRE"] = "sometimes"
	if _, _, err := Load(Source{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }}); err == nil {
		t.Fatal("IZWI_AUTH_REQUIRE=sometimes accepted")
	}
	toml, err := Parse([]byte("[auth]\nrequire_auth = false\npepper_file = \"/etc/izwi/pepper\"\n"))
	if err != nil || toml.Defaults().Auth.Required() || toml.Defaults().Auth.PepperFile != "/etc/izwi/pepper" {
		t.Fatalf("from toml: %+v, %v", toml.Auth, err)
	}
	if errs := (Auth{PepperFile: "/"}).validate(); len(errs) != 1 {
		t.Fatalf("pepper_file / accepted")
	}
}
