package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The issue-14 summary of docs/benchmarks.md sits between these markers;
// its second column holds each goal as `make bench` prints it: the
// figure's name, then its anchor in brackets.
const (
	anchorsBegin = "<!-- issue-14 summary -->"
	anchorsEnd   = "<!-- /issue-14 summary -->"
)

var (
	codeSpan  = regexp.MustCompile("`([^`]+)`")
	anchorRef = regexp.MustCompile(`\[[^\]|]*[≤≥][^\]|]*\]`)
)

// TestBenchAnchorsMatchDocs keeps the goals docs/benchmarks.md lists and
// the anchors `make bench` prints from drifting apart: every anchor of
// the issue-14 summary is printed beside its figure by a line of
// scripts/bench*.sh naming that figure, and every ≤/≥ anchor of the
// issue-14 scripts (bench-anchors.sh, bench-live.sh) is in the summary.
func TestBenchAnchorsMatchDocs(t *testing.T) {
	raw, err := os.ReadFile("../../docs/benchmarks.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	a, z := strings.Index(doc, anchorsBegin), strings.Index(doc, anchorsEnd)
	if a < 0 || z < a {
		t.Fatalf("docs/benchmarks.md: no %s … %s section", anchorsBegin, anchorsEnd)
	}
	scripts, err := filepath.Glob("../../scripts/bench*.sh")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no scripts/bench*.sh: %v", err)
	}
	var lines, issue14 []string // every script's lines; those of the issue-14 scripts
	for _, p := range scripts {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		l := strings.Split(string(b), "\n")
		lines = append(lines, l...)
		if base := filepath.Base(p); base == "bench-anchors.sh" || base == "bench-live.sh" {
			issue14 = append(issue14, l...)
		}
	}
	documented := map[string]bool{}
	rows := 0
	for _, row := range strings.Split(doc[a:z], "\n") {
		cells := strings.Split(row, "|")
		if len(cells) < 4 || strings.HasPrefix(strings.TrimSpace(cells[2]), "---") {
			continue
		}
		for _, m := range codeSpan.FindAllStringSubmatch(cells[2], -1) {
			anchor := anchorRef.FindString(m[1])
			if anchor == "" {
				continue
			}
			rows++
			documented[anchor] = true
			name := strings.Fields(strings.ReplaceAll(m[1][:strings.Index(m[1], anchor)], "…", " "))
			if !printedBy(lines, anchor, name) {
				t.Errorf("docs/benchmarks.md lists `%s`, but no line of scripts/bench*.sh prints %s beside %q", m[1], anchor, name)
			}
		}
	}
	if rows < 10 {
		t.Fatalf("found %d anchors in the issue-14 summary; the goals have more", rows)
	}
	for _, l := range issue14 {
		for _, anchor := range anchorRef.FindAllString(l, -1) {
			if !documented[anchor] {
				t.Errorf("scripts/bench-anchors.sh or bench-live.sh prints %s, which the issue-14 summary of docs/benchmarks.md does not list:\n%s", anchor, l)
			}
		}
	}
}

// printedBy reports whether one of lines holds anchor and every word of
// name.
func printedBy(lines []string, anchor string, name []string) bool {
	for _, l := range lines {
		if !strings.Contains(l, anchor) {
			continue
		}
		all := true
		for _, w := range name {
			all = all && strings.Contains(l, w)
		}
		if all {
			return true
		}
	}
	return false
}
