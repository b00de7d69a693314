package web

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

//go:embed templates
var templateFS embed.FS

// Every templates/<name>.html other than these two is a page, parsed on top of them.
const (
	layoutTemplate   = "layout.html"
	partialsTemplate = "partials.html" // shared pieces: the error summary, a field's error message
	// extraPartialsPrefix names more files of shared pieces, one per feature (partial-recipient.html).
	extraPartialsPrefix = "partial-"
)

type pages struct {
	byName map[string]*template.Template
}

// parsePages parses every page at start, so a broken template is an error from New (and a failing test), never a
// broken response.
func parsePages(fsys fs.FS, staticURL func(string) string) (*pages, error) {
	funcs := template.FuncMap{
		"static":      staticURL,
		"kr":          formatKr,
		"permille":    domain.PermilleText,
		"krRounded":   formatKrRounded,
		"date":        formatDate,
		"timeDate":    formatTimeDate,
		"dateTime":    formatDateTime,
		"phase":       func(p domain.Phase) string { return p.DanishName() },
		"role":        roleName,
		"outcome":     outcomeName,
		"tranche":     trancheStatusName,
		"event":       eventName,
		"total":       domain.Total,
		"derefMoney":  func(m *domain.Money) domain.Money { return *m },
		"dict":        dict,
		"chartHeight": func(bars []bar) int { return len(bars)*56 + 8 },
	}
	files, err := fs.Glob(fsys, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("web: templates: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, f := range files {
		base := path.Base(f)
		if base == layoutTemplate || base == partialsTemplate || strings.HasPrefix(base, extraPartialsPrefix) {
			continue
		}
		name := strings.TrimSuffix(base, ".html")
		t, err := template.New(layoutTemplate).Funcs(funcs).ParseFS(fsys,
			"templates/"+layoutTemplate, "templates/"+partialsTemplate, "templates/"+extraPartialsPrefix+"*.html", f)
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// layoutView is what the layout reads; Page is the page's own view.
type layoutView struct {
	Title  string
	Nav    string // the active main navigation item
	Viewer *viewer
	CSRF   string
	Unread int // the viewer's unread notifications, in the header (notifications.go)
	Page   any
}

// navOf is the main navigation item a page belongs to. A page named "<item>-<something>" (initiatives-new,
// finance-inbox) belongs to <item>.
var navOf = map[string]string{"work": "work", "initiatives": "initiatives", "initiative": "initiatives",
	"plan": "plan", "finance": "finance", "notifikationer": "notifications",
	"bestyrelse": "plan", "moeder": "meetings", "moede": "meetings", "oekonomi": "finance",
	"annual": "plan"}

func navItem(page string) string {
	if n, ok := navOf[page]; ok {
		return n
	}
	prefix, _, _ := strings.Cut(page, "-")
	return navOf[prefix]
}

// render writes a page. It renders into a buffer first, so a template that fails half-way produces a clean 500
// instead of half a page.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, status int, name string, v *viewer, title string, page any) {
	t, ok := w.pages.byName[name]
	if !ok {
		w.serverError(rw, r, fmt.Errorf("web: no page %q", name))
		return
	}
	lv := layoutView{Title: title, Nav: navItem(name), Viewer: v, Page: page, Unread: w.unreadCount(r, v)}
	if v != nil || name == "signin" {
		// Only these pages have forms; error pages may be rendered where no session was loaded.
		lv.CSRF = w.csrfToken(r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", lv); err != nil {
		if name == "error" {
			w.log.Error("web: error page failed", "err", err)
			http.Error(rw, "Der opstod en fejl.", http.StatusInternalServerError)
			return
		}
		w.serverError(rw, r, fmt.Errorf("web: render %s: %w", name, err))
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	_, _ = buf.WriteTo(rw)
}

// errorView is the error page.
type errorView struct {
	Heading string
	Text    string
}

func (w *Web) notFoundHandler(rw http.ResponseWriter, r *http.Request) { w.notFound(rw, r) }

func (w *Web) notFound(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, r, http.StatusNotFound, "error", nil, "Siden findes ikke", errorView{
		Heading: "Siden findes ikke",
		Text:    "Vi kan ikke finde den side, du leder efter. Tjek adressen, eller gå til forsiden.",
	})
}

func (w *Web) badRequest(rw http.ResponseWriter, r *http.Request, text string) {
	w.render(rw, r, http.StatusBadRequest, "error", nil, "Ugyldig forespørgsel", errorView{
		Heading: "Ugyldig forespørgsel", Text: text,
	})
}

// forbiddenCSRF answers a POST that failed a CSRF check: cross-origin, or without the session's token (for
// example a form left open past the end of its session).
func (w *Web) forbiddenCSRF(rw http.ResponseWriter, r *http.Request) {
	w.render(rw, r, http.StatusForbidden, "error", nil, "Handlingen blev afvist", errorView{
		Heading: "Handlingen blev afvist",
		Text: "Formularen kunne ikke godkendes, fordi den ikke kom fra denne side, eller fordi din session er udløbet. " +
			"Gå tilbage, genindlæs siden og prøv igen.",
	})
}

// serverError logs err with the request and answers a Danish 500 page that says nothing internal.
func (w *Web) serverError(rw http.ResponseWriter, r *http.Request, err error) {
	w.log.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	w.render(rw, r, http.StatusInternalServerError, "error", nil, "Der opstod en fejl", errorView{
		Heading: "Der opstod en fejl",
		Text:    "Siden kunne ikke vises lige nu. Prøv igen om lidt. Fortsætter fejlen, så kontakt sekretariatet.",
	})
}

// dict builds a map from key-value pairs, so a template can pass several values to another.
func dict(kv ...any) (map[string]any, error) {
	if len(kv)%2 != 0 {
		return nil, fmt.Errorf("dict: odd number of arguments")
	}
	m := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, fmt.Errorf("dict: key %v is not a string", kv[i])
		}
		m[k] = kv[i+1]
	}
	return m, nil
}

// ruleStatus is the HTTP status of a refusal, as the API answers it (api/errors.go, problemKinds), for every
// page that shows one.
func ruleStatus(c domain.Code) int {
	switch c {
	case domain.CodeValidation, domain.CodeUnknownMilestone:
		return http.StatusUnprocessableEntity
	case domain.CodeForbidden:
		return http.StatusForbidden
	case domain.CodeNotFound:
		return http.StatusNotFound
	case domain.CodeWrongPhase, domain.CodeInsufficientFunds, domain.CodeAlreadyPaid, domain.CodeConflict,
		domain.CodeFrameExceeded, domain.CodeCofinancing, domain.CodeYearCommitmentExceeded, domain.CodeStatementOverdue:
		return http.StatusConflict
	}
	return http.StatusUnprocessableEntity
}

// passing reports whether err is a fault that goes away by itself — Temporal or PostgreSQL not answering, an
// update still running, the read model a step behind — so a page answers 503 and the user tries again, never 500.
func passing(err error) bool {
	return errors.Is(err, service.ErrUnavailable) || errors.Is(err, service.ErrStillRunning) ||
		errors.Is(err, service.ErrReadModelBehind) || store.Transient(err)
}

// retryAfterSeconds is sent with a 503 page: the dependency usually returns, or the update completes, soon.
const retryAfterSeconds = "5"

// serviceUnavailable logs a passing fault and answers the page's 503 with Retry-After; view says, in the page's
// own words, what happened to what the user sent.
func (w *Web) serviceUnavailable(rw http.ResponseWriter, r *http.Request, v *viewer, err error, view errorView) {
	w.log.Warn("web: unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
	rw.Header().Set("Retry-After", retryAfterSeconds)
	w.render(rw, r, http.StatusServiceUnavailable, "error", v, view.Heading, view)
}
