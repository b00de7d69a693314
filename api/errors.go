package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
)

// ErrUnavailable marks a dependency (Temporal) that is down or refused for load; the API answers 503
// dependency_unavailable with Retry-After. It is service.ErrUnavailable.
var ErrUnavailable = service.ErrUnavailable

// ErrStillRunning marks a workflow update still running when the request ran out of time; the API answers 503 and
// the same request with the same Idempotency-Key attaches to it. It is service.ErrStillRunning.
var ErrStillRunning = service.ErrStillRunning

// ErrNamespaceNotFound is what Workflows.Ready wraps when Temporal answers but does not know the namespace.
var ErrNamespaceNotFound = errors.New("temporal namespace not found")

// errReadModelBehind is service.ErrReadModelBehind: the API answers 503 rather than stale data.
var errReadModelBehind = service.ErrReadModelBehind

// Retry-After values, in seconds, sent with 503 and with 409 idempotency_request_in_progress.
const (
	retryAfterInProgress = 2 // the same request is running, or the update is still running: it usually ends soon
	retryAfterDependency = 5 // PostgreSQL or Temporal is down: give it a moment
)

// problemTypeBase prefixes every problem code to form the RFC 9457 "type" URI. It is stable: clients may match it.
const problemTypeBase = "https://helhedsplan.dk/problems/"

const contentTypeProblem = "application/problem+json"

// Problem codes of the API itself, next to the domain.Code values that the workflow's rules produce.
const (
	codeBadRequest            = "bad_request"
	codeUnauthorized          = "unauthorized"
	codeMethodNotAllowed      = "method_not_allowed"
	codeTooLarge              = "request_too_large"
	codeUnsupportedMedia      = "unsupported_media_type"
	codeIdempotencyReused     = "idempotency_key_reused"
	codeIdempotencyInFlight   = "idempotency_request_in_progress"
	codeServiceUnavailable    = "service_unavailable"
	codeDependencyUnavailable = "dependency_unavailable"
	codeInternal              = "internal_error"
)

// problemKind is the fixed part of a problem: its HTTP status and Danish title.
type problemKind struct {
	status int
	title  string
}

// problemKinds lists every problem code the API can answer with. The OpenAPI test checks the spec lists the same.
var problemKinds = map[string]problemKind{
	string(domain.CodeValidation):             {http.StatusUnprocessableEntity, "Oplysningerne overholder ikke reglerne"},
	string(domain.CodeWrongPhase):             {http.StatusConflict, "Handlingen passer ikke til indsatsens fase"},
	string(domain.CodeForbidden):              {http.StatusForbidden, "Du har ikke adgang til handlingen"},
	string(domain.CodeUnknownMilestone):       {http.StatusUnprocessableEntity, "Ukendt milepæl"},
	string(domain.CodeInsufficientFunds):      {http.StatusConflict, "Der er ikke midler nok"},
	string(domain.CodeAlreadyPaid):            {http.StatusConflict, "Udbetalingen er allerede bekræftet"},
	string(domain.CodeNotFound):               {http.StatusNotFound, "Findes ikke"},
	string(domain.CodeConflict):               {http.StatusConflict, "Konflikt"},
	string(domain.CodeFrameExceeded):          {http.StatusConflict, "Delaftalens ramme er overskredet"},
	string(domain.CodeCofinancing):            {http.StatusConflict, "Den lokale medfinansiering bliver for lav"},
	string(domain.CodeYearCommitmentExceeded): {http.StatusConflict, "Årets tilsagn fra finansieringskilden er overskredet"},
	string(domain.CodeStatementOverdue):       {http.StatusConflict, "Årsregnskabet er forsinket; nye rater holdes tilbage"},
	codeBadRequest:                            {http.StatusBadRequest, "Ugyldig forespørgsel"},
	codeUnauthorized:                          {http.StatusUnauthorized, "Du er ikke logget ind"},
	codeMethodNotAllowed:                      {http.StatusMethodNotAllowed, "Metoden understøttes ikke"},
	codeTooLarge:                              {http.StatusRequestEntityTooLarge, "Forespørgslen er for stor"},
	codeUnsupportedMedia:                      {http.StatusUnsupportedMediaType, "Forespørgslen skal være JSON"},
	codeIdempotencyReused:                     {http.StatusUnprocessableEntity, "Idempotency-Key er brugt til en anden forespørgsel"},
	codeIdempotencyInFlight:                   {http.StatusConflict, "Forespørgslen behandles stadig"},
	codeServiceUnavailable:                    {http.StatusServiceUnavailable, "Tjenesten er midlertidigt utilgængelig"},
	codeDependencyUnavailable:                 {http.StatusServiceUnavailable, "Tjenesten er ikke klar"},
	codeInternal:                              {http.StatusInternalServerError, "Der opstod en fejl"},
}

// problem is an RFC 9457 problem details body.
type problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail"`
	Instance  string            `json:"instance"`
	Code      string            `json:"code"`
	RequestID string            `json:"request_id"`
	Errors    []fieldError      `json:"errors,omitempty"`
	Checks    map[string]string `json:"checks,omitempty"` // /readyz only: check -> "ok", "fejl" or "ikke tjekket"
}

type fieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is a refusal decided by the API itself (bad query, missing token, idempotency clash). It carries a
// problem code from problemKinds and a Danish detail meant for the user.
type apiError struct {
	code       string
	detail     string
	fields     []domain.FieldProblem
	checks     map[string]string
	retryAfter int // seconds; 0 sends no Retry-After
}

func (e *apiError) Error() string { return e.code + ": " + e.detail }

func newAPIError(code, detail string) *apiError { return &apiError{code: code, detail: detail} }

// badRequest is a 400 about one query, path or body field.
func badRequest(field, code, message string) *apiError {
	return &apiError{code: codeBadRequest, detail: message,
		fields: []domain.FieldProblem{{Field: field, Code: code, Message: message}}}
}

// classified is the problem a client sees for an error.
type classified struct {
	code       string
	detail     string
	fields     []domain.FieldProblem
	checks     map[string]string
	retryAfter int // seconds, for the Retry-After header; 0 for none
}

const (
	detailGeneric = "Der opstod en uventet fejl. Prøv igen senere, og oplys fejl-id'et, hvis det sker igen."
	detailTimeout = "Tjenesten svarede ikke i tide. Prøv igen om lidt; send en POST igen med samme Idempotency-Key."
	detailRunning = "Handlingen er ikke færdigbehandlet endnu. Send den samme forespørgsel igen med samme " +
		"Idempotency-Key om lidt; så får du resultatet, og handlingen udføres kun én gang."
	detailDatabase   = "Databasen svarer ikke lige nu. Prøv igen om lidt; send en POST igen med samme Idempotency-Key."
	detailDependency = "En tjeneste, som API'et bruger, svarer ikke lige nu. Prøv igen om lidt; send en POST igen " +
		"med samme Idempotency-Key."
)

// classify turns any error into the problem the client sees. Unknown errors become a generic 500: their text may
// name tables, hosts or workflow internals, so it never reaches the body. Faults that pass (a database or Temporal
// that is down, an update still running) are 503 with Retry-After, never 500; they are matched before the store's
// other sentinels, so an error that also wraps one of those is still not blamed on the client.
func classify(err error) classified {
	var (
		ae     *apiError
		re     *domain.RuleError
		he     *echo.HTTPError
		tooBig *http.MaxBytesError
	)
	switch {
	case errors.As(err, &ae):
		return classified{ae.code, ae.detail, ae.fields, ae.checks, ae.retryAfter}
	case errors.As(err, &re):
		if _, ok := problemKinds[string(re.Code)]; !ok {
			return classified{code: codeInternal, detail: detailGeneric}
		}
		return classified{code: string(re.Code), detail: re.Message, fields: re.Problems}
	case errors.Is(err, ErrStillRunning), errors.Is(err, errReadModelBehind):
		return classified{code: codeServiceUnavailable, detail: detailRunning, retryAfter: retryAfterInProgress}
	case errors.Is(err, store.ErrUnavailable):
		return classified{code: codeDependencyUnavailable, detail: detailDatabase, retryAfter: retryAfterDependency}
	case errors.Is(err, ErrUnavailable):
		return classified{code: codeDependencyUnavailable, detail: detailDependency, retryAfter: retryAfterDependency}
	case errors.Is(err, store.ErrBadCursor):
		return classified{code: codeBadRequest, detail: "Parameteren cursor er ugyldig; brug next_cursor fra forrige side."}
	case errors.Is(err, store.ErrNotFound):
		return classified{code: string(domain.CodeNotFound), detail: "Det efterspurgte findes ikke."}
	case errors.Is(err, store.ErrConflict):
		return classified{code: string(domain.CodeConflict), detail: "Oplysningerne er ændret imens. Hent dem igen, og prøv igen."}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return classified{code: codeServiceUnavailable, detail: detailTimeout, retryAfter: retryAfterInProgress}
	case errors.As(err, &tooBig):
		return classified{code: codeTooLarge, detail: "Forespørgslen er større end tilladt."}
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			return classified{code: string(domain.CodeNotFound), detail: "Adressen findes ikke i API'et."}
		case http.StatusMethodNotAllowed:
			return classified{code: codeMethodNotAllowed, detail: "Adressen understøtter ikke denne HTTP-metode."}
		case http.StatusRequestEntityTooLarge:
			return classified{code: codeTooLarge, detail: "Forespørgslen er større end tilladt."}
		case http.StatusUnsupportedMediaType:
			return classified{code: codeUnsupportedMedia, detail: "Send forespørgslen som application/json."}
		case http.StatusUnauthorized:
			return classified{code: codeUnauthorized, detail: "Log ind med et gyldigt token."}
		case http.StatusServiceUnavailable:
			return classified{code: codeServiceUnavailable, detail: detailTimeout, retryAfter: retryAfterInProgress}
		}
		if he.Code >= 400 && he.Code < 500 {
			return classified{code: codeBadRequest, detail: "Forespørgslen kan ikke behandles."}
		}
	case store.Transient(err):
		// A connection fault that reached us without the store's sentinel is still one that passes.
		return classified{code: codeDependencyUnavailable, detail: detailDependency, retryAfter: retryAfterDependency}
	}
	return classified{code: codeInternal, detail: detailGeneric}
}

// handleError is Echo's HTTPErrorHandler: every error from a handler or middleware ends here.
func (s *server) handleError(err error, c echo.Context) {
	cl := classify(err)
	code := cl.code
	p := newProblem(cl, c.Request().URL.Path, requestID(c))

	level, msg := slog.LevelInfo, "request refused"
	if p.Status >= 500 {
		level, msg = slog.LevelError, "request failed"
	}
	attrs := []slog.Attr{
		slog.String("request_id", p.RequestID),
		slog.String("method", c.Request().Method),
		slog.String("path", p.Instance),
		slog.Int("status", p.Status),
		slog.String("code", code),
		slog.String("error", err.Error()),
	}
	if id, ok := c.Get(ctxInitiativeID).(string); ok {
		attrs = append(attrs, slog.String("initiative_id", id))
	}
	if pr, ok := c.Get(ctxPrincipal).(store.Principal); ok {
		attrs = append(attrs, slog.String("user_id", pr.UserID))
	}
	s.log.LogAttrs(c.Request().Context(), level, msg, attrs...)

	if c.Response().Committed {
		return
	}
	if cl.retryAfter > 0 {
		c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(cl.retryAfter))
	}
	if code == codeMethodNotAllowed {
		if allow, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok && allow != "" {
			c.Response().Header().Set(echo.HeaderAllow, allow)
		}
	}
	body := p.marshal()
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	if werr := c.Blob(p.Status, contentTypeProblem, body); werr != nil {
		s.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "writing problem response failed",
			slog.String("request_id", p.RequestID), slog.String("error", werr.Error()))
	}
}

// newProblem is the problem body for a classified error.
func newProblem(cl classified, instance, requestID string) problem {
	kind := problemKinds[cl.code]
	p := problem{
		Type:      problemTypeBase + cl.code,
		Title:     kind.title,
		Status:    kind.status,
		Detail:    cl.detail,
		Instance:  instance,
		Code:      cl.code,
		RequestID: requestID,
		Checks:    cl.checks,
	}
	for _, f := range cl.fields {
		p.Errors = append(p.Errors, fieldError(f))
	}
	return p
}

func (p problem) marshal() []byte {
	body, err := json.Marshal(p)
	if err != nil { // cannot happen for this struct; answer something rather than nothing
		return []byte(`{"status":500,"code":"internal_error"}`)
	}
	return body
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
