package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// usersCLI runs `izwi users args...` in-process with stdin and returns
// exit code, stdout and stderr.
func usersCLI(t *testing.T, dir, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdout: &out, stderr: &errb, stdin: strings.NewReader(stdin)}
	code := runUsers(context.Background(), c, append(args, "--data-dir", dir))
	return code, out.String(), errb.String()
}

func TestUsersCLI(t *testing.T) {
	t.Setenv("IZWI_CONFIG", "")
	dir := t.TempDir()
	const pw = "correct horse battery staple"
	if code, _, errs := usersCLI(t, dir, pw+"\n", "create", "alice", "--role", "admin"); code != exitOK {
		t.Fatalf("create: %d %s", code, errs)
	}
	if code, _, errs := usersCLI(t, dir, "password1234\n", "create", "bob", "--role", "operator"); code != exitUsage ||
		!strings.Contains(errs, "common or breached") {
		t.Fatalf("create with a blocklisted password: %d %s", code, errs)
	}
	if code, _, _ := usersCLI(t, dir, pw+"\n", "create", "bob", "--role", "root"); code != exitUsage {
		t.Fatalf("unknown role: %d", code)
	}
	if code, _, _ := usersCLI(t, dir, "operator passphrase one\n", "create", "bob", "--role", "operator"); code != exitOK {
		t.Fatal("create bob")
	}
	for _, args := range [][]string{{"disable", "bob"}, {"enable", "bob"}, {"set-role", "bob", "--role", "admin"},
		{"unlock", "bob"}, {"logout", "bob"}, {"reset-mfa", "bob"}} {
		if code, _, errs := usersCLI(t, dir, "", args...); code != exitOK {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
	if code, _, errs := usersCLI(t, dir, "a fresh passphrase here\n", "reset-password", "bob"); code != exitOK ||
		!strings.Contains(errs, "still required") {
		t.Fatalf("reset-password: %d %s", code, errs)
	}
	if code, _, _ := usersCLI(t, dir, "", "disable", "nobody"); code != exitUsage {
		t.Fatalf("disable an unknown user: %d", code)
	}
	code, out, errs := usersCLI(t, dir, "", "list", "--json")
	var got struct {
		Users []struct{ Name, Role string }
	}
	if code != exitOK || json.Unmarshal([]byte(out), &got) != nil || len(got.Users) != 2 || got.Users[1].Role != "admin" {
		t.Fatalf("list: %d %s %s", code, out, errs)
	}
	if strings.Contains(out+errs, pw) {
		t.Fatal("a password was printed")
	}
	if code, out, _ := usersCLI(t, dir, "", "list"); code != exitOK || !strings.Contains(out, "alice") {
		t.Fatalf("list table: %d %s", code, out)
	}
	if code, _, _ := usersCLI(t, dir, ""); code != exitUsage {
		t.Fatal("no subcommand")
	}
}
