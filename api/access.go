package api

import (
	"crypto/sha256"
	"encoding/hex"
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

// updateID names a workflow update. With an Idempotency-Key it is derived from the caller, the key and the
// request (method, path and body: requestHash), so a retry of the same request after a lost answer, a 5xx or a
// timeout is deduplicated by Temporal and gets that update's result, while the same key reused for another request
// (another route, initiative or body) can never get another request's result, even after the key's record has
// expired (store.IdempotencyTTL) and nothing else remembers it.
func updateID(c echo.Context) string {
	if key := idempotencyKey(c); key != "" {
		return principalOf(c).UserID + "/" + keyDigest(c, key)
	}
	return uuid.NewString()
}

// keyDigest is hex(sha256(user, key, request hash)), truncated to 128 bits: unique per (caller, key, request) and
// short enough for an update ID whatever the key's length.
func keyDigest(c echo.Context, key string) string {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(principalOf(c).UserID), []byte(key), idempotencyHash(c)} {
		fmt.Fprintf(h, "%d:", len(part))
		h.Write(part)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
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

// initiativeNamespace seeds initiative IDs derived from an Idempotency-Key.
var initiativeNamespace = uuid.MustParse("6f1b8f9e-3c4d-4b8a-9a57-1f0e5d2c7b10")

// newInitiativeID is a time-ordered UUIDv7, except with an Idempotency-Key: then it is derived from the caller, the
// key and the request like updateID, so a retry of a create whose first attempt started the workflow but never
// answered finds that workflow instead of proposing the initiative twice, and the same key with another proposal
// names another initiative.
func newInitiativeID(c echo.Context) (string, error) {
	if key := idempotencyKey(c); key != "" {
		return uuid.NewSHA1(initiativeNamespace, []byte(principalOf(c).UserID+"/"+keyDigest(c, key))).String(), nil
	}
	id, err := uuid.NewV7()
	if err != nil {
		return "", fmt.Errorf("new initiative id: %w", err)
	}
	return id.String(), nil
}
