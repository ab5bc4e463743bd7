// Package memform owns reading a multipart/form-data body into memory and
// never into temporary files: mime/multipart's ReadForm (and so
// http.Request.ParseMultipartForm) writes parts beyond its memory bound to
// disk, and the files Izwi takes in forms — voice recordings, prepared
// texts — are audio and words, which never reach the disk unsealed. Every
// text field has its own bound, every file field one file at most; what
// the form may hold in all is bounded by the caller (http.MaxBytesReader).
package memform

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"unicode/utf8"
)

// ErrForm is any refusal: not multipart, an unknown or repeated field, a
// field over its bound or not UTF-8, a body cut short.
var ErrForm = errors.New("memform: malformed form")

// Spec names the fields a form may have.
type Spec struct {
	Fields map[string]int   // text field → most bytes
	Files  map[string]int64 // file field → most bytes
	// IgnoreUnknown skips fields the spec does not name (a page's own
	// controls) instead of refusing the form.
	IgnoreUnknown bool
}

// File is one uploaded file.
type File struct {
	Name string // the file name the client gave (its extension may tell the kind)
	Data []byte
}

// Form is a parsed form. A file field sent with no file chosen (an empty
// part) is absent from Files.
type Form struct {
	Values map[string]string
	Files  map[string]File
}

// Read parses r's multipart body by spec.
func Read(r *http.Request, spec Spec) (Form, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		return Form{}, ErrForm
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	f := Form{Values: map[string]string{}, Files: map[string]File{}}
	seen := map[string]bool{}
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return f, nil
		}
		if err != nil {
			return Form{}, ErrForm
		}
		name := p.FormName()
		fieldLimit, isField := spec.Fields[name]
		fileLimit, isFile := spec.Files[name]
		switch {
		case !isField && !isFile && spec.IgnoreUnknown:
			if _, err := io.Copy(io.Discard, p); err != nil {
				return Form{}, ErrForm
			}
			continue
		case !isField && !isFile, seen[name]:
			return Form{}, ErrForm
		}
		seen[name] = true
		if isFile {
			var buf bytes.Buffer
			n, err := io.Copy(&buf, io.LimitReader(p, fileLimit+1))
			if err != nil || n > fileLimit {
				return Form{}, ErrForm
			}
			if n > 0 {
				f.Files[name] = File{Name: p.FileName(), Data: buf.Bytes()}
			}
			continue
		}
		b, err := io.ReadAll(io.LimitReader(p, int64(fieldLimit)+1))
		if err != nil || len(b) > fieldLimit || !utf8.Valid(b) || p.FileName() != "" {
			return Form{}, ErrForm
		}
		f.Values[name] = string(b)
	}
}
