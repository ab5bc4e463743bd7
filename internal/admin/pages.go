package admin

import (
	"embed"
	"fmt"
	"html/template"
)

// templates are the console's pages: plain server-rendered HTML with no
// scripts at all, so the CSP can forbid them; styles come from one
// same-origin stylesheet.
//
//go:embed templates/*.html
var templates embed.FS

func parsePages() (*template.Template, error) {
	t, err := template.ParseFS(templates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	return t, nil
}

const stylesheet = `body{font-family:system-ui,sans-serif;max-width:48rem;margin:1rem auto;padding:0 1rem;line-height:1.5;color:#111;background:#fff}
header{display:flex;justify-content:space-between;align-items:center;flex-wrap:wrap;border-bottom:1px solid #ccc}
nav a{margin-right:.75rem}.inline{display:inline}
input,select,button{font:inherit;padding:.3rem .5rem}input{min-width:18rem}
button{cursor:pointer}.error{color:#a00;border-left:4px solid #a00;padding-left:.5rem}
.ok{color:#060;border-left:4px solid #060;padding-left:.5rem}
table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
:focus-visible{outline:3px solid #05f;outline-offset:2px}.codes code{font-size:1.1rem}
`
