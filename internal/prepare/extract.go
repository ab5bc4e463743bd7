package prepare

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	docx "github.com/fumiama/go-docx"
	"github.com/ledongthuc/pdf"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/text"
)

// MaxUploadBytes bounds an uploaded document before it is parsed;
// maxUnpackedBytes bounds what a DOCX (a zip) may unpack to.
const (
	MaxUploadBytes   = 20 << 20
	maxUnpackedBytes = 64 << 20
)

// ErrFormat means a document could not be read as the kind it claims.
var ErrFormat = errors.New("prepare: unreadable document")

// Extract returns the plain text of a prepared-text document: plain text,
// Markdown, DOCX or PDF, recognised by its name's extension or, failing
// that, by its first bytes. The text is at most MaxTextBytes; a document
// with more is refused rather than cut, so nobody wonders why the second
// half of the service is unknown.
func Extract(name string, data []byte) (string, error) {
	if len(data) > MaxUploadBytes {
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrFormat, len(data), MaxUploadBytes)
	}
	var out string
	var err error
	switch kind(name, data) {
	case "pdf":
		out, err = pdfText(data)
	case "docx":
		out, err = docxText(data)
	case "md":
		out, err = markdownText(data)
	default:
		if !utf8.Valid(data) {
			return "", fmt.Errorf("%w: the text is not UTF-8", ErrFormat)
		}
		out = string(data)
	}
	if err != nil {
		return "", err
	}
	if len(out) > MaxTextBytes {
		return "", fmt.Errorf("%w: %d bytes of text, at most %d", ErrFormat, len(out), MaxTextBytes)
	}
	return out, nil
}

func kind(name string, data []byte) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".pdf":
		return "pdf"
	case ".docx":
		return "docx"
	case ".md", ".markdown":
		return "md"
	case ".txt", ".text":
		return "txt"
	}
	switch {
	case bytes.HasPrefix(data, []byte("%PDF-")):
		return "pdf"
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		return "docx"
	}
	return "txt"
}

// recovered turns a panic inside a third-party parser into ErrFormat: a
// malformed upload must never take the server down.
func recovered(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: the parser gave up (%v)", ErrFormat, r)
	}
}

func pdfText(data []byte) (out string, err error) {
	defer recovered(&err)
	r, err := pdf.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%w: pdf: %v", ErrFormat, err)
	}
	tr, err := r.GetPlainText()
	if err != nil {
		return "", fmt.Errorf("%w: pdf: %v", ErrFormat, err)
	}
	b, err := io.ReadAll(io.LimitReader(tr, MaxTextBytes+1))
	if err != nil {
		return "", fmt.Errorf("%w: pdf: %v", ErrFormat, err)
	}
	return string(b), nil
}

func docxText(data []byte) (out string, err error) {
	defer recovered(&err)
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%w: docx: %v", ErrFormat, err)
	}
	var total uint64
	for _, f := range zr.File {
		total += f.UncompressedSize64
	}
	if total > maxUnpackedBytes {
		return "", fmt.Errorf("%w: docx unpacks to %d bytes, at most %d", ErrFormat, total, maxUnpackedBytes)
	}
	doc, err := docx.Parse(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return "", fmt.Errorf("%w: docx: %v", ErrFormat, err)
	}
	var sb strings.Builder
	for _, it := range doc.Document.Body.Items {
		switch o := it.(type) {
		case *docx.Paragraph:
			sb.WriteString(o.String())
			sb.WriteByte('\n')
		case *docx.Table:
			sb.WriteString(o.String())
			sb.WriteByte('\n')
		}
	}
	return sb.String(), nil
}

// markdownText keeps the words of a Markdown document: headings,
// paragraphs and list items each end a line; markup, link targets and code
// fences' info strings go.
func markdownText(data []byte) (out string, err error) {
	defer recovered(&err)
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%w: the text is not UTF-8", ErrFormat)
	}
	doc := goldmark.New().Parser().Parse(text.NewReader(data))
	var sb strings.Builder
	err = ast.Walk(doc, func(n ast.Node, entering bool) (ast.WalkStatus, error) {
		switch n := n.(type) {
		case *ast.Text:
			if entering {
				sb.Write(n.Segment.Value(data))
				if n.SoftLineBreak() || n.HardLineBreak() {
					sb.WriteByte('\n')
				} else {
					sb.WriteByte(' ')
				}
			}
		case *ast.Heading, *ast.Paragraph, *ast.ListItem, *ast.TextBlock:
			if !entering {
				sb.WriteByte('\n')
			}
		case *ast.CodeBlock, *ast.FencedCodeBlock:
			if entering {
				lines := n.Lines()
				for i := range lines.Len() {
					seg := lines.At(i)
					sb.Write(seg.Value(data))
				}
			}
			return ast.WalkSkipChildren, nil
		}
		return ast.WalkContinue, nil
	})
	return sb.String(), err
}
