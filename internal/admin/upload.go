package admin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"unicode/utf8"
)

// An upload route's body is a multipart form (a browser's
// enctype="multipart/form-data" post) of a few known text fields and at
// most one file. guard reads it into memory — never a temporary file: a
// prepared text is words, and words are not written to disk — bounded by
// the route's MaxBody, so the CSRF field is checked before the handler
// runs, as for every other console form.

// uploadFields are the text fields an upload form may carry, with the
// most bytes each may hold.
var uploadFields = map[string]int{
	"csrf": 256,
	"text": maxContextText,
}

// uploadFile is the name of an upload form's one file field.
const uploadFile = "document"

// Upload is the file part of an upload form.
type Upload struct {
	Name string // the file name the browser gave (its extension tells the kind)
	Data []byte
}

type uploadKey struct{}

// uploadFrom returns the file of an upload route's request (nil: none, or
// the user chose no file).
func uploadFrom(r *http.Request) *Upload {
	u, _ := r.Context().Value(uploadKey{}).(*Upload)
	return u
}

// readUpload reads a multipart form of uploadFields and one uploadFile,
// each part at most its bound and all of it at most what r.Body allows
// (guard wraps it in http.MaxBytesReader).
func readUpload(r *http.Request) (map[string]string, *Upload, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return nil, nil, errForm
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	form := map[string]string{}
	var up *Upload
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return form, up, nil
		}
		if err != nil {
			return nil, nil, errForm
		}
		name := p.FormName()
		if name == uploadFile {
			if up != nil {
				return nil, nil, errForm
			}
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, p); err != nil { // bounded by MaxBytesReader
				return nil, nil, errForm
			}
			if buf.Len() > 0 {
				up = &Upload{Name: p.FileName(), Data: buf.Bytes()}
			} else {
				up = &Upload{} // no file chosen: an empty part
			}
			continue
		}
		limit, ok := uploadFields[name]
		if _, dup := form[name]; !ok || dup || p.FileName() != "" {
			return nil, nil, errForm
		}
		b, err := io.ReadAll(io.LimitReader(p, int64(limit)+1))
		if err != nil || len(b) > limit || !utf8.Valid(b) {
			return nil, nil, errForm
		}
		form[name] = string(b)
	}
}

// withUpload hands the parsed upload to the handler.
func withUpload(ctx context.Context, u *Upload) context.Context {
	if u == nil || len(u.Data) == 0 {
		return ctx
	}
	return context.WithValue(ctx, uploadKey{}, u)
}
