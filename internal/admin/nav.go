package admin

import (
	"context"
	"html/template"
	"net/http"
	"strings"
)

// NavItem is one entry of the console's navigation.
type NavItem struct {
	Path, Label string
	// Current marks the page being shown (aria-current="page").
	Current bool
}

// navOrder is every console section in the order the navigation shows it.
// A section appears only when a GET route for its path is mounted and the
// user's role may open it, so a page added later (by this package or as an
// extra Route from cmd/izwi) shows up in the navigation by itself.
var navOrder = []NavItem{
	{Path: "/sessions", Label: "Sessions"},
	{Path: "/schedules", Label: "Schedules"},
	{Path: "/archive", Label: "Archive"},
	{Path: "/review", Label: "Review"},
	{Path: "/keys", Label: "Keys"},
	{Path: "/audit", Label: "Audit"},
	{Path: "/speakers", Label: "Speakers"},
	{Path: "/health", Label: "Health"},
	{Path: "/settings", Label: "Settings"},
	{Path: "/users", Label: "Users"},
	{Path: "/account", Label: "Account"},
}

// navFor is the navigation a user of role sees, from the route table.
func navFor(routes []Route, role Role) []NavItem {
	access := map[string]Access{}
	for _, rt := range routes {
		if rt.Method == http.MethodGet {
			access[rt.Pattern] = rt.Access
		}
	}
	var out []NavItem
	for _, it := range navOrder {
		a, ok := access[it.Path]
		if !ok || a == Public || a == PendingMFA || (a == AdminOnly && role != RoleAdmin) {
			continue
		}
		out = append(out, it)
	}
	return out
}

type navKey struct{}

// navFrom returns the request's navigation with the current section marked.
func navFrom(r *http.Request) []NavItem {
	items, _ := r.Context().Value(navKey{}).([]NavItem)
	out := make([]NavItem, len(items))
	for i, it := range items {
		it.Current = r.URL.Path == it.Path || strings.HasPrefix(r.URL.Path, it.Path+"/")
		out[i] = it
	}
	return out
}

func withNav(ctx context.Context, items []NavItem) context.Context {
	return context.WithValue(ctx, navKey{}, items)
}

// chrome is the shared top of every page: the skip link, the header with
// the navigation and the logout button. Extra routes' pages (Speakers)
// include it through Chrome so that every console page looks and behaves
// the same.
var chrome = template.Must(template.New("chrome").Parse(`<a class="skip" href="#main">Skip to content</a>
<header class="top">
<p class="brand"><a href="/">Izwi console</a></p>
{{if .Nav}}<nav aria-label="Console"><ul>{{range .Nav}}<li><a href="{{.Path}}"{{if .Current}} aria-current="page"{{end}}>{{.Label}}</a></li>{{end}}</ul></nav>{{end}}
{{if and .User .CSRF}}<form method="post" action="/logout" class="logout"><input type="hidden" name="csrf" value="{{.CSRF}}"><button type="submit">Log out {{.User.Name}}</button></form>{{end}}
</header>`))

// Chrome renders the console's header and navigation for a page served by
// an extra Route (one that renders its own HTML): put it first in <body>,
// link /static/admin.css, and give the page's <main> the id "main".
func Chrome(r *http.Request) template.HTML {
	var p page
	if s, ok := SessionFrom(r.Context()); ok {
		u := s.User
		p.User, p.CSRF = &u, s.CSRFToken()
	}
	p.Nav = navFrom(r)
	return chromeHTML(p)
}

// chromeHTML renders p's header and navigation.
func chromeHTML(p page) template.HTML {
	var b strings.Builder
	if err := chrome.Execute(&b, p); err != nil {
		return ""
	}
	return template.HTML(b.String()) // #nosec G203 -- rendered by html/template above
}
