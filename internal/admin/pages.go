package admin

import (
	"embed"
	"fmt"
	"html/template"
)

// templates are the console's pages: plain server-rendered HTML. Most load
// no script at all, so the CSP can forbid them; a page that shows live
// figures loads the one same-origin console.js. Styles come from one
// same-origin stylesheet.
//
//go:embed templates/*.html
var templates embed.FS

//go:embed static/admin.css
var stylesheet []byte

//go:embed static/console.js
var consoleJS []byte

func parsePages() (*template.Template, error) {
	t, err := template.ParseFS(templates, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("admin: templates: %w", err)
	}
	return t, nil
}
