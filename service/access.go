package service

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Access rules. A user sees a plan only through their role in it: anything in a plan where they have no role is
// answered exactly like something that does not exist (CodeNotFound), so IDs cannot be probed across plans. Within
// the plan, an action for another role is refused with CodeForbidden, naming the role needed.

// MaxIDLen bounds the IDs callers take from a URL before they reach the store; a longer one does not exist.
const MaxIDLen = 200

// ErrPlanRequired is ResolvePlan's answer to a user with a role in several plans who named none: the caller asks
// which (the API: 400 on plan_id; a page: a plan chooser).
var ErrPlanRequired = errors.New("the user has a role in several plans and named none")

func planNotFound(planID string) error {
	return domain.Refuse(domain.CodeNotFound, "Planen %q findes ikke, eller du har ikke adgang til den.", planID)
}

func initiativeNotFound(id string) error {
	return domain.Refuse(domain.CodeNotFound, "Indsatsen %q findes ikke, eller du har ikke adgang til den.", id)
}

func disbursementNotFound(id string) error {
	return domain.Refuse(domain.CodeNotFound, "Udbetalingen %q findes ikke, eller du har ikke adgang til den.", id)
}

// PlanRole is p's role in planID; a plan they have no role in does not exist for them (CodeNotFound).
func PlanRole(p store.Principal, planID string) (domain.Role, error) {
	role, ok := p.Roles[planID]
	if !ok {
		return "", planNotFound(planID)
	}
	return role, nil
}

// PlanIDs lists the plans p has a role in, sorted.
func PlanIDs(p store.Principal) []string {
	ids := make([]string, 0, len(p.Roles))
	for id := range p.Roles {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ResolvePlan is the plan a read is about: planID when p has a role in it, else (planID "") p's only plan. A user
// with no plan gets CodeNotFound; one with several who named none gets ErrPlanRequired.
func ResolvePlan(p store.Principal, planID string) (string, domain.Role, error) {
	if planID != "" {
		role, err := PlanRole(p, planID)
		return planID, role, err
	}
	switch len(p.Roles) {
	case 0:
		return "", "", domain.Refuse(domain.CodeNotFound, "Du er ikke tilknyttet nogen helhedsplan.")
	case 1:
		for id, role := range p.Roles {
			return id, role, nil
		}
	}
	return "", "", ErrPlanRequired
}

// proposalPlan resolves the plan of a new proposal like ResolvePlan, but every refusal is a problem with the
// proposal's plan_id field (CodeValidation), as the plan is part of what the user submits.
func proposalPlan(p store.Principal, planID string) (string, domain.Role, error) {
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

// RequireRole refuses (CodeForbidden) unless have is one of allowed. action completes the Danish sentence
// "Kun <rolle> kan ...".
func RequireRole(have domain.Role, action string, allowed ...domain.Role) error {
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

// actor is the user as the workflow records them, with their role in the plan at hand.
func actor(p store.Principal, role domain.Role) domain.Actor {
	return domain.Actor{UserID: p.UserID, Name: p.Name, Role: role}
}

// Roles that may see a plan's disbursements.
var disbursementReaders = []domain.Role{domain.RoleFinance, domain.RoleAdmin, domain.RoleBoard}

// CheckDisbursementAccess says whether p may list planID's disbursements: CodeNotFound outside their plans,
// CodeForbidden for a role that does not handle payments.
func CheckDisbursementAccess(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "se udbetalinger", disbursementReaders...)
}
