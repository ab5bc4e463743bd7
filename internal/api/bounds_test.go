package api

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// Every route in the route table has a row in docs/security.md's
// "Per-request bounds" table (worst-case memory and CPU, and what bounds
// it), and every row names a route that exists: a new route cannot land
// without someone writing down what one request may cost.
func TestBoundsTableCoversEveryRoute(t *testing.T) {
	b, err := os.ReadFile("../../docs/security.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start := strings.Index(doc, "## Per-request bounds")
	if start < 0 {
		t.Fatal(`docs/security.md has no "## Per-request bounds" section`)
	}
	section := doc[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	// Rows start with "| `METHOD /path` …"; several pages may share a row
	// ("`GET /live/{id}`, `/display/{id}`").
	rowRE := regexp.MustCompile("(?m)^\\| `(GET|POST|PUT|PATCH|DELETE) ([^`]+)`((?:, `[^`]+`)*)")
	documented := map[string]bool{}
	for _, m := range rowRE.FindAllStringSubmatch(section, -1) {
		documented[m[1]+" "+m[2]] = true
		for _, extra := range regexp.MustCompile("`([^`]+)`").FindAllStringSubmatch(m[3], -1) {
			documented[m[1]+" "+extra[1]] = true
		}
	}
	g := newGW(t)
	seen := map[string]bool{}
	for _, rt := range allRoutes(g) {
		k := rt.Method + " " + rt.Pattern
		seen[k] = true
		if !documented[k] {
			t.Errorf("%s has no row in docs/security.md's per-request bounds table", k)
		}
	}
	for k := range documented {
		if !seen[k] {
			t.Errorf("docs/security.md's bounds table lists %s, which is not a route", k)
		}
	}
}
