package prepare

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	docx "github.com/fumiama/go-docx"

	"github.com/izwi-speech/izwi/internal/testenv"
)

// minimalPDF is a one-page PDF whose content stream shows lines of text,
// with a correct cross-reference table (offsets computed, not guessed).
func minimalPDF(lines ...string) []byte {
	var content strings.Builder
	content.WriteString("BT /F1 12 Tf 72 720 Td 14 TL\n")
	for _, l := range lines {
		fmt.Fprintf(&content, "(%s) Tj T*\n", l)
	}
	content.WriteString("ET\n")
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
		fmt.Sprintf("<< /Length %d >>\nstream\n%sendstream", content.Len(), content.String()),
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offsets := make([]int, len(objs))
	for i, o := range objs {
		offsets[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	xref := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, off := range offsets {
		fmt.Fprintf(&b, "%010d 00000 n \n", off)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, xref)
	return b.Bytes()
}

func minimalDOCX(t testing.TB, paras ...string) []byte {
	t.Helper()
	d := docx.New().WithDefaultTheme()
	for _, p := range paras {
		d.AddParagraph().AddText(p)
	}
	var b bytes.Buffer
	if _, err := d.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Each kind of document gives back its words, whether named by extension
// or recognised by its first bytes.
func TestExtract(t *testing.T) {
	testenv.LookPath(t, "pdftotext", "apt-get install poppler-utils")
	md := "# Order of service\n\n1. Welcome — *Nokuthula Dlamini*\n2. Reading: [Psalm 23](https://example.org/ps23)\n\n```\nThe Lord is my shepherd\n```\n"
	cases := []struct {
		name string
		data []byte
		want []string
		not  []string
	}{
		{"notes.txt", []byte("The Lord is my shepherd.\nI shall not want."), []string{"shepherd", "shall not want"}, nil},
		{"service.md", []byte(md), []string{"Order of service", "Nokuthula Dlamini", "Psalm 23", "The Lord is my shepherd"}, []string{"https://", "*", "#"}},
		{"sheet.docx", minimalDOCX(t, "Opening hymn: Abide with me", "Reader: Thandeka Mbeki"), []string{"Abide with me", "Thandeka Mbeki"}, nil},
		{"upload", minimalDOCX(t, "Sniffed by its zip signature"), []string{"Sniffed by its zip signature"}, nil},
		{"agenda.pdf", minimalPDF("Council agenda", "Item four: the library budget"), []string{"Council agenda", "library budget"}, nil},
		{"upload", minimalPDF("Sniffed by its header"), []string{"Sniffed by its header"}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := Extract(c.name, c.data)
			if err != nil {
				t.Fatal(err)
			}
			flat := strings.Join(strings.Fields(got), " ")
			for _, w := range c.want {
				if !strings.Contains(flat, w) {
					t.Errorf("missing %q in %q", w, flat)
				}
			}
			for _, w := range c.not {
				if strings.Contains(flat, w) {
					t.Errorf("markup %q left in %q", w, flat)
				}
			}
		})
	}
}

// Bad documents are refused with ErrFormat, never a panic.
func TestExtractRefusals(t *testing.T) {
	var bomb bytes.Buffer
	zw := zip.NewWriter(&bomb)
	w, _ := zw.Create("word/document.xml")
	zeros := make([]byte, 1<<20)
	for range 70 {
		w.Write(zeros)
	}
	zw.Close()
	cases := map[string]struct {
		name string
		data []byte
	}{
		"not utf-8":          {"a.txt", []byte{0xff, 0xfe, 'a'}},
		"markdown not utf-8": {"a.md", []byte{'#', ' ', 0xc3}},
		"zip bomb":           {"a.docx", bomb.Bytes()},
		"not a docx":         {"a.docx", []byte("PK\x03\x04 broken")},
		"not a pdf":          {"a.pdf", []byte("%PDF-1.4 nothing else")},
		"truncated pdf":      {"a.pdf", minimalPDF("cut")[:200]},
		"too large":          {"a.txt", bytes.Repeat([]byte("a"), MaxUploadBytes+1)},
		"too much text":      {"a.txt", bytes.Repeat([]byte("a "), MaxTextBytes/2+1)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Extract(c.name, c.data); !errors.Is(err, ErrFormat) {
				t.Fatalf("Extract = %v, want ErrFormat", err)
			}
		})
	}
}

func FuzzExtract(f *testing.F) {
	f.Add("a.txt", []byte("The Lord is my shepherd"))
	f.Add("a.md", []byte("# h\n\n* item\n\n```go\ncode\n```\n"))
	f.Add("a.pdf", minimalPDF("hello", "world"))
	f.Add("a.docx", minimalDOCX(f, "hello"))
	f.Add("x", []byte("%PDF-1.7\n1 0 obj<<>>endobj"))
	f.Add("x", []byte("PK\x03\x04\x14\x00"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		out, err := Extract(name, data)
		if err != nil && !errors.Is(err, ErrFormat) {
			t.Fatalf("error outside ErrFormat: %v", err)
		}
		if len(out) > MaxTextBytes {
			t.Fatalf("%d bytes of text", len(out))
		}
	})
}
