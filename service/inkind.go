package service

import (
	"context"
	"errors"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// In-kind contributions (naturalydelser): what the API's /initiatives/{id}/inkind, /inkind/{id}/confirm|reject
// and /plans/{id}/inkind and the pages (the initiative page, /oekonomi/naturalydelser) read and do. The
// operational group (the proposer's role) or admin registers; finance or admin confirms or rejects, never their
// own registration (segregation of duties: checked here for the message, and by the database). Every plan member
// reads them.

// InKindStore is what the in-kind functions need of the store (implemented by *store.Store).
type InKindStore interface {
	ListInKind(ctx context.Context, planID string, f store.InKindFilter) ([]store.InKindContribution, error)
	GetInKind(ctx context.Context, id int64) (store.InKindContribution, error)
	RegisterInKind(ctx context.Context, initiativeID string, in domain.InKind, actor domain.Actor) (store.InKindContribution, error)
	DecideInKind(ctx context.Context, id int64, status domain.InKindStatus, reason string, actor domain.Actor) (store.InKindContribution, error)
}

var errNoInKindStore = errors.New("service: the store keeps no in-kind contributions")

func (s *Service) inKindStore() (InKindStore, error) {
	is, ok := s.st.(InKindStore)
	if !ok {
		return nil, errNoInKindStore
	}
	return is, nil
}

// Roles that register and that decide in-kind contributions.
var (
	inKindRegistrars = []domain.Role{domain.RoleOperationalGroup, domain.RoleAdmin}
	inKindDeciders   = []domain.Role{domain.RoleFinance, domain.RoleAdmin}
)

// MayRegisterInKind says whether p may register in-kind on the initiative: the operational group or admin.
func MayRegisterInKind(p store.Principal, in domain.Initiative) error {
	role, err := PlanRole(p, in.PlanID)
	if err != nil {
		return err
	}
	return RequireRole(role, "registrere naturalydelser", inKindRegistrars...)
}

// MayDecideInKind says whether p may confirm or reject the plan's in-kind contributions: finance or admin.
func MayDecideInKind(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "godkende naturalydelser", inKindDeciders...)
}

func inKindNotFound() error {
	return domain.Refuse(domain.CodeNotFound, "Naturalydelsen findes ikke.")
}

// InKind lists the plan's in-kind contributions (newest first), optionally of one status; any plan member.
func (s *Service) InKind(ctx context.Context, p store.Principal, planID string, status string) ([]store.InKindContribution, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	st := domain.InKindStatus(strings.TrimSpace(status))
	if st != "" && !st.Valid() {
		return nil, &domain.RuleError{Code: domain.CodeValidation, Message: "Ukendt status.",
			Problems: []domain.FieldProblem{{Field: "status", Code: "unknown",
				Message: "Status skal være registered, confirmed eller rejected."}}}
	}
	is, err := s.inKindStore()
	if err != nil {
		return nil, err
	}
	out, err := is.ListInKind(ctx, planID, store.InKindFilter{Status: st})
	if err != nil {
		return nil, planErr(err, planID, "in-kind")
	}
	return out, nil
}

// InitiativeInKind lists one initiative's in-kind contributions; any member of its plan.
func (s *Service) InitiativeInKind(ctx context.Context, p store.Principal, initiativeID string) ([]store.InKindContribution, error) {
	in, _, err := s.Initiative(ctx, p, initiativeID)
	if err != nil {
		return nil, err
	}
	is, err := s.inKindStore()
	if err != nil {
		return nil, err
	}
	return is.ListInKind(ctx, in.PlanID, store.InKindFilter{InitiativeID: in.ID})
}

// RegisterInKind registers an in-kind contribution to a milestone of the (approved) initiative.
func (s *Service) RegisterInKind(ctx context.Context, p store.Principal, initiativeID string, k domain.InKind) (store.InKindContribution, error) {
	in, role, err := s.Initiative(ctx, p, initiativeID)
	if err != nil {
		return store.InKindContribution{}, err
	}
	if err := MayRegisterInKind(p, in); err != nil {
		return store.InKindContribution{}, err
	}
	is, err := s.inKindStore()
	if err != nil {
		return store.InKindContribution{}, err
	}
	out, err := is.RegisterInKind(ctx, in.ID, k, actor(p, role))
	if err != nil {
		return store.InKindContribution{}, err
	}
	s.log.InfoContext(ctx, "in-kind registered", "initiative_id", in.ID, "inkind_id", out.ID,
		"source_id", out.SourceID, "value_ore", out.ValueØre, "user_id", p.UserID)
	return out, nil
}

// DecideInKind confirms (status confirmed) or rejects (status rejected, with a reason) a registered contribution:
// finance or admin of its plan, not the one who registered it.
func (s *Service) DecideInKind(ctx context.Context, p store.Principal, id int64, status domain.InKindStatus, reason string) (store.InKindContribution, error) {
	is, err := s.inKindStore()
	if err != nil {
		return store.InKindContribution{}, err
	}
	c, err := is.GetInKind(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.InKindContribution{}, inKindNotFound()
	}
	if err != nil {
		return store.InKindContribution{}, err
	}
	if _, ok := p.Roles[c.PlanID]; !ok {
		return store.InKindContribution{}, inKindNotFound() // another plan's contribution is not there for p
	}
	if err := MayDecideInKind(p, c.PlanID); err != nil {
		return store.InKindContribution{}, err
	}
	if status == domain.InKindRejected {
		if err := domain.CheckInKindReason(reason); err != nil {
			return store.InKindContribution{}, err
		}
	} else {
		reason = ""
	}
	out, err := is.DecideInKind(ctx, id, status, reason, actor(p, p.Roles[c.PlanID]))
	if err != nil {
		return store.InKindContribution{}, err
	}
	s.log.InfoContext(ctx, "in-kind decided", "plan_id", c.PlanID, "inkind_id", id, "status", string(status),
		"user_id", p.UserID)
	return out, nil
}
