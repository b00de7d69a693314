package api

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// The initiative handlers decode and check the HTTP input, call the service and encode its answer; every access
// and business rule is the service's (and the workflow's). The order of the steps is part of the contract: access
// and role are refused before anything about the body.

func (s *server) createInitiative(c echo.Context) error {
	var b createInitiativeBody
	input, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	proposal, dates := b.toDomain()
	in, err := s.svc.Propose(c.Request().Context(), principalOf(c), b.PlanID, proposal, append(input, dates...), idem(c))
	if in.ID != "" {
		c.Set(ctxInitiativeID, in.ID)
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, "/api/v1/initiatives/"+in.ID)
	return s.initiativeJSON(c, http.StatusCreated, in)
}

// initiativeJSON answers with the initiative as the API shows it: with its plan's board and deadline settings,
// for the open rounds and steps, and today's date in Copenhagen for what is overdue.
func (s *server) initiativeJSON(c echo.Context, status int, in domain.Initiative) error {
	plan, _, err := s.svc.Plan(c.Request().Context(), principalOf(c), in.PlanID)
	if err != nil {
		return err
	}
	return c.JSON(status, initiativeToOut(in, plan, domain.LocalDate(time.Now())))
}

// maxSearchRunes bounds the q parameter of the initiative list.
const maxSearchRunes = 200

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
	// q is free text: the store keeps its letters and digits as prefix words, so anything typed is safe; the cap
	// only keeps requests small.
	search := c.QueryParam("q")
	if utf8.RuneCountInString(search) > maxSearchRunes {
		return badRequest("q", "too_long",
			fmt.Sprintf("Søgeteksten er for lang: højst %d tegn.", maxSearchRunes))
	}
	limit, cursor, err := queryPage(c)
	if err != nil {
		return err
	}
	items, next, err := s.svc.Initiatives(c.Request().Context(), principalOf(c), store.InitiativeFilter{
		PlanID:        planID,
		Phase:         phase,
		DelaftaleID:   c.QueryParam("delaftale"),
		HousingAreaID: c.QueryParam("housing_area"),
		SourceID:      c.QueryParam("source"),
		Search:        search,
		After:         cursor,
		Limit:         limit,
	})
	if err != nil {
		return err
	}
	out := make([]initiativeSummaryOut, len(items))
	for i, it := range items {
		out[i] = summaryToOut(it)
	}
	return c.JSON(http.StatusOK, page(out, next))
}

// loadInitiative reads the initiative named by the path, as the caller may see it.
func (s *server) loadInitiative(c echo.Context) (domain.Initiative, error) {
	id := c.Param("id")
	c.Set(ctxInitiativeID, id)
	in, _, err := s.svc.Initiative(c.Request().Context(), principalOf(c), id)
	return in, err
}

func (s *server) getInitiative(c echo.Context) error {
	in, err := s.loadInitiative(c)
	if err != nil {
		return err
	}
	return s.initiativeJSON(c, http.StatusOK, in)
}

func (s *server) listEvents(c echo.Context) error {
	in, err := s.loadInitiative(c)
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
	events, err := s.svc.Events(c.Request().Context(), principalOf(c), in, after, int(limit))
	if err != nil {
		return err
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

// answer encodes the initiative an action returned.
func (s *server) answer(c echo.Context, in domain.Initiative, err error) error {
	if err != nil {
		return err
	}
	return s.initiativeJSON(c, http.StatusOK, in)
}

func (s *server) decide(c echo.Context) error {
	t, err := s.begin(c, service.ActDecide)
	if err != nil {
		return err
	}
	var b decisionBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	// One endpoint for every vote: the body names the matter (the proposal by default).
	in, err := s.svc.CastVote(c.Request().Context(), t, service.Vote{Matter: domain.MatterKind(b.Matter),
		No: b.MilestoneNo, Outcome: domain.Outcome(b.Outcome), Comment: b.Comment}, idem(c))
	return s.answer(c, in, err)
}

func (s *server) resubmit(c echo.Context) error {
	t, err := s.begin(c, service.ActResubmit)
	if err != nil {
		return err
	}
	var b resubmitBody
	input, err := decodeInput(c, &b, false)
	if err != nil {
		return err
	}
	proposal, dates := b.toDomain()
	in, err := s.svc.Resubmit(c.Request().Context(), t, proposal, append(input, dates...), b.Comment, idem(c))
	return s.answer(c, in, err)
}

func (s *server) withdraw(c echo.Context) error {
	t, err := s.begin(c, service.ActWithdraw)
	if err != nil {
		return err
	}
	var b withdrawBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	in, err := s.svc.Withdraw(c.Request().Context(), t, b.Reason, idem(c))
	return s.answer(c, in, err)
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
	t, err := s.begin(c, service.ActReportMilestone)
	if err != nil {
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
	in, err := s.svc.ReportMilestone(c.Request().Context(), t, no, b.Summary, domain.Money(b.SpentOre), idem(c))
	return s.answer(c, in, err)
}

func (s *server) acceptMilestone(c echo.Context) error {
	t, err := s.begin(c, service.ActAcceptMilestone)
	if err != nil {
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
	in, err := s.svc.AcceptMilestone(c.Request().Context(), t, no, b.Comment, idem(c))
	return s.answer(c, in, err)
}

func (s *server) submitEvaluation(c echo.Context) error {
	t, err := s.begin(c, service.ActSubmitEvaluation)
	if err != nil {
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
	var spend []domain.SourceAmount
	if len(b.Spend) > 0 {
		spend = amountsToDomain(b.Spend)
	}
	in, err := s.svc.SubmitEvaluation(c.Request().Context(), t, b.Summary, results, spend, idem(c))
	return s.answer(c, in, err)
}

func (s *server) acceptEvaluation(c echo.Context) error {
	t, err := s.begin(c, service.ActAcceptEvaluation)
	if err != nil {
		return err
	}
	var b commentBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	in, err := s.svc.AcceptEvaluation(c.Request().Context(), t, b.Comment, idem(c))
	return s.answer(c, in, err)
}

func (s *server) returnMilestone(c echo.Context) error {
	t, err := s.begin(c, service.ActReturnMilestone)
	if err != nil {
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
	in, err := s.svc.ReturnMilestone(c.Request().Context(), t, no, b.Comment, idem(c))
	return s.answer(c, in, err)
}

func (s *server) returnEvaluation(c echo.Context) error {
	t, err := s.begin(c, service.ActReturnEvaluation)
	if err != nil {
		return err
	}
	var b commentBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	in, err := s.svc.ReturnEvaluation(c.Request().Context(), t, b.Comment, idem(c))
	return s.answer(c, in, err)
}

func (s *server) declareConflict(c echo.Context) error {
	t, err := s.begin(c, service.ActDeclareConflict)
	if err != nil {
		return err
	}
	var b reasonBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	in, err := s.svc.DeclareConflict(c.Request().Context(), t, b.Reason, idem(c))
	return s.answer(c, in, err)
}

func (s *server) proposeCancel(c echo.Context) error {
	t, err := s.begin(c, service.ActProposeCancel)
	if err != nil {
		return err
	}
	var b reasonBody
	if err := decodeJSON(c, &b, true); err != nil {
		return err
	}
	in, err := s.svc.ProposeCancel(c.Request().Context(), t, b.Reason, idem(c))
	return s.answer(c, in, err)
}

// maxMeetingMembers bounds the present list and the votes of a meeting decision: more than any board has.
const maxMeetingMembers = store.MaxBoardMembers

func (s *server) meetingDecision(c echo.Context) error {
	t, err := s.begin(c, service.ActMeetingDecision)
	if err != nil {
		return err
	}
	var b meetingDecisionBody
	if err := decodeJSON(c, &b, false); err != nil {
		return err
	}
	var problems []domain.FieldProblem
	if len(b.Present) > maxMeetingMembers {
		problems = append(problems, domain.FieldProblem{Field: "present", Code: "too_many",
			Message: fmt.Sprintf("Højst %d.", maxMeetingMembers)})
	}
	if len(b.Votes) > maxMeetingMembers {
		problems = append(problems, domain.FieldProblem{Field: "votes", Code: "too_many",
			Message: fmt.Sprintf("Højst %d.", maxMeetingMembers)})
	}
	if len(problems) > 0 {
		return &domain.RuleError{Code: domain.CodeValidation, Message: "Mødets afstemning kan ikke registreres.",
			Problems: problems}
	}
	votes := make([]workflows.MeetingVote, len(b.Votes))
	for i, v := range b.Votes {
		votes[i] = workflows.MeetingVote{MemberID: v.MemberID, Outcome: domain.Outcome(v.Outcome)}
	}
	in, err := s.svc.MeetingDecision(c.Request().Context(), t, service.MeetingVotes{ID: b.MeetingID,
		Matter: domain.MatterKind(b.Matter), No: b.MilestoneNo, Present: b.Present, Votes: votes,
		Comment: b.Comment}, idem(c))
	return s.answer(c, in, err)
}
