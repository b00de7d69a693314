package api

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// ErrUnavailable marks a dependency that did not answer in time or refused for load; the API answers 503 and the
// client may retry (with the same Idempotency-Key for POSTs).
var ErrUnavailable = errors.New("dependency unavailable")

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
	string(domain.CodeValidation):        {http.StatusUnprocessableEntity, "Oplysningerne overholder ikke reglerne"},
	string(domain.CodeWrongPhase):        {http.StatusConflict, "Handlingen passer ikke til indsatsens fase"},
	string(domain.CodeForbidden):         {http.StatusForbidden, "Du har ikke adgang til handlingen"},
	string(domain.CodeUnknownMilestone):  {http.StatusUnprocessableEntity, "Ukendt milepæl"},
	string(domain.CodeInsufficientFunds): {http.StatusConflict, "Der er ikke midler nok"},
	string(domain.CodeAlreadyPaid):       {http.StatusConflict, "Udbetalingen er allerede bekræftet"},
	string(domain.CodeNotFound):          {http.StatusNotFound, "Findes ikke"},
	string(domain.CodeConflict):          {http.StatusConflict, "Konflikt"},
	codeBadRequest:                       {http.StatusBadRequest, "Ugyldig forespørgsel"},
	codeUnauthorized:                     {http.StatusUnauthorized, "Du er ikke logget ind"},
	codeMethodNotAllowed:                 {http.StatusMethodNotAllowed, "Metoden understøttes ikke"},
	codeTooLarge:                         {http.StatusRequestEntityTooLarge, "Forespørgslen er for stor"},
	codeUnsupportedMedia:                 {http.StatusUnsupportedMediaType, "Forespørgslen skal være JSON"},
	codeIdempotencyReused:                {http.StatusUnprocessableEntity, "Idempotency-Key er brugt til en anden forespørgsel"},
	codeIdempotencyInFlight:              {http.StatusConflict, "Forespørgslen behandles stadig"},
	codeServiceUnavailable:               {http.StatusServiceUnavailable, "Tjenesten er midlertidigt utilgængelig"},
	codeDependencyUnavailable:            {http.StatusServiceUnavailable, "Tjenesten er ikke klar"},
	codeInternal:                         {http.StatusInternalServerError, "Der opstod en fejl"},
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
	Checks    map[string]string `json:"checks,omitempty"` // /readyz only: dependency -> "ok" or "fejl"
}

type fieldError struct {
	Field   string `json:"field"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// apiError is a refusal decided by the API itself (bad query, missing token, idempotency clash). It carries a
// problem code from problemKinds and a Danish detail meant for the user.
type apiError struct {
	code   string
	detail string
	fields []domain.FieldProblem
	checks map[string]string
}

func (e *apiError) Error() string { return e.code + ": " + e.detail }

func newAPIError(code, detail string) *apiError { return &apiError{code: code, detail: detail} }

// badRequest is a 400 about one query, path or body field.
func badRequest(field, code, message string) *apiError {
	return &apiError{code: codeBadRequest, detail: message,
		fields: []domain.FieldProblem{{Field: field, Code: code, Message: message}}}
}

// classify turns any error into the problem the client sees. Unknown errors become a generic 500: their text may
// name tables, hosts or workflow internals, so it never reaches the body.
func classify(err error) (code, detail string, fields []domain.FieldProblem, checks map[string]string) {
	var (
		ae      *apiError
		re      *domain.RuleError
		he      *echo.HTTPError
		tooBig  *http.MaxBytesError
		generic = "Der opstod en uventet fejl. Prøv igen senere, og oplys fejl-id'et, hvis det sker igen."
	)
	switch {
	case errors.As(err, &ae):
		return ae.code, ae.detail, ae.fields, ae.checks
	case errors.As(err, &re):
		if _, ok := problemKinds[string(re.Code)]; !ok {
			return codeInternal, generic, nil, nil
		}
		return string(re.Code), re.Message, re.Problems, nil
	case errors.Is(err, store.ErrBadCursor):
		return codeBadRequest, "Parameteren cursor er ugyldig; brug next_cursor fra forrige side.", nil, nil
	case errors.Is(err, store.ErrNotFound):
		return string(domain.CodeNotFound), "Det efterspurgte findes ikke.", nil, nil
	case errors.Is(err, store.ErrConflict):
		return string(domain.CodeConflict), "Oplysningerne er ændret imens. Hent dem igen, og prøv igen.", nil, nil
	case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return codeServiceUnavailable, "Tjenesten svarede ikke i tide. Prøv igen om lidt.", nil, nil
	case errors.As(err, &tooBig):
		return codeTooLarge, "Forespørgslen er større end tilladt.", nil, nil
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusNotFound:
			return string(domain.CodeNotFound), "Adressen findes ikke i API'et.", nil, nil
		case http.StatusMethodNotAllowed:
			return codeMethodNotAllowed, "Adressen understøtter ikke denne HTTP-metode.", nil, nil
		case http.StatusRequestEntityTooLarge:
			return codeTooLarge, "Forespørgslen er større end tilladt.", nil, nil
		case http.StatusUnsupportedMediaType:
			return codeUnsupportedMedia, "Send forespørgslen som application/json.", nil, nil
		case http.StatusUnauthorized:
			return codeUnauthorized, "Log ind med et gyldigt token.", nil, nil
		case http.StatusServiceUnavailable:
			return codeServiceUnavailable, "Tjenesten svarede ikke i tide. Prøv igen om lidt.", nil, nil
		}
		if he.Code >= 400 && he.Code < 500 {
			return codeBadRequest, "Forespørgslen kan ikke behandles.", nil, nil
		}
	}
	return codeInternal, generic, nil, nil
}

// handleError is Echo's HTTPErrorHandler: every error from a handler or middleware ends here.
func (s *server) handleError(err error, c echo.Context) {
	code, detail, fields, checks := classify(err)
	kind := problemKinds[code]
	p := problem{
		Type:      problemTypeBase + code,
		Title:     kind.title,
		Status:    kind.status,
		Detail:    detail,
		Instance:  c.Request().URL.Path,
		Code:      code,
		RequestID: requestID(c),
		Checks:    checks,
	}
	for _, f := range fields {
		p.Errors = append(p.Errors, fieldError(f))
	}

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
	if code == codeMethodNotAllowed {
		if allow, ok := c.Get(echo.ContextKeyHeaderAllow).(string); ok && allow != "" {
			c.Response().Header().Set(echo.HeaderAllow, allow)
		}
	}
	body, merr := json.Marshal(p)
	if merr != nil { // cannot happen for this struct; answer something rather than nothing
		body = []byte(`{"status":500,"code":"internal_error"}`)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(p.Status)
		return
	}
	if werr := c.Blob(p.Status, contentTypeProblem, body); werr != nil {
		s.log.LogAttrs(c.Request().Context(), slog.LevelWarn, "writing problem response failed",
			slog.String("request_id", p.RequestID), slog.String("error", werr.Error()))
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}
