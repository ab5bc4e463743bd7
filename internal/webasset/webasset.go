// Package webasset owns serving a console page's embedded scripts and
// styles: one file name from the route, only files directly in the
// embedded directory, only the types a page loads, 404 for anything else.
package webasset

import (
	"io/fs"
	"net/http"
	"path"

	"github.com/izwi-speech/izwi/internal/api/apierr"
)

// types are the files a console page loads.
var types = map[string]string{".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}

// Handler serves GET …/{file} from dir in fsys. csp, when not empty, is
// the Content-Security-Policy sent with it.
func Handler(fsys fs.FS, dir, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		ct, ok := types[path.Ext(name)]
		if !ok || path.Base(name) != name || !fs.ValidPath(name) {
			apierr.Write(w, r, apierr.CodeNotFound, "")
			return
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			apierr.Write(w, r, apierr.CodeNotFound, "")
			return
		}
		w.Header().Set("Content-Type", ct)
		if csp != "" {
			w.Header().Set("Content-Security-Policy", csp)
		}
		_, _ = w.Write(b)
	})
}
