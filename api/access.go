package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Access rules. A user sees a plan only through their role in it: anything in a plan where they have no role is
// answered exactly like something that does not exist (404), so IDs cannot be probed across plans. Within the
// plan, an action for another role is a 403 that names the role needed.

// maxIDLen bounds IDs taken from the path before they reach the store.
const maxIDLen = 200

func planNotFound(planID string) error {
	return domain.Refuse(domain.CodeNotFound, "Planen %q findes ikke, eller du har ikke adgang til den.", planID)
}

func initiativeNotFound(id string) error {
	return domain.Refuse(domain.CodeNotFound, "Indsatsen %q findes ikke, eller du har ikke adgang til den.", id)
}

func disbursementNotFound(id string) error {
	return domain.Refuse(domain.CodeNotFound, "Udbetalingen %q findes ikke, eller du har ikke adgang til den.", id)
}

// planRole is the caller's role in planID; a plan they have no role in does not exist for them.
func planRole(c echo.Context, planID string) (domain.Role, error) {
	role, ok := principalOf(c).Roles[planID]
	if !ok {
		return "", planNotFound(planID)
	}
	return role, nil
}

// requireRole refuses unless the caller's role in the plan is one of allowed. action completes the Danish
// sentence "Kun <rolle> kan ...".
func requireRole(have domain.Role, action string, allowed ...domain.Role) error {
	for _, a := range allowed {
		if have == a {
			return nil
		}
	}
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = a.DanishName()
	}
	return domain.Refuse(domain.CodeForbidden, "Kun %s kan %s; du er %s i denne plan.",
		strings.Join(names, ", "), action, have.DanishName())
}

// actor is the caller as the workflow records them, with their role in the plan at hand.
func actor(p store.Principal, role domain.Role) domain.Actor {
	return domain.Actor{UserID: p.UserID, Name: p.Name, Role: role}
}

// queryPlan resolves ?plan_id: the caller's plan when they have only one, else the one they name.
func queryPlan(c echo.Context) (string, domain.Role, error) {
	p := principalOf(c)
	if id := c.QueryParam("plan_id"); id != "" {
		role, err := planRole(c, id)
		return id, role, err
	}
	switch len(p.Roles) {
	case 0:
		return "", "", domain.Refuse(domain.CodeNotFound, "Du er ikke tilknyttet nogen helhedsplan.")
	case 1:
		for id, role := range p.Roles {
			return id, role, nil
		}
	}
	return "", "", badRequest("plan_id", "required", "Du er tilknyttet flere planer; angiv plan_id.")
}

// bodyPlan resolves plan_id of a request body like queryPlan, but as a field problem (422).
func bodyPlan(p store.Principal, planID string) (string, domain.Role, error) {
	refuse := func(code, msg string) error {
		return &domain.RuleError{Code: domain.CodeValidation, Message: "Forslaget kan ikke indsendes.",
			Problems: []domain.FieldProblem{{Field: "plan_id", Code: code, Message: msg}}}
	}
	if planID != "" {
		role, ok := p.Roles[planID]
		if !ok {
			return "", "", refuse("unknown", fmt.Sprintf("Planen %q findes ikke, eller du har ikke adgang til den.", planID))
		}
		return planID, role, nil
	}
	switch len(p.Roles) {
	case 0:
		return "", "", refuse("unknown", "Du er ikke tilknyttet nogen helhedsplan.")
	case 1:
		for id, role := range p.Roles {
			return id, role, nil
		}
	}
	return "", "", refuse("required", "Du er tilknyttet flere planer; angiv plan_id.")
}

// loadInitiative reads the initiative named by the path and the caller's role in its plan.
func (s *server) loadInitiative(c echo.Context) (domain.Initiative, domain.Role, error) {
	id := c.Param("id")
	c.Set(ctxInitiativeID, id)
	if id == "" || len(id) > maxIDLen {
		return domain.Initiative{}, "", initiativeNotFound(id)
	}
	in, err := s.st.GetInitiative(c.Request().Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Initiative{}, "", initiativeNotFound(id)
	}
	if err != nil {
		return domain.Initiative{}, "", fmt.Errorf("get initiative %s: %w", id, err)
	}
	role, ok := principalOf(c).Roles[in.PlanID]
	if !ok {
		return domain.Initiative{}, "", initiativeNotFound(id)
	}
	return in, role, nil
}

// updateID names a workflow update. With an Idempotency-Key it is derived from the key, so a retry after a lost
// answer (or a 5xx the middleware did not store) is deduplicated by Temporal and returns the first result.
func updateID(c echo.Context) string {
	if key := idempotencyKey(c); key != "" {
		return principalOf(c).UserID + "/" + key
	}
	return uuid.NewString()
}

// idempotencyKey is the key the idempotency middleware validated and recorded for this request, or "".
func idempotencyKey(c echo.Context) string {
	key, _ := c.Get(ctxIdemKey).(string)
	return key
}

// initiativeNamespace seeds initiative IDs derived from an Idempotency-Key.
var initiativeNamespace = uuid.MustParse("6f1b8f9e-3c4d-4b8a-9a57-1f0e5d2c7b10")

// newInitiativeID is a time-ordered UUIDv7, except with an Idempotency-Key: then it is derived from user and key,
// so a retry of a create whose first attempt started the workflow but never answered finds that workflow instead
// of proposing the initiative twice.
func newInitiativeID(c echo.Context) (string, error) {
	if key := idempotencyKey(c); key != "" {
		return uuid.NewSHA1(initiativeNamespace, []byte(principalOf(c).UserID+"/"+key)).String(), nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new initiative id: %w", err)
	}
	return id.String(), nil
}
