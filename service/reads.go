package service

import (
	"context"
	"errors"
	"fmt"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Plans returns the plans p has a role in, in the store's order; none (and no store call) when p has no role.
func (s *Service) Plans(ctx context.Context, p store.Principal) ([]domain.Plan, error) {
	ids := PlanIDs(p)
	if len(ids) == 0 {
		return nil, nil
	}
	plans, err := s.st.ListPlans(ctx, ids)
	if err != nil {
		return nil, fmt.Errorf("list plans: %w", err)
	}
	out := plans[:0:0]
	for _, pl := range plans {
		if _, ok := p.Roles[pl.ID]; ok { // never a plan p has no role in, whatever the store returned
			out = append(out, pl)
		}
	}
	return out, nil
}

// Plan returns the plan and p's role in it.
func (s *Service) Plan(ctx context.Context, p store.Principal, planID string) (domain.Plan, domain.Role, error) {
	role, err := PlanRole(p, planID)
	if err != nil {
		return domain.Plan{}, "", err
	}
	plan, err := s.st.GetPlan(ctx, planID)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Plan{}, "", planNotFound(planID)
	}
	if err != nil {
		return domain.Plan{}, "", fmt.Errorf("get plan %s: %w", planID, err)
	}
	return plan, role, nil
}

// Budget returns the plan's money per funding source and per delaftale.
func (s *Service) Budget(ctx context.Context, p store.Principal, planID string) (store.Budget, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return store.Budget{}, err
	}
	b, err := s.st.Budget(ctx, planID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Budget{}, planNotFound(planID)
	}
	if err != nil {
		return store.Budget{}, fmt.Errorf("budget of plan %s: %w", planID, err)
	}
	return b, nil
}

// Initiative returns the initiative and p's role in its plan. An initiative of a plan p has no role in does not
// exist for them (CodeNotFound), nor does an ID longer than MaxIDLen.
func (s *Service) Initiative(ctx context.Context, p store.Principal, id string) (domain.Initiative, domain.Role, error) {
	if id == "" || len(id) > MaxIDLen {
		return domain.Initiative{}, "", initiativeNotFound(id)
	}
	in, err := s.st.GetInitiative(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Initiative{}, "", initiativeNotFound(id)
	}
	if err != nil {
		return domain.Initiative{}, "", fmt.Errorf("get initiative %s: %w", id, err)
	}
	role, ok := p.Roles[in.PlanID]
	if !ok {
		return domain.Initiative{}, "", initiativeNotFound(id)
	}
	return in, role, nil
}

// Initiatives returns one page of f.PlanID's initiatives and the cursor of the next ("" on the last page). Resolve
// f.PlanID first with ResolvePlan.
func (s *Service) Initiatives(ctx context.Context, p store.Principal, f store.InitiativeFilter) ([]store.InitiativeSummary, string, error) {
	if _, err := PlanRole(p, f.PlanID); err != nil {
		return nil, "", err
	}
	items, next, err := s.st.ListInitiatives(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list initiatives: %w", err)
	}
	return items, next, nil
}

// Events returns up to limit events of the initiative after sequence number after. in is the initiative as
// Initiative returned it (so a page reads it once); p's access to its plan is checked again.
func (s *Service) Events(ctx context.Context, p store.Principal, in domain.Initiative, after int64, limit int) ([]store.Event, error) {
	if _, ok := p.Roles[in.PlanID]; !ok || in.ID == "" {
		return nil, initiativeNotFound(in.ID)
	}
	events, err := s.st.ListEvents(ctx, in.ID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("list events of %s: %w", in.ID, err)
	}
	return events, nil
}

// Disbursements returns one page of f.PlanID's disbursements and the cursor of the next ("" on the last page);
// only finance, the board and the secretariat see them (CheckDisbursementAccess).
func (s *Service) Disbursements(ctx context.Context, p store.Principal, f store.DisbursementFilter) ([]store.Disbursement, string, error) {
	if err := CheckDisbursementAccess(p, f.PlanID); err != nil {
		return nil, "", err
	}
	items, next, err := s.st.ListDisbursements(ctx, f)
	if err != nil {
		return nil, "", fmt.Errorf("list disbursements: %w", err)
	}
	return items, next, nil
}
