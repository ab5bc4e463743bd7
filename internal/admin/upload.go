package admin

import (
	"context"
	"net/http"

	"github.com/izwi-speech/izwi/internal/memform"
)

// An upload route's body is a multipart form (a browser's
// enctype="multipart/form-data" post) of a few known text fields and at
// most one file. guard reads it into memory with memform — never a
// temporary file: a prepared text is words, and words are not written to
// disk — bounded by the route's MaxBody, so the CSRF field is checked
// before the handler runs, as for every other console form.

// uploadSpec is what an upload form may carry.
var uploadSpec = memform.Spec{
	Fields: map[string]int{"csrf": 256, "text": maxContextText},
	Files:  map[string]int64{uploadFile: maxContextBody},
}

// uploadFile is the name of an upload form's one file field.
const uploadFile = "document"

type uploadKey struct{}

// uploadFrom returns the file of an upload route's request (nil: none, or
// the user chose no file).
func uploadFrom(r *http.Request) *memform.File {
	u, _ := r.Context().Value(uploadKey{}).(*memform.File)
	return u
}

// readUpload reads an upload form: its text fields, and its file if one
// was chosen.
func readUpload(r *http.Request) (map[string]string, *memform.File, error) {
	f, err := memform.Read(r, uploadSpec)
	if err != nil {
		return nil, nil, err
	}
	if doc, ok := f.Files[uploadFile]; ok {
		return f.Values, &doc, nil
	}
	return f.Values, nil, nil
}

// withUpload hands the parsed upload to the handler.
func withUpload(ctx context.Context, u *memform.File) context.Context {
	if u == nil {
		return ctx
	}
	return context.WithValue(ctx, uploadKey{}, u)
}
