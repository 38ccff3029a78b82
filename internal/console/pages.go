package console

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"
)

// Link is one entry of the navigation.
type Link struct{ Href, Label string }

// Page is what the layout shows around a page's content.
type Page struct {
	Product string // "Signpost SMP", "Signpost SML"
	Title   string
	User    string // empty: not signed in (no navigation)
	Admin   bool
	Nav     []Link
	Active  string // the Href of the current navigation entry
	Flash   string // a success message
	Error   string // a failure message about the whole page
	Data    any    // the page's own data
}

// Pages are the templates of a console: each page file of its file system (name.html, defining "content")
// parsed into the shared layout, and the shared login page as "login".
type Pages struct {
	t   map[string]*template.Template
	log *slog.Logger
}

// Funcs are the template functions every console has.
var Funcs = template.FuncMap{
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02")
	},
}

// NewPages parses the *.html files of pages (and the shared login page) into the layout.
func NewPages(pages fs.FS, funcs template.FuncMap, log *slog.Logger) (*Pages, error) {
	base, err := template.New("").Funcs(Funcs).Funcs(funcs).ParseFS(assets, "assets/layout.html")
	if err != nil {
		return nil, err
	}
	p := &Pages{t: map[string]*template.Template{}, log: log}
	add := func(fsys fs.FS, file string) error {
		c, err := base.Clone()
		if err != nil {
			return err
		}
		t, err := c.ParseFS(fsys, file)
		if err != nil {
			return err
		}
		p.t[strings.TrimSuffix(path.Base(file), ".html")] = t
		return nil
	}
	if err := add(assets, "assets/login.html"); err != nil {
		return nil, err
	}
	files, err := fs.Glob(pages, "*.html")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		if err := add(pages, f); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// Execute renders the page name.
func (p *Pages) Execute(name string, pg Page) ([]byte, error) {
	t, ok := p.t[name]
	if !ok {
		return nil, fmt.Errorf("no page %q", name)
	}
	var buf bytes.Buffer
	err := t.ExecuteTemplate(&buf, "layout", pg)
	return buf.Bytes(), err
}

// Render writes the page name with status code; a template failure is logged and answered 500.
func (p *Pages) Render(w http.ResponseWriter, code int, name string, pg Page) {
	b, err := p.Execute(name, pg)
	if err != nil {
		if p.log != nil {
			p.log.Error("console page failed", "page", name, "err", err)
		}
		http.Error(w, "the page could not be shown (logged)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}
