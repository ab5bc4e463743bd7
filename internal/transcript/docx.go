package transcript

import (
	"io"

	docx "github.com/fumiama/go-docx"

	"github.com/izwi-speech/izwi/internal/speech"
)

// writeDOCX writes a Word document: the title, then one paragraph per
// segment headed by its time and speaker in bold.
func writeDOCX(w io.Writer, t speech.Transcript, title string) error {
	doc := docx.New().WithDefaultTheme().WithA4Page()
	if title != "" {
		doc.AddParagraph().AddText(title).Bold().Size("32")
	}
	for _, p := range Paragraphs(t) {
		para := doc.AddParagraph()
		para.AddText(p.heading() + " ").Bold().Color("444444")
		para.AddText(p.Text)
	}
	_, err := doc.WriteTo(w)
	return err
}
