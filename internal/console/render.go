package console

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed templates
var templateFS embed.FS

// views holds one template set per page template: the layout with the
// page's "content".
type views struct {
	sets map[string]*template.Template
}

var funcs = template.FuncMap{
	"pct": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", math.Floor(*p*10)/10)
	},
	"below": func(p *float64, line float64) bool { return p != nil && *p < line },
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "–"
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		case *time.Time:
			if v == nil || v.IsZero() {
				return "–"
			}
			return v.UTC().Format("2006-01-02 15:04:05Z")
		}
		return ""
	},
	"age": func(sec float64) string {
		if sec <= 0 {
			return "–"
		}
		return (time.Duration(sec) * time.Second).Round(time.Second).String()
	},
	// query builds a link's query string from name, value pairs, leaving
	// out empty values: shareable links of filtered lists.
	"query": func(path string, kv ...string) string {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		if len(v) == 0 {
			return path
		}
		return path + "?" + v.Encode()
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
}

// parseViews parses the layout with each page's template, and the
// sign-in and error pages.
func parseViews(pages []Page) (*views, error) {
	v := &views{sets: map[string]*template.Template{}}
	names := []string{"signin", "error"}
	for _, p := range pages {
		if p.Template != "" {
			names = append(names, p.Template)
		}
	}
	for _, n := range names {
		if v.sets[n] != nil {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+n+".html")
		if err != nil {
			return nil, fmt.Errorf("console: template %s: %w", n, err)
		}
		v.sets[n] = t
	}
	return v, nil
}

// layout is what every page's template gets: the page's own data in
// .Data, and what the frame needs.
type layout struct {
	Title   string
	Path    string
	Nav     []navItem
	KeyName string
	Scopes  string
	CSRF    string
	Flash   string
	Data    any
	rq      *Request
}

type navItem struct {
	Label, Path string
	Active      bool
}

// Can reports whether the signed-in key may call an API route, for
// templates: {{if $.Can "POST" (print "/api/v1/runs/" .ID "/approve")}}.
func (l *layout) Can(method, path string) bool { return l.rq != nil && l.rq.Can(method, path) }

func (c *Console) render(w http.ResponseWriter, r *http.Request, rq *Request, status int, tmpl, title string, data any) {
	l := &layout{Title: title, Path: r.URL.Path, Data: data, rq: rq}
	if rq != nil {
		l.KeyName, l.Scopes, l.CSRF = rq.Key.Name, strings.Join(rq.Key.Scopes, ", "), rq.CSRF()
		for _, p := range c.pages {
			if p.Nav != "" && (p.Scope == "" || keyAllows(rq.Key, p.Scope)) {
				path := strings.TrimSuffix(p.Path, "{$}")
				l.Nav = append(l.Nav, navItem{Label: p.Nav, Path: path,
					Active: r.URL.Path == path || (path != "/" && strings.HasPrefix(r.URL.Path, path))})
			}
		}
		l.Flash = c.takeFlash(w, r)
	}
	set := c.views.sets[tmpl]
	if set == nil {
		set = c.views.sets["error"]
		l.Data = "no template " + tmpl
	}
	var buf bytes.Buffer
	if err := set.ExecuteTemplate(&buf, "layout.html", l); err != nil {
		c.log.Error("console: render", "template", tmpl, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (c *Console) renderError(w http.ResponseWriter, r *http.Request, rq *Request, status int, msg string) {
	c.render(w, r, rq, status, "error", http.StatusText(status), msg)
}
