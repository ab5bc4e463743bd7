package webasset

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/fstest"
)

func TestHandler(t *testing.T) {
	fsys := fstest.MapFS{"assets/app.js": {Data: []byte("x()")}, "assets/app.css": {Data: []byte("p{}")},
		"assets/notes.txt": {Data: []byte("no")}, "secret.js": {Data: []byte("no")}}
	mux := http.NewServeMux()
	mux.Handle("GET /a/{file}", Handler(fsys, "assets", "default-src 'self'"))
	for _, tc := range []struct {
		path, ctype string
		code        int
	}{
		{"/a/app.js", "text/javascript; charset=utf-8", 200},
		{"/a/app.css", "text/css; charset=utf-8", 200},
		{"/a/notes.txt", "", 404},
		{"/a/missing.js", "", 404},
		{"/a/..%2Fsecret.js", "", 404},
	} {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != tc.code || (tc.code == 200 && (rec.Header().Get("Content-Type") != tc.ctype ||
			rec.Header().Get("Content-Security-Policy") != "default-src 'self'")) {
			t.Errorf("%s: %d %v", tc.path, rec.Code, rec.Header())
		}
	}
}
