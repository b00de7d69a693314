package api

import (
	"errors"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
)

// Access rules live in package service (the web pages apply the same); this file only adapts them to a request:
// the caller is the authenticated principal, and a plan or key comes from the query, path or headers.

// planRole is the caller's role in planID; a plan they have no role in does not exist for them.
func planRole(c echo.Context, planID string) (domain.Role, error) {
	return service.PlanRole(principalOf(c), planID)
}

// requireRole refuses unless the caller's role in the plan is one of allowed (see service.RequireRole).
func requireRole(have domain.Role, action string, allowed ...domain.Role) error {
	return service.RequireRole(have, action, allowed...)
}

// queryPlan resolves ?plan_id: the caller's plan when they have only one, else the one they name.
func queryPlan(c echo.Context) (string, domain.Role, error) {
	id, role, err := service.ResolvePlan(principalOf(c), c.QueryParam("plan_id"))
	if errors.Is(err, service.ErrPlanRequired) {
		return "", "", badRequest("plan_id", "required", "Du er tilknyttet flere planer; angiv plan_id.")
	}
	return id, role, err
}

// begin reads the initiative named by the path for action kind and checks the caller may attempt it.
func (s *server) begin(c echo.Context, kind service.ActionKind) (*service.Target, error) {
	id := c.Param("id")
	c.Set(ctxInitiativeID, id)
	return s.svc.Begin(c.Request().Context(), principalOf(c), id, kind)
}

// idem names this request for the service: derived from the caller, the Idempotency-Key and the request (method,
// path and body: requestHash), so a retry of the same request after a lost answer, a 5xx or a timeout is
// deduplicated by Temporal and gets that update's result, while the same key reused for another request (another
// route, initiative or body) can never get another request's result, even after the key's record has expired
// (store.IdempotencyTTL) and nothing else remembers it. Without a key every request is new.
func idem(c echo.Context) service.Idem {
	return service.NewIdem(principalOf(c).UserID, idempotencyKey(c), idempotencyHash(c))
}

// idempotencyKey is the key the idempotency middleware validated and recorded for this request, or "".
func idempotencyKey(c echo.Context) string {
	key, _ := c.Get(ctxIdemKey).(string)
	return key
}

// idempotencyHash is requestHash of this request, set by the idempotency middleware together with the key.
func idempotencyHash(c echo.Context) []byte {
	h, _ := c.Get(ctxIdemHash).([]byte)
	return h
}
