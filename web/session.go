package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Session keys. The session holds the user, the CSRF token and one-time messages shown after a redirect (the
// initiative page's "flash", the finance page's "finance_flash"); roles and names are read per request.
const (
	sessionUserID = "user_id"
	sessionCSRF   = "csrf"
)

// csrfField is the hidden form field that carries the session's synchronizer token.
const csrfField = "csrf_token"

// maxFormBytes bounds a form body; the forms of this round are small.
const maxFormBytes = 64 << 10

// csrfToken returns the session's synchronizer token, creating it on first use.
func (w *Web) csrfToken(r *http.Request) string {
	if t := w.sessions.GetString(r.Context(), sessionCSRF); t != "" {
		return t
	}
	return w.newCSRFToken(r)
}

func (w *Web) newCSRFToken(r *http.Request) string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails since Go 1.24
	t := base64.RawURLEncoding.EncodeToString(b)
	w.sessions.Put(r.Context(), sessionCSRF, t)
	return t
}

// checkCSRFToken refuses every request that may change something (anything but GET, HEAD, OPTIONS) unless its
// form carries the session's synchronizer token. It runs inside the session middleware and after
// CrossOriginProtection, which already refused cross-origin requests: this second check also covers browsers
// that send neither Sec-Fetch-Site nor Origin.
func (w *Web) checkCSRFToken(next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(rw, r)
			return
		}
		limit := int64(maxFormBytes)
		if r.URL.Path == statementsPath { // the bank statement upload (statements.go)
			limit = maxStatementFormBytes
		}
		r.Body = http.MaxBytesReader(rw, r.Body, limit)
		want := w.sessions.GetString(r.Context(), sessionCSRF)
		got := r.PostFormValue(csrfField)
		if want == "" || got == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			w.forbiddenCSRF(rw, r)
			return
		}
		next.ServeHTTP(rw, r)
	})
}

// viewer is the signed-in user as a page sees them: their roles as of this request and the plan the pages show.
type viewer struct {
	Principal store.Principal
	Plan      domain.Plan
	Role      domain.Role // in Plan
}

// authed runs a page for a signed-in user and sends everyone else to the sign-in page. The plan shown is the
// first of the user's plans (by ID); a user in no plan sees a Danish 403 page.
func (w *Web) authed(page func(http.ResponseWriter, *http.Request, *viewer)) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		userID := w.sessions.GetString(r.Context(), sessionUserID)
		if userID == "" {
			http.Redirect(rw, r, "/log-ind", http.StatusSeeOther)
			return
		}
		p, err := w.principal(r.Context(), userID)
		if errors.Is(err, store.ErrNotFound) {
			// The user was deleted after signing in: the session is worth nothing.
			_ = w.sessions.Destroy(r.Context())
			http.Redirect(rw, r, "/log-ind", http.StatusSeeOther)
			return
		}
		if err != nil {
			w.serverError(rw, r, err)
			return
		}
		planIDs := make([]string, 0, len(p.Roles))
		for id := range p.Roles {
			planIDs = append(planIDs, id)
		}
		slices.Sort(planIDs)
		v := &viewer{Principal: p}
		if len(planIDs) == 0 {
			w.render(rw, r, http.StatusForbidden, "error", v, "Ingen adgang", errorView{
				Heading: "Du har ikke adgang",
				Text:    "Du er ikke medlem af en helhedsplan. Kontakt sekretariatet.",
			})
			return
		}
		v.Role = p.Roles[planIDs[0]]
		if v.Plan, err = w.plan(r.Context(), planIDs[0]); err != nil {
			w.serverError(rw, r, err)
			return
		}
		page(rw, r, v)
	}
}

// signInView is the sign-in page.
type signInView struct {
	DevUsers   []domain.User // only in dev
	Token      string        // never echoed back: always ""
	TokenError string
	DevError   string
}

func (w *Web) signInPage(rw http.ResponseWriter, r *http.Request) {
	if w.sessions.GetString(r.Context(), sessionUserID) != "" {
		http.Redirect(rw, r, "/", http.StatusSeeOther)
		return
	}
	w.renderSignIn(rw, r, http.StatusOK, signInView{})
}

func (w *Web) renderSignIn(rw http.ResponseWriter, r *http.Request, status int, v signInView) {
	if w.cfg.DevSignIn {
		users, err := w.st.ListUsers(r.Context(), w.cfg.DevPlanID)
		if err != nil {
			w.serverError(rw, r, err)
			return
		}
		v.DevUsers = users
	}
	title := "Log ind"
	if v.TokenError != "" || v.DevError != "" {
		title = "Fejl: " + title
	}
	w.render(rw, r, status, "signin", nil, title, v)
}

// tokenSignIn signs in with a user's API token, looked up exactly as the API looks up a bearer token.
func (w *Web) tokenSignIn(rw http.ResponseWriter, r *http.Request) {
	token := strings.TrimSpace(r.PostFormValue("token"))
	if token == "" {
		w.renderSignIn(rw, r, http.StatusUnprocessableEntity, signInView{TokenError: "Indtast din API-nøgle."})
		return
	}
	h := sha256.Sum256([]byte(token))
	p, err := w.st.PrincipalByTokenHash(r.Context(), h[:])
	if errors.Is(err, store.ErrNotFound) {
		w.renderSignIn(rw, r, http.StatusUnprocessableEntity,
			signInView{TokenError: "API-nøglen er ukendt eller spærret. Tjek at du har kopieret hele nøglen."})
		return
	}
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	w.signIn(rw, r, p.UserID)
}

// devSignIn signs in as a member of the dev plan with one click; it does not exist outside dev.
func (w *Web) devSignIn(rw http.ResponseWriter, r *http.Request) {
	if !w.cfg.DevSignIn {
		w.notFound(rw, r)
		return
	}
	userID := r.PostFormValue("user_id")
	users, err := w.st.ListUsers(r.Context(), w.cfg.DevPlanID)
	if err != nil {
		w.serverError(rw, r, err)
		return
	}
	if !slices.ContainsFunc(users, func(u domain.User) bool { return u.ID == userID }) {
		w.renderSignIn(rw, r, http.StatusUnprocessableEntity, signInView{DevError: "Vælg en af brugerne på listen."})
		return
	}
	w.signIn(rw, r, userID)
}

// signIn starts the user's session under a new session token (so a token planted before sign-in is worth
// nothing: no session fixation) with a new synchronizer token, and goes to the start page.
func (w *Web) signIn(rw http.ResponseWriter, r *http.Request, userID string) {
	if err := w.sessions.RenewToken(r.Context()); err != nil {
		w.serverError(rw, r, err)
		return
	}
	w.sessions.Put(r.Context(), sessionUserID, userID)
	w.newCSRFToken(r)
	http.Redirect(rw, r, "/", http.StatusSeeOther)
}

// signOut deletes the session from the database and the cookie from the browser.
func (w *Web) signOut(rw http.ResponseWriter, r *http.Request) {
	if err := w.sessions.Destroy(r.Context()); err != nil {
		w.serverError(rw, r, err)
		return
	}
	http.Redirect(rw, r, "/log-ind", http.StatusSeeOther)
}

// secureCookieOverTLS marks the session cookie Secure when the request came over TLS, so a deployment that
// terminates TLS in this process needs no setting (Config.SecureCookies covers a TLS-terminating proxy).
func secureCookieOverTLS(name string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			next.ServeHTTP(rw, r)
			return
		}
		next.ServeHTTP(&secureCookieWriter{ResponseWriter: rw, prefix: name + "="}, r)
	})
}

type secureCookieWriter struct {
	http.ResponseWriter
	prefix  string
	written bool
}

func (s *secureCookieWriter) WriteHeader(code int) {
	if !s.written {
		s.written = true
		cookies := s.Header().Values("Set-Cookie")
		for i, c := range cookies {
			if strings.HasPrefix(c, s.prefix) && !strings.Contains(c, "; Secure") {
				cookies[i] = c + "; Secure"
			}
		}
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *secureCookieWriter) Write(b []byte) (int, error) {
	if !s.written {
		s.WriteHeader(http.StatusOK)
	}
	return s.ResponseWriter.Write(b)
}

func (s *secureCookieWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// readCacheTTL is how long a user's roles and a plan's data are reused between requests. Every page needs both,
// and reading them costs several queries; a change (a role taken away, a plan setting edited) shows within this
// long, as a revoked API token stops working within the API's cache TTL.
const readCacheTTL = 10 * time.Second

// principal returns the user with their roles, from the cache when it is fresh.
func (w *Web) principal(ctx context.Context, userID string) (store.Principal, error) {
	if p, ok := w.principals.Get(userID); ok {
		return p, nil
	}
	p, err := w.st.PrincipalByUserID(ctx, userID)
	if err == nil {
		w.principals.Add(userID, p)
	}
	return p, err
}

// plan returns the plan, from the cache when it is fresh.
func (w *Web) plan(ctx context.Context, planID string) (domain.Plan, error) {
	if p, ok := w.plans.Get(planID); ok {
		return p, nil
	}
	p, err := w.st.GetPlan(ctx, planID)
	if err == nil {
		w.plans.Add(planID, p)
	}
	return p, err
}
