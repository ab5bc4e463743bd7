package live

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Every state change goes through Next: outside session.apply, no code of
// the package assigns a session's state fields (or the time it last heard
// speech), and only refreshCopy replaces a record whole (a copy of a
// session another process runs). A path that bypassed Next fails here.
func TestOnlyApplyChangesState(t *testing.T) {
	stateFields := map[string]bool{"State": true, "Label": true, "StopReason": true, "StartedAt": true, "StoppedAt": true}
	allowed := map[string]bool{"apply": true}
	wholeRecord := map[string]bool{"refreshCopy": true}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				var lhs []ast.Expr
				switch a := n.(type) {
				case *ast.AssignStmt:
					lhs = a.Lhs
				case *ast.IncDecStmt:
					lhs = []ast.Expr{a.X}
				case *ast.UnaryExpr: // &s.rec.State handed to something that writes it
					if a.Op == token.AND {
						lhs = []ast.Expr{a.X}
					}
				case *ast.CallExpr: // s.lastSpeech.Store(…): a side channel
					if m, ok := a.Fun.(*ast.SelectorExpr); ok && isSel(m.X, "lastSpeech") {
						lhs = []ast.Expr{m.X}
					}
				}
				for _, x := range lhs {
					sel, ok := x.(*ast.SelectorExpr)
					if !ok {
						continue
					}
					checked++
					onRec := isSel(sel.X, "rec")
					switch {
					case onRec && stateFields[sel.Sel.Name] && !allowed[fn.Name.Name],
						sel.Sel.Name == "lastSpeech" && !allowed[fn.Name.Name] && !isNew(fn),
						sel.Sel.Name == "rec" && !wholeRecord[fn.Name.Name]:
						t.Errorf("%s: %s assigns %s outside Next's apply", fset.Position(x.Pos()), fn.Name.Name, render(x))
					}
				}
				return true
			})
		}
	}
	if checked == 0 {
		t.Fatal("no assignments found: the check reads nothing")
	}
}

// isSel reports whether x is a selector of field name (s.rec).
func isSel(x ast.Expr, name string) bool {
	sel, ok := x.(*ast.SelectorExpr)
	return ok && sel.Sel.Name == name
}

// isNew reports whether fn builds a session (it sets its first values).
func isNew(fn *ast.FuncDecl) bool { return fn.Name.Name == "newSession" }

func render(x ast.Expr) string {
	var b strings.Builder
	var walk func(ast.Expr)
	walk = func(e ast.Expr) {
		switch v := e.(type) {
		case *ast.SelectorExpr:
			walk(v.X)
			b.WriteString("." + v.Sel.Name)
		case *ast.Ident:
			b.WriteString(v.Name)
		default:
			b.WriteString("…")
		}
	}
	walk(x)
	return b.String()
}
