package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

const msgProposalInvalid = "Forslaget kan ikke indsendes, fordi nogle felter ikke overholder reglerne."

// checkProposal converts and validates a proposal against the plan and the money still free in the ledger, so the
// proposer hears about every problem at once instead of one per round trip. The workflow validates again (without
// the ledger) and the reservation at approval enforces the funds under a lock; this check is for the user.
// input holds the problems decoding found (fields missing, null or with forbidden characters); they are reported
// with the rules' own, one problem per field: where the rule names the field with the same code, its message (which
// says more) is kept; otherwise the input problem is, as the rule only saw the zero value standing in for it.
func (s *server) checkProposal(ctx context.Context, plan domain.Plan, b proposalBody, input []domain.FieldProblem) (domain.Proposal, error) {
	p, dates := b.toDomain()
	available, err := s.st.Available(ctx, plan.ID)
	if err != nil {
		return p, fmt.Errorf("available funds of plan %s: %w", plan.ID, err)
	}
	verr := domain.ValidateProposal(plan, &p, available)
	if verr == nil && len(dates) == 0 && len(input) == 0 {
		return p, nil
	}
	msg := msgProposalInvalid
	var rules []domain.FieldProblem
	if verr != nil {
		var re *domain.RuleError
		if !errors.As(verr, &re) {
			return p, verr
		}
		msg, rules = re.Message, re.Problems
	}
	inputCode := map[string]string{}
	for _, fp := range input {
		inputCode[fp.Field] = fp.Code
	}
	ruled := map[string]bool{} // input fields whose problem the rule reports in its own words
	for _, fp := range rules {
		if code, ok := inputCode[fp.Field]; ok && code == fp.Code {
			ruled[fp.Field] = true
		}
	}
	var problems []domain.FieldProblem
	for _, fp := range input {
		if !ruled[fp.Field] {
			problems = append(problems, fp)
		}
	}
	problems = append(problems, dates...)
	for _, fp := range rules {
		_, fromInput := inputCode[fp.Field]
		// A date that did not parse is zero to the domain, which calls it missing; the parse problem says more.
		parsed := slices.ContainsFunc(dates, func(d domain.FieldProblem) bool { return d.Field == fp.Field })
		if (!fromInput || ruled[fp.Field]) && !parsed {
			problems = append(problems, fp)
		}
	}
	return p, &domain.RuleError{Code: domain.CodeValidation, Message: msg, Problems: problems}
}

func (s *server) createInitiative(c echo.Context) error {
	ctx := c.Request().Context()
	p := principalOf(c)
	var b createInitiativeBody
	input, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	planID, role, err := bodyPlan(p, b.PlanID)
	if err != nil {
		return err
	}
	if err := requireRole(role, "foreslå en indsats", domain.RoleOperationalGroup); err != nil {
		return err
	}
	plan, err := s.st.GetPlan(ctx, planID)
	if err != nil {
		return fmt.Errorf("get plan %s: %w", planID, err)
	}
	proposal, err := s.checkProposal(ctx, plan, b.proposalBody, input)
	if err != nil {
		return err
	}
	id, err := newInitiativeID(c)
	if err != nil {
		return err
	}
	c.Set(ctxInitiativeID, id)

	res, err := s.wf.Start(ctx, workflows.StartInput{
		InitiativeID: id, Plan: plan.Rules(), Proposer: actor(p, role), Proposal: proposal,
	})
	if errors.Is(err, store.ErrConflict) && idempotencyKey(c) != "" {
		// The ID is derived from the key and the request, so this is a retry whose first attempt started the
		// workflow but did not answer (the 5xx was not stored). Answer with the initiative that attempt created.
		res, err = s.wf.Update(ctx, id, workflows.UpdateSync, uuid.NewString(), nil)
	}
	if err != nil {
		return err
	}
	in, err := s.recorded(ctx, id, res)
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/initiatives/"+in.ID)
	return c.JSON(http.StatusCreated, initiativeToOut(in))
}

// recorded reads the initiative an update (or the start) has just written, from the read model. The workflow writes
// before it answers, so the read model holds at least res.Version; if it does not, the answer is 503 (retry with
// the same Idempotency-Key), never an initiative older than the action the client is told succeeded.
func (s *server) recorded(ctx context.Context, id string, res workflows.UpdateResult) (domain.Initiative, error) {
	if res.InitiativeID != "" && res.InitiativeID != id {
		return domain.Initiative{}, fmt.Errorf("workflow of initiative %s answered for initiative %s", id, res.InitiativeID)
	}
	in, err := s.st.GetInitiative(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return domain.Initiative{}, fmt.Errorf("%w: initiative %s at version %d is not in the read model (%v)",
			errReadModelBehind, id, res.Version, err)
	}
	if err != nil {
		return domain.Initiative{}, fmt.Errorf("get initiative %s after update: %w", id, err)
	}
	if in.Version < res.Version {
		return domain.Initiative{}, fmt.Errorf("%w: initiative %s: read model at version %d, workflow at %d",
			errReadModelBehind, id, in.Version, res.Version)
	}
	return in, nil
}

func (s *server) listInitiatives(c echo.Context) error {
	planID, _, err := queryPlan(c)
	if err != nil {
		return err
	}
	phase := domain.Phase(c.QueryParam("phase"))
	if phase != "" && !phase.Valid() {
		names := make([]string, len(domain.Phases))
		for i, ph := range domain.Phases {
			names[i] = string(ph)
		}
		return badRequest("phase", "unknown",
			fmt.Sprintf("Ukendt fase %q. Brug en af: %s.", phase, strings.Join(names, ", ")))
	}
	limit, cursor, err := queryPage(c)
	if err != nil {
		return err
	}
	items, next, err := s.st.ListInitiatives(c.Request().Context(), store.InitiativeFilter{
		PlanID:        planID,
		Phase:         phase,
		DelaftaleID:   c.QueryParam("delaftale"),
		HousingAreaID: c.QueryParam("housing_area"),
		After:         cursor,
		Limit:         limit,
	})
	if err != nil {
		return fmt.Errorf("list initiatives: %w", err)
	}
	out := make([]initiativeSummaryOut, len(items))
	for i, it := range items {
		out[i] = summaryToOut(it)
	}
	return c.JSON(http.StatusOK, page(out, next))
}

func (s *server) getInitiative(c echo.Context) error {
	in, _, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, initiativeToOut(in))
}

func (s *server) listEvents(c echo.Context) error {
	in, _, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	after, err := queryInt(c, "after", 0, 0, math.MaxInt64)
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit", 100, 1, 500)
	if err != nil {
		return err
	}
	events, err := s.st.ListEvents(c.Request().Context(), in.ID, after, int(limit))
	if err != nil {
		return fmt.Errorf("list events of %s: %w", in.ID, err)
	}
	out := eventsOut{Items: make([]eventOut, len(events))}
	for i, e := range events {
		out.Items[i] = eventToOut(e)
	}
	if n := len(events); n > 0 && int64(n) == limit {
		last := events[n-1].Seq
		out.NextAfter = &last
	}
	return c.JSON(http.StatusOK, out)
}

// update runs a workflow update on the initiative and answers with the initiative as recorded afterwards, read
// from the read model (the update itself returns only phase and version).
func (s *server) update(c echo.Context, initiativeID, name string, arg any) error {
	ctx := c.Request().Context()
	res, err := s.wf.Update(ctx, initiativeID, name, updateID(c), arg)
	if err != nil {
		return err
	}
	in, err := s.recorded(ctx, initiativeID, res)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, initiativeToOut(in))
}

func (s *server) decide(c echo.Context) error {
	in, role, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	if err := requireRole(role, "træffe beslutning om et forslag", domain.RoleBoard); err != nil {
		return err
	}
	var b decisionBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	return s.update(c, in.ID, workflows.UpdateDecide, workflows.DecideInput{
		Actor: actor(principalOf(c), role), Outcome: domain.Outcome(b.Outcome), Comment: b.Comment,
	})
}

func (s *server) resubmit(c echo.Context) error {
	in, role, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	// The admin may resubmit too; the workflow's rule decides who exactly (the proposer, or an admin).
	if err := requireRole(role, "indsende et revideret forslag", domain.RoleOperationalGroup, domain.RoleAdmin); err != nil {
		return err
	}
	var b resubmitBody
	input, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	plan, err := s.st.GetPlan(ctx, in.PlanID)
	if err != nil {
		return fmt.Errorf("get plan %s: %w", in.PlanID, err)
	}
	// Before approval nothing is reserved for this initiative, so the free funds need no correction for its own
	// earlier revision.
	proposal, err := s.checkProposal(ctx, plan, b.proposalBody, input)
	if err != nil {
		return err
	}
	return s.update(c, in.ID, workflows.UpdateResubmit, workflows.ResubmitInput{
		Actor: actor(principalOf(c), role), Proposal: proposal, Comment: b.Comment,
	})
}

func (s *server) withdraw(c echo.Context) error {
	in, role, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	if err := requireRole(role, "trække et forslag tilbage", domain.RoleOperationalGroup); err != nil {
		return err
	}
	var b withdrawBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	return s.update(c, in.ID, workflows.UpdateWithdraw, workflows.WithdrawInput{
		Actor: actor(principalOf(c), role), Reason: b.Reason,
	})
}

// milestoneNo parses {n}; the workflow decides whether that milestone exists and is the current one.
func milestoneNo(c echo.Context) (int, error) {
	n, err := strconv.Atoi(c.Param("n"))
	if err != nil || n < 1 {
		return 0, badRequest("n", "invalid", "Milepælens nummer skal være et heltal fra 1 og op.")
	}
	return n, nil
}

func (s *server) reportMilestone(c echo.Context) error {
	in, role, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	if err := requireRole(role, "rapportere på en milepæl", domain.RoleOperationalGroup); err != nil {
		return err
	}
	no, err := milestoneNo(c)
	if err != nil {
		return err
	}
	var b reportBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	return s.update(c, in.ID, workflows.UpdateReportMilestone, workflows.ReportMilestoneInput{
		Actor: actor(principalOf(c), role), No: no, Summary: b.Summary, SpentØre: domain.Money(b.SpentOre),
	})
}

func (s *server) acceptMilestone(c echo.Context) error {
	in, role, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	if err := requireRole(role, "godkende en milepæl", domain.RoleBoard); err != nil {
		return err
	}
	no, err := milestoneNo(c)
	if err != nil {
		return err
	}
	var b commentBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	return s.update(c, in.ID, workflows.UpdateAcceptMilestone, workflows.AcceptMilestoneInput{
		Actor: actor(principalOf(c), role), No: no, Comment: b.Comment,
	})
}

func (s *server) submitEvaluation(c echo.Context) error {
	in, role, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	if err := requireRole(role, "indsende en evaluering", domain.RoleOperationalGroup); err != nil {
		return err
	}
	var b evaluationBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	results := make([]domain.GoalResult, len(b.Results))
	for i, r := range b.Results {
		results[i] = domain.GoalResult{GoalID: r.GoalID, Achieved: r.Achieved, Result: r.Result}
	}
	return s.update(c, in.ID, workflows.UpdateSubmitEvaluation, workflows.SubmitEvaluationInput{
		Actor: actor(principalOf(c), role), Summary: b.Summary, Results: results,
	})
}

func (s *server) acceptEvaluation(c echo.Context) error {
	in, role, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	if err := requireRole(role, "godkende en evaluering", domain.RoleBoard); err != nil {
		return err
	}
	var b commentBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	return s.update(c, in.ID, workflows.UpdateAcceptEvaluation, workflows.AcceptEvaluationInput{
		Actor: actor(principalOf(c), role), Comment: b.Comment,
	})
}
