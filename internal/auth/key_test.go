package auth

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		id, secret := newKeyID(), newKeySecret()
		key := FormatKey(id, secret)
		if len(key) != KeyLen || seen[key] {
			t.Fatalf("key %d chars or repeated", len(key))
		}
		seen[key] = true
		gid, gsecret, err := ParseKey(key)
		if err != nil || gid != id || gsecret != secret {
			t.Fatalf("round trip: %v", err)
		}
	}
	good := FormatKey("abcdefgh2345", newKeySecret())
	for _, bad := range []string{"", "izk_", good[:len(good)-1], good + "a", "IZK_" + good[4:], strings.ToUpper(good),
		good[:16] + "-" + good[17:], "izk_abcdefgh234!_" + good[17:], good[:len(good)-1] + "1",
		// base32 of 32 bytes ends in a character carrying 4 padding bits: only canonical spellings parse
		good[:len(good)-1] + "z"} {
		if _, _, err := ParseKey(bad); err == nil {
			t.Errorf("ParseKey(%q) accepted", bad)
		} else if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("ParseKey error %v does not wrap ErrInvalidCredentials", err)
		}
	}
}

func FuzzParseKey(f *testing.F) {
	f.Add(FormatKey("abcdefgh2345", strings.Repeat("a", 52)))
	f.Add("izk_abcdefgh2345_" + strings.Repeat("7", 52))
	f.Add("izk_")
	f.Add("")
	f.Add("izk_\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00_" + strings.Repeat("a", 52))
	f.Fuzz(func(t *testing.T, s string) {
		id, secret, err := ParseKey(s)
		if err != nil {
			if strings.Contains(err.Error(), s) && s != "" && len(s) > 4 {
				t.Fatalf("error echoes input")
			}
			return
		}
		// Accepted keys are exactly the canonical format.
		if FormatKey(id, secret) != s || !ValidKeyID(id) || len(s) != KeyLen {
			t.Fatalf("accepted non-canonical %q", s)
		}
		b, err := keyEncoding.DecodeString(secret)
		if err != nil || len(b) != 32 {
			t.Fatalf("accepted a secret that is not 32 bytes")
		}
	})
}

func FuzzCredentialsInURL(f *testing.F) {
	f.Add("api_key=izk_x")
	f.Add("a=1&b=2")
	f.Add("%zz&token=1")
	f.Add("k=izk%5Fabc")
	f.Fuzz(func(t *testing.T, q string) {
		got := CredentialsInURL(q)
		if strings.Contains(q, KeyPrefix) && !got {
			t.Fatalf("missed a key in %q", q)
		}
	})
}

// The secret comparison is constant-time: the package compares hashes only
// through equalHash, which uses crypto/subtle, and never with bytes.Equal,
// ==, hmac.Equal on secrets, or string comparison of secrets.
func TestConstantTimeCompareUsed(t *testing.T) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	var subtleInEqual, verifyUsesEqual bool
	{
		for _, file := range files {
			ast.Inspect(file, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.FuncDecl:
					if n.Name.Name == "equalHash" {
						ast.Inspect(n, func(m ast.Node) bool {
							if sel, ok := m.(*ast.SelectorExpr); ok && sel.Sel.Name == "ConstantTimeCompare" {
								subtleInEqual = true
							}
							return true
						})
					}
					if n.Name.Name == "Verify" {
						ast.Inspect(n, func(m ast.Node) bool {
							if c, ok := m.(*ast.CallExpr); ok {
								if id, ok := c.Fun.(*ast.Ident); ok && id.Name == "equalHash" {
									verifyUsesEqual = true
								}
							}
							return true
						})
					}
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "bytes" && n.Sel.Name == "Equal" {
						t.Errorf("%s: bytes.Equal in the auth package; compare secrets with equalHash", fset.Position(n.Pos()))
					}
				case *ast.BinaryExpr:
					for _, side := range []ast.Expr{n.X, n.Y} {
						if id, ok := side.(*ast.Ident); ok && (id.Name == "secret" || id.Name == "hash") && (n.Op == token.EQL || n.Op == token.NEQ) {
							t.Errorf("%s: %s compared with %s", fset.Position(n.Pos()), id.Name, n.Op)
						}
					}
				}
				return true
			})
		}
	}
	if !subtleInEqual || !verifyUsesEqual {
		t.Fatalf("equalHash uses subtle: %v; Verify uses equalHash: %v", subtleInEqual, verifyUsesEqual)
	}
}

func TestKeyFromRequest(t *testing.T) {
	key := FormatKey("abcdefgh2345", newKeySecret())
	for _, tc := range []struct {
		hdr  http.Header
		want bool
	}{
		{http.Header{"Authorization": {"Bearer " + key}}, true},
		{http.Header{"Authorization": {"Token " + key}}, true},
		{http.Header{"Authorization": {"Basic " + key}}, false},
		{http.Header{"Authorization": {"Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig"}}, false},
		{http.Header{"Sec-Websocket-Protocol": {"token, " + key}}, true},
		{http.Header{"Sec-Websocket-Protocol": {"chat, v1"}}, false},
		{http.Header{}, false},
	} {
		r := &http.Request{Header: tc.hdr}
		got, ok := KeyFromRequest(r)
		if ok != tc.want || (ok && got != key) {
			t.Errorf("%v: %v", tc.hdr, ok)
		}
	}
	r := &http.Request{Header: http.Header{"Authorization": {"Bearer " + key}, "Sec-Websocket-Protocol": {"token, " + key, "v1.izwi"}}}
	Redact(r)
	if r.Header.Get("Authorization") != "" || r.Header.Get("Sec-Websocket-Protocol") != "token, v1.izwi" {
		t.Fatalf("after Redact: %v", r.Header)
	}
}

type fixedAuth struct {
	p   Principal
	err error
}

func (f fixedAuth) Authenticate(*http.Request) (Principal, error) { return f.p, f.err }

func TestChain(t *testing.T) {
	r := &http.Request{Header: http.Header{}}
	none := fixedAuth{err: ErrNoCredentials}
	if _, err := (Chain{none, none}).Authenticate(r); !errors.Is(err, ErrNoCredentials) {
		t.Fatal(err)
	}
	if p, err := (Chain{none, fixedAuth{p: Principal{ID: "x"}}}).Authenticate(r); err != nil || p.ID != "x" {
		t.Fatal(err)
	}
	// A recognised but bad credential stops the chain: no fall-through to
	// a later authenticator.
	bad := fixedAuth{err: &Failure{Actor: "key:x", Reason: "revoked", Err: ErrRevoked}}
	if _, err := (Chain{bad, fixedAuth{p: Principal{ID: "x"}}}).Authenticate(r); !errors.Is(err, ErrRevoked) {
		t.Fatal(err)
	}
	if !Owns(Principal{Subject: "key:a"}, "key:a") || Owns(Principal{Subject: "key:b"}, "key:a") || Owns(Principal{}, "") {
		t.Fatal("Owns")
	}
}

// Header parsing never panics, and Redact leaves no Izwi key behind in
// either header it reads.
func FuzzKeyFromHeaders(f *testing.F) {
	key := FormatKey("abcdefgh2345", strings.Repeat("a", 52))
	f.Add("Bearer "+key, "token, "+key)
	f.Add("Token "+key, "")
	f.Add("", "token,"+key+",v1")
	f.Add("bearer", "token")
	f.Add("Basic x", ",,token,,")
	f.Fuzz(func(t *testing.T, authz, proto string) {
		r := &http.Request{Header: http.Header{}}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if proto != "" {
			r.Header.Set("Sec-WebSocket-Protocol", proto)
		}
		if got, ok := KeyFromRequest(r); ok && !strings.HasPrefix(got, KeyPrefix) {
			t.Fatalf("returned a non-key %q", got)
		}
		Redact(r)
		if _, ok := KeyFromRequest(r); ok {
			t.Fatalf("a key survived Redact: %v", r.Header)
		}
	})
}
