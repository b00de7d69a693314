package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/store"
)

// Names of the readiness checks, as the body of /readyz reports them.
const (
	checkPostgreSQL = "postgresql"         // PostgreSQL answers
	checkMigrations = "migrations"         // the database has every migration this binary embeds
	checkTemporal   = "temporal"           // the Temporal frontend answers
	checkNamespace  = "temporal_namespace" // the Temporal namespace exists
)

// Values of a readiness check.
const (
	checkOK      = "ok"
	checkFailed  = "fejl"
	checkSkipped = "ikke tjekket" // what it needs failed first
)

// Pinger is what readiness needs of PostgreSQL (implemented by *store.Store). Its migrations are read through
// MigrationReporter, or else a DB() *sqlx.DB method.
type Pinger interface {
	Ping(ctx context.Context) error
}

// TemporalChecker is what readiness needs of Temporal (implemented by *TemporalWorkflows).
type TemporalChecker interface {
	// Ready returns nil when Temporal answers and the namespace exists, an error wrapping ErrNamespaceNotFound
	// when only the namespace is missing.
	Ready(ctx context.Context) error
}

// Readiness decides whether a role can do its work: PostgreSQL answers and has every migration this binary embeds,
// Temporal answers and knows the namespace. The API serves it at /readyz; the worker serves it (as an
// http.Handler) on its ops listener. A failing check is named in the answer, never its error, which may name hosts;
// the error goes to the log.
type Readiness struct {
	db         Pinger
	migrations func(context.Context) ([]store.MigrationState, error) // nil: cannot be read, never ready
	temporal   TemporalChecker
	timeout    time.Duration
	log        *slog.Logger
	// migrated remembers that every embedded migration was seen applied. Migrations are only ever added, so
	// later probes need not read goose's table again (store.MigrationStatus takes the migration lock to read it).
	migrated atomic.Bool
}

// NewReadiness returns the readiness checks of a role that uses db and temporal. timeout bounds one round of
// checks (0 means 3 s), so a hung dependency is reported as down instead of hanging the probe. A nil log discards.
func NewReadiness(db Pinger, temporal TemporalChecker, timeout time.Duration, log *slog.Logger) *Readiness {
	if timeout <= 0 {
		timeout = DefaultConfig().ReadyTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Readiness{db: db, migrations: migrationStatusOf(db), temporal: temporal, timeout: timeout, log: log}
}

// migrationStatusOf finds how to read db's migration status.
func migrationStatusOf(db Pinger) func(context.Context) ([]store.MigrationState, error) {
	switch m := db.(type) {
	case MigrationReporter:
		return m.MigrationStatus
	case interface{ DB() *sqlx.DB }:
		return func(ctx context.Context) ([]store.MigrationState, error) {
			return store.MigrationStatus(ctx, m.DB().DB)
		}
	}
	return nil
}

// readyState is one round of checks: each check's value, and a Danish phrase per failure for the detail.
type readyState struct {
	checks map[string]string
	failed []string
}

// run runs the checks: PostgreSQL then its migrations, and, at the same time, Temporal then its namespace.
func (r *Readiness) run(ctx context.Context, requestID string) readyState {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	logFailure := func(check string, err error, attrs ...slog.Attr) {
		attrs = append(attrs, slog.String("request_id", requestID), slog.String("check", check), slog.String("error", err.Error()))
		r.log.LogAttrs(ctx, slog.LevelWarn, "readiness check failed", attrs...)
	}

	var db, tp readyState
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		db = r.database(ctx, logFailure)
	}()
	go func() {
		defer wg.Done()
		tp = r.temporalState(ctx, logFailure)
	}()
	wg.Wait()
	out := readyState{checks: db.checks, failed: append(db.failed, tp.failed...)}
	for k, v := range tp.checks {
		out.checks[k] = v
	}
	return out
}

func (r *Readiness) database(ctx context.Context, logFailure func(string, error, ...slog.Attr)) readyState {
	st := readyState{checks: map[string]string{}}
	if err := r.db.Ping(ctx); err != nil {
		logFailure(checkPostgreSQL, err)
		st.checks[checkPostgreSQL], st.checks[checkMigrations] = checkFailed, checkSkipped
		st.failed = append(st.failed, "PostgreSQL svarer ikke")
		return st
	}
	st.checks[checkPostgreSQL] = checkOK
	if r.migrated.Load() {
		st.checks[checkMigrations] = checkOK
		return st
	}
	fail := func(phrase string) readyState {
		st.checks[checkMigrations] = checkFailed
		st.failed = append(st.failed, phrase)
		return st
	}
	if r.migrations == nil {
		logFailure(checkMigrations, errors.New("the store cannot report its migration status"))
		return fail("databasens migreringer kan ikke aflæses")
	}
	states, err := r.migrations(ctx)
	if err != nil {
		logFailure(checkMigrations, err)
		return fail("databasens migreringer kan ikke aflæses")
	}
	var pending []string
	for _, m := range states {
		if !m.Applied {
			pending = append(pending, m.Name)
		}
	}
	if len(pending) > 0 {
		logFailure(checkMigrations, errors.New("migrations pending"), slog.String("pending", strings.Join(pending, ",")))
		return fail("databasen mangler migreringer (kør helhedsplan migrate)")
	}
	r.migrated.Store(true)
	st.checks[checkMigrations] = checkOK
	return st
}

func (r *Readiness) temporalState(ctx context.Context, logFailure func(string, error, ...slog.Attr)) readyState {
	st := readyState{checks: map[string]string{}}
	err := r.temporal.Ready(ctx)
	switch {
	case err == nil:
		st.checks[checkTemporal], st.checks[checkNamespace] = checkOK, checkOK
	case errors.Is(err, ErrNamespaceNotFound):
		logFailure(checkNamespace, err)
		st.checks[checkTemporal], st.checks[checkNamespace] = checkOK, checkFailed
		st.failed = append(st.failed, "Temporal kender ikke navnerummet (namespace)")
	default:
		logFailure(checkTemporal, err)
		st.checks[checkTemporal], st.checks[checkNamespace] = checkFailed, checkSkipped
		st.failed = append(st.failed, "Temporal svarer ikke")
	}
	return st
}

// notReady is the 503 problem for a failed round.
func (s readyState) notReady() *apiError {
	return &apiError{
		code:       codeDependencyUnavailable,
		detail:     "Tjenesten er ikke klar: " + strings.Join(s.failed, "; ") + ".",
		checks:     s.checks,
		retryAfter: retryAfterDependency,
	}
}

// readyBody is the 200 answer.
type readyBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// ServeHTTP answers like the API's /readyz, for roles without the API (the worker's ops listener): 200 with each
// check, or 503 problem+json naming the failed ones, with Retry-After.
func (r *Readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	st := r.run(req.Context(), "")
	w.Header().Set("Cache-Control", "no-store")
	if len(st.failed) == 0 {
		body, _ := json.Marshal(readyBody{Status: "ok", Checks: st.checks})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return
	}
	ae := st.notReady()
	p := newProblem(classified{code: ae.code, detail: ae.detail, checks: ae.checks}, req.URL.Path, "")
	w.Header().Set("Content-Type", contentTypeProblem)
	w.Header().Set("Retry-After", strconv.Itoa(ae.retryAfter))
	w.WriteHeader(p.Status)
	_, _ = w.Write(p.marshal())
}
