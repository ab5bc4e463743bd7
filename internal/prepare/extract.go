package prepare

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path"
	"strings"
	"time"
	"unicode/utf8"

	docx "github.com/fumiama/go-docx"
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

// pdfText runs Debian's pdftotext (poppler) in a subprocess: a PDF is a
// program-like format, and the pure-Go readers tried loop forever on a
// page tree that points at itself (found by FuzzExtract). A subprocess can
// be bounded in time and killed; its output is bounded too.
func pdfText(data []byte) (string, error) {
	bin, err := exec.LookPath("pdftotext")
	if err != nil {
		return "", fmt.Errorf("%w: PDF needs pdftotext (apt-get install poppler-utils)", ErrFormat)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pdfTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-q", "-enc", "UTF-8", "-nopgbrk", "-", "-")
	cmd.Stdin = bytes.NewReader(data)
	cmd.Env = []string{"LANG=C.UTF-8"}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return "", fmt.Errorf("%w: pdf: %v", ErrFormat, err)
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("%w: pdf: %v", ErrFormat, err)
	}
	out, readErr := io.ReadAll(io.LimitReader(stdout, MaxTextBytes+1))
	if len(out) > MaxTextBytes {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case len(out) > MaxTextBytes:
		return "", fmt.Errorf("%w: more than %d bytes of text", ErrFormat, MaxTextBytes)
	case ctx.Err() != nil:
		return "", fmt.Errorf("%w: pdf: not read within %v", ErrFormat, pdfTimeout)
	case readErr != nil || waitErr != nil:
		return "", fmt.Errorf("%w: pdf: pdftotext could not read it", ErrFormat)
	}
	if !utf8.Valid(out) {
		return "", fmt.Errorf("%w: pdf: the text is not UTF-8", ErrFormat)
	}
	return string(out), nil
}

// pdfTimeout bounds one PDF's reading; a 300-page text takes well under.
const pdfTimeout = 10 * time.Second

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
