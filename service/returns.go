package service

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// Returns (tilbagebetalinger): after close-out, money paid out and not spent is a receivable from the initiative's
// holder (domain.Closeout). Every plan member reads them; finance or admin marks one received with the bank's
// reference, which books the refund that makes the money available again.

// ReturnsStore is what the return functions need of the store (implemented by *store.Store).
type ReturnsStore interface {
	ListReturns(ctx context.Context, planID, status string) ([]store.Return, error)
	GetReturn(ctx context.Context, id string) (store.Return, error)
	ReceiveReturn(ctx context.Context, id, reference string, actor domain.Actor, at time.Time) (store.Return, error)
	// InitiativeReturns lists one initiative's returns.
	InitiativeReturns(ctx context.Context, initiativeID string) ([]store.Return, error)
	// ReturnByReference finds the plan's return with this payment reference (domain.ReturnReference).
	ReturnByReference(ctx context.Context, planID, ref string) (store.Return, error)
}

var errNoReturnsStore = errors.New("service: the store keeps no returns")

func (s *Service) returnsStore() (ReturnsStore, error) {
	rs, ok := s.st.(ReturnsStore)
	if !ok {
		return nil, errNoReturnsStore
	}
	return rs, nil
}

// MayReceiveReturns says whether p may mark the plan's returns received: finance or admin.
func MayReceiveReturns(p store.Principal, planID string) error {
	role, err := PlanRole(p, planID)
	if err != nil {
		return err
	}
	return RequireRole(role, "registrere en tilbagebetaling som modtaget", domain.RoleFinance, domain.RoleAdmin)
}

func returnNotFound() error {
	return domain.Refuse(domain.CodeNotFound, "Tilbagebetalingen findes ikke.")
}

// Returns lists the plan's returns ("" all, "open" or "received"); any plan member.
func (s *Service) Returns(ctx context.Context, p store.Principal, planID, status string) ([]store.Return, error) {
	if _, err := PlanRole(p, planID); err != nil {
		return nil, err
	}
	status = strings.TrimSpace(status)
	if status != "" && status != store.ReturnOpen && status != store.ReturnReceived {
		return nil, &domain.RuleError{Code: domain.CodeValidation, Message: "Ukendt status.",
			Problems: []domain.FieldProblem{{Field: "status", Code: "unknown", Message: "Status skal være open eller received."}}}
	}
	rs, err := s.returnsStore()
	if err != nil {
		return nil, err
	}
	out, err := rs.ListReturns(ctx, planID, status)
	if err != nil {
		return nil, planErr(err, planID, "returns")
	}
	return out, nil
}

// InitiativeReturns lists one initiative's returns; any member of its plan.
func (s *Service) InitiativeReturns(ctx context.Context, p store.Principal, initiativeID string) ([]store.Return, error) {
	in, _, err := s.Initiative(ctx, p, initiativeID)
	if err != nil {
		return nil, err
	}
	rs, err := s.returnsStore()
	if err != nil {
		return nil, err
	}
	return rs.InitiativeReturns(ctx, in.ID)
}

// ReceiveReturn marks a return received with the bank's reference (finance or admin of its plan). Repeating it
// with the same reference answers the same return; another reference is refused.
func (s *Service) ReceiveReturn(ctx context.Context, p store.Principal, id, reference string) (store.Return, error) {
	rs, err := s.returnsStore()
	if err != nil {
		return store.Return{}, err
	}
	r, err := rs.GetReturn(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Return{}, returnNotFound()
	}
	if err != nil {
		return store.Return{}, err
	}
	if _, ok := p.Roles[r.PlanID]; !ok {
		return store.Return{}, returnNotFound() // another plan's return is not there for p
	}
	if err := MayReceiveReturns(p, r.PlanID); err != nil {
		return store.Return{}, err
	}
	reference = strings.TrimSpace(reference)
	if reference == "" || len([]rune(reference)) > 100 {
		return store.Return{}, &domain.RuleError{Code: domain.CodeValidation, Message: "Tilbagebetalingen kan ikke registreres.",
			Problems: []domain.FieldProblem{{Field: "reference", Code: "required",
				Message: "Skriv bankens reference for indbetalingen (højst 100 tegn)."}}}
	}
	return s.receiveReturn(ctx, p, rs, r, reference, time.Now())
}

// receiveReturn registers r received at `at` (not before it was raised) by p, whose right to do so is checked.
func (s *Service) receiveReturn(ctx context.Context, p store.Principal, rs ReturnsStore, r store.Return, reference string,
	at time.Time) (store.Return, error) {
	if at.Before(r.CreatedAt) {
		at = time.Now()
	}
	out, err := rs.ReceiveReturn(ctx, r.ID, reference, actor(p, p.Roles[r.PlanID]), at)
	if err != nil {
		return store.Return{}, err
	}
	s.log.InfoContext(ctx, "return received", "plan_id", r.PlanID, "return_id", r.ID, "amount_ore", r.AmountØre,
		"user_id", p.UserID)
	return out, nil
}

// SettlementStore is what settling a cancelled initiative needs of the store (implemented by *store.Store).
type SettlementStore interface {
	SettleCancelled(ctx context.Context, planID, initiativeID, delaftaleID string, lines []domain.CloseoutLine,
		actor domain.Actor, at time.Time) error
	CloseoutLines(ctx context.Context, initiativeID string) (*domain.Closeout, string, error)
}

// MaySettle says whether p may state a cancelled initiative's final spend: the operational group (the proposer's
// role) or admin.
func MaySettle(p store.Principal, in domain.Initiative) error {
	role, err := PlanRole(p, in.PlanID)
	if err != nil {
		return err
	}
	return RequireRole(role, "afregne en annulleret indsats", domain.RoleOperationalGroup, domain.RoleAdmin)
}

// Settlement is an initiative's settlement as the store has it (nil when there is none): its close-out lines and
// who stated the spend ("" for a close-out at completion). Any member of the plan reads it.
func (s *Service) Settlement(ctx context.Context, p store.Principal, initiativeID string) (*domain.Closeout, string, error) {
	in, _, err := s.Initiative(ctx, p, initiativeID)
	if err != nil {
		return nil, "", err
	}
	ss, ok := s.st.(SettlementStore)
	if !ok {
		return nil, "", errNoReturnsStore
	}
	return ss.CloseoutLines(ctx, in.ID)
}

// SettleCancelled settles a cancelled initiative's paid money with the final spend per source
// (domain.ComputeSettlement): what was paid and not spent becomes a return for finance to collect. The same
// settlement again changes nothing; another is refused, it was settled already.
func (s *Service) SettleCancelled(ctx context.Context, p store.Principal, initiativeID string, spend []domain.SourceAmount) (*domain.Closeout, error) {
	in, role, err := s.Initiative(ctx, p, initiativeID)
	if err != nil {
		return nil, err
	}
	if err := MaySettle(p, in); err != nil {
		return nil, err
	}
	lines, err := domain.ComputeSettlement(&in, spend)
	if err != nil {
		return nil, err
	}
	ss, ok := s.st.(SettlementStore)
	if !ok {
		return nil, errNoReturnsStore
	}
	if err := ss.SettleCancelled(ctx, in.PlanID, in.ID, in.Proposal.DelaftaleID, lines, actor(p, role), time.Now()); err != nil {
		return nil, err
	}
	c, _, err := ss.CloseoutLines(ctx, in.ID)
	if err != nil {
		return nil, err
	}
	s.log.InfoContext(ctx, "cancelled initiative settled", "initiative_id", in.ID, "user_id", p.UserID)
	return c, nil
}
