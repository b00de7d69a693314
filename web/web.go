// Package web is the Danish web application: server-rendered pages (html/template, Det Fælles Designsystem)
// for the operational group, the board and finance, mounted by the API for every path outside /api/.
//
// Pages read through the same store as the API; this round they are read-only (actions arrive with the service
// package). Every page works without JavaScript. Sign-in keeps only the user's ID in a server-side session
// (github.com/alexedwards/scs on PostgreSQL); the user's roles are read on every request, as the API reads them
// for every token. Every POST passes two CSRF checks: net/http.CrossOriginProtection (Sec-Fetch-Site/Origin) and
// a per-session synchronizer token in a hidden form field.
package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/v2"
	"github.com/hashicorp/golang-lru/v2/expirable"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// Store is what the pages read (implemented by *store.Store). Lookups of something that does not exist return an
// error wrapping store.ErrNotFound.
type Store interface {
	// PrincipalByTokenHash returns the user behind sha256(token), as the API authenticates it.
	PrincipalByTokenHash(ctx context.Context, tokenHash []byte) (store.Principal, error)
	// PrincipalByUserID returns the signed-in user with their current roles.
	PrincipalByUserID(ctx context.Context, userID string) (store.Principal, error)
	ListUsers(ctx context.Context, planID string) ([]domain.User, error)
	GetPlan(ctx context.Context, id string) (domain.Plan, error)
	Budget(ctx context.Context, planID string) (store.Budget, error)
	GetInitiative(ctx context.Context, id string) (domain.Initiative, error)
	ListInitiatives(ctx context.Context, f store.InitiativeFilter) ([]store.InitiativeSummary, string, error)
	ListEvents(ctx context.Context, initiativeID string, afterSeq int64, limit int) ([]store.Event, error)
	ListWork(ctx context.Context, f store.WorkFilter) ([]store.WorkItem, bool, error)
	// PhaseCounts counts the plan's initiatives per phase (Planen).
	PhaseCounts(ctx context.Context, planID string) (map[domain.Phase]int, error)
	// OpenInitiatives and InitiativesByID read whole snapshots, for the deadlines of open steps (Planen, Mit
	// arbejde).
	OpenInitiatives(ctx context.Context, planID string, limit int) ([]domain.Initiative, bool, error)
	InitiativesByID(ctx context.Context, planID string, ids []string) ([]domain.Initiative, error)
}

// DefaultDevPlanID is the plan whose members the dev sign-in page lists when Config.DevPlanID is empty.
const DefaultDevPlanID = "viborg-2021-2025"

// Config configures the web application. The zero value is the production setting: sign-in with an API token
// only, cookies Secure when the request came over TLS.
type Config struct {
	// DevSignIn lists the members of DevPlanID on the sign-in page and signs in as one with a click. Only the dev
	// role sets it: anyone who reaches the page can be anyone.
	DevSignIn bool
	// DevPlanID is the plan whose members DevSignIn lists (default DefaultDevPlanID).
	DevPlanID string
	// SecureCookies marks the session cookie Secure on every response (set it behind a TLS-terminating proxy);
	// without it the cookie is Secure when the request itself came over TLS.
	SecureCookies bool
	// SessionLifetime is how long a session lives after sign-in (default 12 hours); IdleTimeout ends it sooner
	// when unused (default 2 hours).
	SessionLifetime time.Duration
	IdleTimeout     time.Duration
	// TemporalUIURL is the Temporal Web UI's base URL (e.g. http://localhost:8233); when set, operators (admin)
	// get a link from an initiative to its workflow there. TemporalNamespace defaults to "default".
	TemporalUIURL     string
	TemporalNamespace string
	// Now is the clock the pages judge deadlines by (which steps are overdue); default time.Now. Tests fix it.
	Now func() time.Time
	// WebhookBacklogAlert is how old the oldest undelivered finance webhook message may grow before Økonomi
	// warns (default service.DefaultWebhookBacklogAlert).
	WebhookBacklogAlert time.Duration
	// Log receives errors behind 500 pages (default: discarded).
	Log *slog.Logger
}

// Web is the web application's http.Handler. Close it when done: it stops the session store's cleanup.
type Web struct {
	cfg Config
	st  Store
	svc *service.Service // the actions, shared with the API; nil answers them with 503
	// principals and plans cache what every page reads for readCacheTTL (see session.go).
	principals *expirable.LRU[string, store.Principal]
	plans      *expirable.LRU[string, domain.Plan]
	log        *slog.Logger
	pages      *pages
	sessions   *scs.SessionManager
	pgstore    *postgresstore.PostgresStore
	static     *staticFiles
	handler    http.Handler
}

// New returns the web application reading from st and acting through svc (the service the API uses too, so a
// page applies the same rules and gets the same refusals), with its sessions in the database behind sessionDB
// (the sessions table of migration 00006). Templates are parsed here: a broken template fails New, not a request.
func New(cfg Config, st Store, svc *service.Service, sessionDB *sql.DB) (*Web, error) {
	if st == nil || svc == nil || sessionDB == nil {
		return nil, errors.New("web: a store, a service and a session database are required")
	}
	if cfg.DevPlanID == "" {
		cfg.DevPlanID = DefaultDevPlanID
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Hour
	}
	if cfg.TemporalNamespace == "" {
		cfg.TemporalNamespace = "default"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	static, err := newStaticFiles()
	if err != nil {
		return nil, err
	}
	p, err := parsePages(templateFS, static.url)
	if err != nil {
		return nil, err
	}
	w := &Web{cfg: cfg, st: st, svc: svc, log: log, pages: p, static: static,
		principals: expirable.NewLRU[string, store.Principal](10_000, nil, readCacheTTL),
		plans:      expirable.NewLRU[string, domain.Plan](100, nil, readCacheTTL)}
	w.pgstore = postgresstore.NewWithCleanupInterval(sessionDB, 10*time.Minute)
	sm := scs.New()
	sm.Store = w.pgstore
	sm.Lifetime = cfg.SessionLifetime
	sm.IdleTimeout = cfg.IdleTimeout
	sm.Cookie.Name = "helhedsplan_session"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Path = "/"
	sm.Cookie.Secure = cfg.SecureCookies
	sm.ErrorFunc = func(rw http.ResponseWriter, r *http.Request, err error) {
		w.serverError(rw, r, fmt.Errorf("session: %w", err))
	}
	w.sessions = sm
	w.handler = w.routes()
	return w, nil
}

// ServeHTTP serves the pages and the static files.
func (w *Web) ServeHTTP(rw http.ResponseWriter, r *http.Request) { w.handler.ServeHTTP(rw, r) }

// Close stops the background deletion of expired sessions.
func (w *Web) Close() { w.pgstore.StopCleanup() }

// routes builds the handler: static files outside the session middleware (they need no session and must not
// cost a database round trip), everything else behind the cross-origin check, the session and security headers.
func (w *Web) routes() http.Handler {
	pages := http.NewServeMux()
	pages.HandleFunc("GET /log-ind", w.signInPage)
	pages.HandleFunc("POST /log-ind/dev", w.devSignIn)
	pages.HandleFunc("POST /log-ind/token", w.tokenSignIn)
	pages.HandleFunc("POST /log-ud", w.signOut)
	pages.HandleFunc("GET /{$}", w.authed(w.workPage))
	pages.HandleFunc("GET /indsatser", w.authed(w.initiativesPage))
	pages.HandleFunc("GET /indsatser/{id}", w.authed(w.initiativePage))
	pages.HandleFunc("GET /planen", w.authed(w.planPage))
	w.routeFinance(pages)       // finance.go
	w.routeActions(pages)       // actions.go
	w.routeProposals(pages)     // proposals.go
	w.routeChanges(pages)       // change.go
	w.routeNotifications(pages) // notifications.go
	w.routeBoard(pages)         // board.go
	w.routeRecipients(pages)    // recipients.go
	w.routeStatements(pages)    // statements.go
	w.routeYears(pages)         // years.go
	w.routeInKind(pages)        // inkind.go
	w.routeAnnual(pages)        // annual.go
	w.routeReturns(pages)       // returns.go
	pages.HandleFunc("/", w.notFoundHandler)

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(w.forbiddenCSRF))
	protected := cop.Handler(w.sessions.LoadAndSave(w.checkCSRFToken(pages)))

	root := http.NewServeMux()
	root.Handle("GET /static/", w.static)
	root.Handle("/", secureCookieOverTLS(w.sessions.Cookie.Name, securityHeaders(protected)))
	return root
}

// securityHeaders keeps pages out of frames and caches and limits what they may load to this origin.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		h := rw.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; object-src 'none'; "+
			"base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(rw, r)
	})
}
