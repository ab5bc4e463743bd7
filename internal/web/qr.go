package web

import (
	"fmt"
	"html"
	"strings"

	"github.com/boombuler/barcode/qr"
)

// quiet is the QR code's margin in modules (the standard asks for four).
const quiet = 4

// qrSVG is the display's QR code of the captions page.
func qrSVG(text string) (string, error) { return QRSVG(text, "QR code of the captions page") }

// QRSVG renders text as an SVG QR code (error correction M, which survives
// a projector's glare and a phone held at an angle) with label as its
// accessible name. The SVG is built from module coordinates only: no part
// of text appears in it as markup; label is escaped. The console's QR
// codes use it too (cmd/izwi hands it to the admin console).
func QRSVG(text, label string) (string, error) {
	code, err := qr.Encode(text, qr.M, qr.Auto)
	if err != nil {
		return "", fmt.Errorf("web: qr: %w", err)
	}
	b := code.Bounds()
	n := b.Dx() + 2*quiet
	var sb strings.Builder
	fmt.Fprintf(&sb, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges" role="img" aria-label="%s"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n, html.EscapeString(label), n, n)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if r, _, _, _ := code.At(x, y).RGBA(); r == 0 {
				fmt.Fprintf(&sb, "M%d %dh1v1h-1z", x-b.Min.X+quiet, y-b.Min.Y+quiet)
			}
		}
	}
	sb.WriteString(`"/></svg>`)
	return sb.String(), nil
}
