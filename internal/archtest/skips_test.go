package archtest

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// skipSite is one place in the suite that can skip a test: a direct
// Skip, Skipf or SkipNow on a testing.T, B or F, or a call into internal/testenv, which
// skips outside `make test` and fails under it.
type skipSite struct{ file, fn, call string }

func (s skipSite) String() string { return s.file + " | " + s.fn + " | " + s.call }

// skipMarker delimits the table of skips in docs/contributing.md.
const skipMarker = "<!-- skips -->"

// Every skip left in the suite is listed, with the condition that triggers
// it, in docs/contributing.md; a new skip fails this test until it is
// listed (and so justified), and a listed skip that is gone fails it too,
// so the list stays the truth. `make test` and CI=true never skip for a
// missing dependency (internal/testenv); the listed direct skips are
// conditions a test run cannot change.
func TestEverySkipIsListed(t *testing.T) {
	found := findSkips(t, "../..")
	listed := listedSkips(t, "../../docs/contributing.md")
	for _, s := range found {
		if !slices.Contains(listed, s.String()) {
			t.Errorf("unlisted skip: add a row `| %s | <condition> |` to the skip table in docs/contributing.md, or remove the skip", s)
		}
	}
	for _, l := range listed {
		if !slices.ContainsFunc(found, func(s skipSite) bool { return s.String() == l }) {
			t.Errorf("docs/contributing.md lists a skip that is not in the suite: %s", l)
		}
	}
	if len(found) < 10 {
		t.Fatalf("found only %d skip sites; the walk is broken", len(found))
	}
}

// findSkips parses every Go file of the module (tests and test helpers)
// except internal/testenv itself and node_modules.
func findSkips(t *testing.T, root string) []skipSite {
	t.Helper()
	var out []skipSite
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if d.Name() == "node_modules" || d.Name() == ".git" || rel == filepath.Join("internal", "testenv") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fd, ok := decl.(*ast.FuncDecl)
			if !ok || fd.Body == nil {
				continue
			}
			seen := map[string]bool{}
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				name := sel.Sel.Name
				recv, _ := sel.X.(*ast.Ident)
				switch {
				case recv != nil && recv.Name == "testenv" && name != "Strict":
					name = "testenv." + name
				case name == "Skip" || name == "Skipf" || name == "SkipNow":
					name = "Skip"
				default:
					return true
				}
				if !seen[name] {
					seen[name] = true
					out = append(out, skipSite{filepath.ToSlash(rel), fd.Name.Name, name})
				}
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// listedSkips reads the rows `| file | func | call | condition |` between
// two skipMarker lines.
func listedSkips(t *testing.T, doc string) []string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == skipMarker {
			in = !in
			continue
		}
		if !in || !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "|---") || strings.HasPrefix(line, "| file") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			t.Fatalf("skip table row %q: want 4 cells (file, function, call, condition)", line)
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		if cells[3] == "" {
			t.Errorf("skip table row %q gives no condition", line)
		}
		out = append(out, fmt.Sprintf("%s | %s | %s", cells[0], cells[1], cells[2]))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
