package transcript

import (
	"fmt"
	"io"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"

	"github.com/izwi-speech/izwi/internal/speech"
)

// writePDF writes an A4 document meant to be read: the title, then each
// segment as a paragraph under a grey "[HH:MM:SS] Speaker" line, page
// numbers at the foot. The Go fonts (BSD, embedded in golang.org/x/image)
// cover Latin, Greek and Cyrillic without any font on the machine.
func writePDF(w io.Writer, t speech.Transcript, title string) error {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.SetMargins(20, 20, 20)
	pdf.SetAutoPageBreak(true, 20)
	pdf.SetCreator("Izwi", true)
	if title != "" {
		pdf.SetTitle(title, true)
	}
	pdf.AliasNbPages("{nb}")
	pdf.SetFooterFunc(func() {
		pdf.SetY(-15)
		pdf.SetFont("go", "", 8)
		pdf.SetTextColor(110, 110, 110)
		pdf.CellFormat(0, 10, fmt.Sprintf("%d / {nb}", pdf.PageNo()), "", 0, "C", false, 0, "")
	})
	pdf.AddPage()
	if title != "" {
		pdf.SetFont("go", "B", 16)
		pdf.SetTextColor(0, 0, 0)
		pdf.MultiCell(0, 8, pdfText(title), "", "L", false)
		pdf.Ln(4)
	}
	for _, p := range Paragraphs(t) {
		pdf.SetFont("go", "B", 9)
		pdf.SetTextColor(90, 90, 90)
		pdf.MultiCell(0, 5, pdfText(p.heading()), "", "L", false)
		pdf.SetFont("go", "", 11)
		pdf.SetTextColor(0, 0, 0)
		pdf.MultiCell(0, 6, pdfText(p.Text), "", "L", false)
		pdf.Ln(2)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("pdf: %w", err)
	}
	return nil
}

// pdfText keeps what the font can draw: control characters and invalid
// UTF-8 become spaces or U+FFFD.
func pdfText(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
