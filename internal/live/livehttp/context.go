package livehttp

import (
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/izwi-speech/izwi/internal/api/apierr"
	"github.com/izwi-speech/izwi/internal/live"
	"github.com/izwi-speech/izwi/internal/prepare"
)

// documentTypes maps the Content-Types a prepared-text document may be
// sent as to the name prepare.Extract recognises it by.
var documentTypes = map[string]string{
	"text/plain":      "context.txt",
	"text/markdown":   "context.md",
	"application/pdf": "context.pdf",
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": "context.docx",
	"application/octet-stream": "context", // recognised by its first bytes
}

// context is PUT /v1/sessions/{id}/context: the body is a document of
// prepared text (at most prepare.MaxUploadBytes), whose words replace the
// session's prepared text, as PATCH's context.text would. The document is
// read, its text kept in memory, and nothing of it is stored or logged.
func (h *Handlers) context(w http.ResponseWriter, r *http.Request) {
	p, ok := principal(w, r)
	if !ok {
		return
	}
	id, ok := pathID(w, r)
	if !ok {
		return
	}
	ct, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	name, known := documentTypes[ct]
	if err != nil || !known {
		apierr.Write(w, r, apierr.CodeUnsupportedMediaType,
			"send the document as text/plain, text/markdown, application/pdf or a DOCX (application/vnd.openxmlformats-officedocument.wordprocessingml.document)")
		return
	}
	if r.ContentLength > prepare.MaxUploadBytes {
		apierr.Write(w, r, apierr.CodePayloadTooLarge, "the document must be at most 20 MB")
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, prepare.MaxUploadBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		apierr.Write(w, r, apierr.CodePayloadTooLarge, "the document must be at most 20 MB")
		return
	case err != nil:
		apierr.Write(w, r, apierr.CodeBadRequest, "the document could not be read")
		return
	}
	text, err := prepare.Extract(name, data)
	if err != nil {
		apierr.Write(w, r, apierr.CodeUnprocessable, "the document's text could not be read: "+strings.TrimPrefix(err.Error(), prepare.ErrFormat.Error()+": "))
		return
	}
	h.applyUpdate(w, r, p, id, live.UpdateRequest{Context: &live.PreparedText{Text: text}})
}
