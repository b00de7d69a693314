package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/helhedsplan/helhedsplan/doctor"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// Store is what the API reads (implemented by *store.Store): what the service reads (service.Store) plus the
// token lookup and the Idempotency-Key records. Lookups of something that does not exist return an error wrapping
// store.ErrNotFound.
type Store interface {
	service.Store
	Ping(ctx context.Context) error
	// PrincipalByTokenHash returns the user behind sha256(token); store.ErrNotFound if unknown or revoked.
	PrincipalByTokenHash(ctx context.Context, tokenHash []byte) (store.Principal, error)
	// BeginIdempotent records r as in progress and returns nil, or, when (r.UserID, r.Key) is already recorded,
	// returns that record untouched.
	BeginIdempotent(ctx context.Context, r store.IdempotencyRecord) (*store.IdempotencyRecord, error)
	// CompleteIdempotent stores the response so a repeat of the request is answered with it.
	CompleteIdempotent(ctx context.Context, userID, key string, status int, contentType string, body []byte) error
	// AbandonIdempotent forgets an in-progress record so the client may retry with the same key.
	AbandonIdempotent(ctx context.Context, userID, key string) error
}

// Workflows is what the API needs of Temporal (implemented by *TemporalWorkflows): what the service runs
// (service.Workflows: Start and Update, with their errors) plus the readiness check.
type Workflows interface {
	service.Workflows
	// Ready checks that Temporal answers and that the namespace exists (else an error wrapping
	// ErrNamespaceNotFound).
	Ready(ctx context.Context) error
}

// MigrationReporter is implemented by a Store that can say which of the binary's migrations its database has;
// /readyz is not ready while one is pending. A Store without it is read through its DB() pool (as *store.Store
// has), and a Store with neither is never ready: the check cannot be skipped by accident.
type MigrationReporter interface {
	MigrationStatus(ctx context.Context) ([]store.MigrationState, error)
}

// Config tunes the HTTP server. Zero fields take the value of DefaultConfig.
type Config struct {
	// MaxBodyBytes bounds a request body; a larger one gets 413 before any handler or the idempotency
	// middleware buffers it.
	MaxBodyBytes int64
	// RequestTimeout bounds one /api/v1 request, including waiting for the workflow to record the transition.
	// A request that runs out of time gets 503 and may be retried with the same Idempotency-Key.
	RequestTimeout time.Duration
	// ReadyTimeout bounds the dependency checks of /readyz, so a hung dependency is reported as down instead of
	// hanging the probe.
	ReadyTimeout time.Duration
	// ReadHeaderTimeout, ReadTimeout, WriteTimeout and IdleTimeout are set on the returned Echo's http.Server
	// (used by Echo.Start). WriteTimeout must exceed RequestTimeout or slow answers are cut off mid-write.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	// AuthCacheTTL is how long a resolved token is remembered (a revoked token works at most this long);
	// negative disables the cache.
	AuthCacheTTL time.Duration
	// SettleTimeout bounds storing (or releasing) a POST's Idempotency-Key record after its handler returned. It
	// starts only then, detached from the request's deadline, so a slow request still settles its key.
	SettleTimeout time.Duration
	// Doctor runs `helhedsplan doctor` for a plan's admin (GET and POST /api/v1/plans/{id}/doctor); nil answers
	// those routes with 503.
	Doctor Doctor
	// DoctorTimeout bounds one doctor run, which queries every open workflow of the plan.
	DoctorTimeout time.Duration
	// WebhookBacklogAlert is how old the oldest undelivered finance webhook message may grow before
	// GET /finance/delivery and the metric flag the backlog (default service.DefaultWebhookBacklogAlert).
	WebhookBacklogAlert time.Duration
	// Web, when set, is the web application: it answers every path outside /api/, the probes and /metrics.
	Web http.Handler
}

// Doctor compares a plan's open workflows with the read model, the event log, the ledger and the disbursements
// (implemented by DoctorFunc over doctor.Check).
type Doctor interface {
	Check(ctx context.Context, planID string, repair bool) (doctor.Report, error)
}

// DoctorFunc adapts a function to Doctor.
type DoctorFunc func(ctx context.Context, planID string, repair bool) (doctor.Report, error)

// Check calls f.
func (f DoctorFunc) Check(ctx context.Context, planID string, repair bool) (doctor.Report, error) {
	return f(ctx, planID, repair)
}

// DefaultConfig is the configuration used for zero fields of Config.
func DefaultConfig() Config {
	return Config{
		MaxBodyBytes:      1 << 20,
		RequestTimeout:    30 * time.Second,
		ReadyTimeout:      3 * time.Second,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      45 * time.Second,
		IdleTimeout:       120 * time.Second,
		AuthCacheTTL:      10 * time.Second,
		SettleTimeout:     5 * time.Second,
		DoctorTimeout:     2 * time.Minute,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.ReadyTimeout <= 0 {
		c.ReadyTimeout = d.ReadyTimeout
	}
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = d.ReadHeaderTimeout
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = d.ReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = max(d.WriteTimeout, c.RequestTimeout+15*time.Second)
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = d.IdleTimeout
	}
	if c.AuthCacheTTL == 0 {
		c.AuthCacheTTL = d.AuthCacheTTL
	}
	if c.SettleTimeout <= 0 {
		c.SettleTimeout = d.SettleTimeout
	}
	if c.DoctorTimeout <= 0 {
		c.DoctorTimeout = d.DoctorTimeout
	}
	return c
}

// server holds the handlers' dependencies.
type server struct {
	cfg      Config
	st       Store
	wf       Workflows
	svc      *service.Service // every read and action of a signed-in user
	log      *slog.Logger
	duration *prometheus.HistogramVec
	routes   map[string]bool // registered route paths, so metrics never label by a raw (unbounded) URL
	// principals caches token lookups; nil when Config.AuthCacheTTL is negative.
	principals *principalCache
	// pendingAbandons holds the Idempotency-Key claims ("user\x00key" -> lease end) this process failed to
	// release because the database was away; a retry of the same request releases and takes them at once.
	pendingAbandons sync.Map
	ready           *Readiness
}

// New returns the API as an *echo.Echo ready to serve: use it as an http.Handler, or call Start(addr) and
// Shutdown(ctx) on it (its Server carries cfg's timeouts). reg receives the HTTP metrics and gatherer is what
// /metrics exposes (normally the same prometheus.Registry, which also holds the Temporal SDK's metrics); a nil
// reg skips registration and a nil gatherer exposes an empty registry. A nil log discards logs.
func New(cfg Config, st Store, wf Workflows, log *slog.Logger, reg prometheus.Registerer, gatherer prometheus.Gatherer) *echo.Echo {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if gatherer == nil {
		gatherer = prometheus.NewRegistry()
	}
	s := &server{cfg: cfg, st: st, wf: wf, log: log, duration: newDurationMetric(reg), routes: map[string]bool{},
		ready: NewReadiness(st, wf, cfg.ReadyTimeout, log), svc: service.New(st, wf, log)}
	if cfg.AuthCacheTTL > 0 {
		s.principals = newPrincipalCache(cfg.AuthCacheTTL, 10_000)
	}

	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Server.ReadHeaderTimeout = cfg.ReadHeaderTimeout
	e.Server.ReadTimeout = cfg.ReadTimeout
	e.Server.WriteTimeout = cfg.WriteTimeout
	e.Server.IdleTimeout = cfg.IdleTimeout

	// Order matters: the request ID exists before anything logs; observe sees the final status of every request,
	// including recovered panics, because recover sits inside it and hands the panic back as an error.
	e.Pre(dropBadRequestID)
	e.Use(
		middleware.RequestID(),
		s.observe,
		middleware.RecoverWithConfig(middleware.RecoverConfig{DisableErrorHandler: true, LogErrorFunc: s.logPanic}),
		s.limitBody,
		refuseBadURL,
	)
	s.register(e, gatherer)
	registerDeliveryMetrics(reg, st, cfg.WebhookBacklogAlert, log)
	return e
}

// Paths of the routes. The OpenAPI test checks that openapi.yaml lists exactly these.
const (
	pathHealthz        = "/healthz"
	pathReadyz         = "/readyz"
	pathMetrics        = "/metrics"
	pathOpenAPI        = "/api/v1/openapi.yaml"
	pathMe             = "/api/v1/me"
	pathPlans          = "/api/v1/plans"
	pathPlan           = "/api/v1/plans/:planID"
	pathPlanBudget     = "/api/v1/plans/:planID/budget"
	pathPlanDoctor     = "/api/v1/plans/:planID/doctor"
	pathInitiatives    = "/api/v1/initiatives"
	pathInitiative     = "/api/v1/initiatives/:id"
	pathEvents         = "/api/v1/initiatives/:id/events"
	pathDecision       = "/api/v1/initiatives/:id/decision"
	pathResubmit       = "/api/v1/initiatives/:id/resubmit"
	pathWithdraw       = "/api/v1/initiatives/:id/withdraw"
	pathReport         = "/api/v1/initiatives/:id/milestones/:n/report"
	pathAcceptMS       = "/api/v1/initiatives/:id/milestones/:n/accept"
	pathEvaluation     = "/api/v1/initiatives/:id/evaluation"
	pathAcceptEval     = "/api/v1/initiatives/:id/evaluation/accept"
	pathReturnMS       = "/api/v1/initiatives/:id/milestones/:n/return"
	pathReturnEval     = "/api/v1/initiatives/:id/evaluation/return"
	pathConflict       = "/api/v1/initiatives/:id/conflict"
	pathCancel         = "/api/v1/initiatives/:id/cancel"
	pathMeeting        = "/api/v1/initiatives/:id/meeting-decision"
	pathChanges        = "/api/v1/initiatives/:id/changes"
	pathChangeLBF      = "/api/v1/initiatives/:id/changes/:no/lbf"
	pathDisbursements  = "/api/v1/finance/disbursements"
	pathConfirmPayment = "/api/v1/finance/disbursements/:id/confirm"

	pathNotifications       = "/api/v1/notifications"
	pathNotificationRead    = "/api/v1/notifications/:id/read"
	pathNotificationReadAll = "/api/v1/notifications/read-all"
)

// Paths of the board, settings and meeting routes (handlers_board.go).
const (
	pathPlanBoard           = "/api/v1/plans/:planID/board"
	pathPlanBoardHistory    = "/api/v1/plans/:planID/board/history"
	pathPlanSettings        = "/api/v1/plans/:planID/settings"
	pathPlanSettingsHistory = "/api/v1/plans/:planID/settings/history"
	pathPlanMeetings        = "/api/v1/plans/:planID/meetings"
	pathPlanMeeting         = "/api/v1/plans/:planID/meetings/:id"
	pathPlanMeetingCancel   = "/api/v1/plans/:planID/meetings/:id/cancel"
)

func (s *server) register(e *echo.Echo, gatherer prometheus.Gatherer) {
	add := func(method, path string, h echo.HandlerFunc, m ...echo.MiddlewareFunc) {
		e.Add(method, path, h, m...)
		s.routes[path] = true
	}
	// Probes, metrics and the spec are public: orchestrators and tooling call them without a token.
	add(http.MethodGet, pathHealthz, s.healthz)
	add(http.MethodGet, pathReadyz, s.readyz)
	add(http.MethodGet, pathMetrics, echo.WrapHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	add(http.MethodGet, pathOpenAPI, s.openAPI)

	read := []echo.MiddlewareFunc{s.withTimeout, s.authenticate}
	write := []echo.MiddlewareFunc{s.withTimeout, s.authenticate, s.idempotent}

	add(http.MethodGet, pathMe, s.me, read...)
	add(http.MethodGet, pathPlans, s.listPlans, read...)
	add(http.MethodGet, pathPlan, s.getPlan, read...)
	add(http.MethodGet, pathPlanBudget, s.getBudget, read...)
	// The doctor may take longer than an ordinary request: it has its own timeout instead of withTimeout.
	add(http.MethodGet, pathPlanDoctor, s.runDoctor, s.authenticate)
	add(http.MethodPost, pathPlanDoctor, s.runDoctor, s.authenticate, s.idempotent)

	// The board, the settings and the meetings (handlers_board.go). PUT writes nothing when it repeats the
	// current value, so it needs no Idempotency-Key; it goes through the write chain like every change.
	add(http.MethodGet, pathPlanBoard, s.getPlanBoard, read...)
	add(http.MethodPut, pathPlanBoard, s.putPlanBoard, write...)
	add(http.MethodGet, pathPlanBoardHistory, s.getPlanBoardHistory, read...)
	add(http.MethodGet, pathPlanSettings, s.getPlanSettings, read...)
	add(http.MethodPut, pathPlanSettings, s.putPlanSettings, write...)
	add(http.MethodGet, pathPlanSettingsHistory, s.getPlanSettingsHistory, read...)
	add(http.MethodGet, pathPlanMeetings, s.listBoardMeetings, read...)
	add(http.MethodPost, pathPlanMeetings, s.createBoardMeeting, write...)
	add(http.MethodGet, pathPlanMeeting, s.getBoardMeeting, read...)
	add(http.MethodPost, pathPlanMeetingCancel, s.cancelBoardMeeting, write...)

	add(http.MethodGet, pathInitiatives, s.listInitiatives, read...)
	add(http.MethodPost, pathInitiatives, s.createInitiative, write...)
	add(http.MethodGet, pathInitiative, s.getInitiative, read...)
	add(http.MethodGet, pathEvents, s.listEvents, read...)
	add(http.MethodPost, pathDecision, s.decide, write...)
	add(http.MethodPost, pathResubmit, s.resubmit, write...)
	add(http.MethodPost, pathWithdraw, s.withdraw, write...)
	add(http.MethodPost, pathReport, s.reportMilestone, write...)
	add(http.MethodPost, pathAcceptMS, s.acceptMilestone, write...)
	add(http.MethodPost, pathEvaluation, s.submitEvaluation, write...)
	add(http.MethodPost, pathAcceptEval, s.acceptEvaluation, write...)
	add(http.MethodPost, pathReturnMS, s.returnMilestone, write...)
	add(http.MethodPost, pathReturnEval, s.returnEvaluation, write...)
	add(http.MethodPost, pathConflict, s.declareConflict, write...)
	add(http.MethodPost, pathCancel, s.proposeCancel, write...)
	add(http.MethodPost, pathMeeting, s.meetingDecision, write...)
	add(http.MethodPost, pathChanges, s.requestChange, write...)
	add(http.MethodPost, pathChangeLBF, s.recordLBF, write...)

	add(http.MethodGet, pathDisbursements, s.listDisbursements, read...)
	add(http.MethodPost, pathConfirmPayment, s.confirmPayment, write...)

	// Recipients, the initiative's recipient and the payment files (handlers_recipients.go).
	s.registerRecipients(add, read, write)
	// Bank statement reconciliation (handlers_statements.go).
	s.registerStatements(add, read, write)
	// Commitments by year, the budget by year and as CSV, delaftale frames (handlers_years.go).
	s.registerYears(add, read, write)
	// In-kind contributions (handlers_inkind.go).
	s.registerInKind(add, read, write)
	// The finance webhook's delivery state (handlers_delivery.go).
	s.registerDelivery(add, read)
	// The annual statement to Landsbyggefonden and its exports (handlers_annual.go).
	s.registerAnnual(add, read, write)
	// Returns to collect after close-out (handlers_returns.go).
	s.registerReturns(add, read, write)

	add(http.MethodGet, pathNotifications, s.listNotifications, read...)
	add(http.MethodPost, pathNotificationRead, s.markNotificationRead, write...)
	add(http.MethodPost, pathNotificationReadAll, s.markAllNotificationsRead, write...)

	if s.cfg.Web != nil {
		// The web application answers everything else; an unknown path under /api/ stays a problem+json 404.
		e.RouteNotFound("/api/*", func(echo.Context) error { return echo.ErrNotFound })
		web := echo.WrapHandler(s.cfg.Web)
		e.Any("/", web)
		e.Any("/*", web)
	}
}
