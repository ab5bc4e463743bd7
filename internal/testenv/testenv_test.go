package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The switch is read from the environment: IZWI_TEST_STRICT=1 or CI=true
// turn it on, anything else leaves it off.
func TestStrict(t *testing.T) {
	for _, c := range []struct {
		strict, ci string
		want       bool
	}{
		{"", "", false}, {"0", "false", false}, {"1", "", true}, {"", "true", true}, {"yes", "1", false},
	} {
		t.Setenv(StrictEnv, c.strict)
		t.Setenv("CI", c.ci)
		if got := Strict(); got != c.want {
			t.Errorf("%s=%q CI=%q: Strict() = %v, want %v", StrictEnv, c.strict, c.ci, got, c.want)
		}
	}
}

// Missing fails under the switch and skips without it. Each case runs in a
// child process so the parent sees the real outcome of the real test.
func TestMissingFailsOrSkips(t *testing.T) {
	if os.Getenv("TESTENV_CHILD") == "1" {
		LookPath(t, "izwi-no-such-command", "apt-get install nothing")
		t.Fatal("LookPath returned for a missing command")
	}
	for _, c := range []struct {
		env  []string
		want string
	}{
		{[]string{StrictEnv + "=1", "CI="}, "--- FAIL"},
		{[]string{StrictEnv + "=", "CI=true"}, "--- FAIL"},
		{[]string{StrictEnv + "=", "CI="}, "--- SKIP"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingFailsOrSkips$", "-test.v")
		cmd.Env = append(append(os.Environ(), "TESTENV_CHILD=1"), c.env...)
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "izwi-no-such-command") {
			t.Errorf("env %v: want %s naming the command, got:\n%s", c.env, c.want, out)
		}
	}
	if p := LookPath(t, "sh", "apt-get install dash"); p == "" {
		t.Error("LookPath(sh) returned empty")
	}
}
