package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// wfCall is one workflow update the pages sent.
type wfCall struct {
	InitiativeID, Name, UpdateID string
	Arg                          any
}

// fakeWorkflows stands in for Temporal behind service.New. Like the initiative workflow, it runs the update's
// rule (the domain.Check* its validator runs, under the plan's board as the store holds it) against the
// initiative as recorded, refuses with the rule's *domain.RuleError, and otherwise writes the step to the read
// model before it answers. An update ID it has answered before gets the same answer again without a second step,
// as Temporal deduplicates update IDs.
type fakeWorkflows struct {
	mu      sync.Mutex
	st      *store.Store
	calls   []wfCall
	results map[string]workflows.UpdateResult
	err     error // when set, every update fails with it
}

func (f *fakeWorkflows) Start(context.Context, workflows.StartInput) (workflows.UpdateResult, error) {
	return workflows.UpdateResult{}, errors.New("fake: no proposals in these tests")
}

func (f *fakeWorkflows) Update(ctx context.Context, id, name, updateID string, arg any) (workflows.UpdateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, wfCall{id, name, updateID, arg})
	if f.err != nil {
		return workflows.UpdateResult{}, f.err
	}
	if res, ok := f.results[updateID]; ok {
		return res, nil
	}
	in, err := f.st.GetInitiative(ctx, id)
	if err != nil {
		return workflows.UpdateResult{}, err
	}
	plan, err := f.st.GetPlan(ctx, in.PlanID)
	if err != nil {
		return workflows.UpdateResult{}, err
	}
	before := in.Phase
	typ, actor, err := applyUpdate(&in, plan, name, arg)
	if err != nil {
		return workflows.UpdateResult{}, err
	}
	if err := writeStep(ctx, f.st, &in, typ, actor, before); err != nil {
		return workflows.UpdateResult{}, err
	}
	res := workflows.UpdateResult{InitiativeID: id, Phase: in.Phase, Version: in.Version}
	f.results[updateID] = res
	return res, nil
}

func (f *fakeWorkflows) sent() []wfCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]wfCall(nil), f.calls...)
}

func (f *fakeWorkflows) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// fakeNow is when the fake workflow acts.
var fakeNow = time.Date(2023, 1, 2, 10, 0, 0, 0, time.UTC)

// applyUpdate checks an update with the workflow's rule and applies a simplified step (no ledger): the board's
// votes are counted by the plan's board rules (domain.CountRound), as the workflow counts them.
func applyUpdate(in *domain.Initiative, plan domain.Plan, name string, arg any) (string, domain.Actor, error) {
	now := fakeNow
	switch a := arg.(type) {
	case workflows.DecideInput:
		kind := a.Matter
		if kind == "" {
			kind = domain.MatterProposal
		}
		if err := domain.CheckBoardVote(in, plan, a.Actor, kind, a.No, a.Outcome, a.Comment); err != nil {
			return "", a.Actor, err
		}
		key, _ := domain.OpenMatter(in, kind, a.No)
		in.Ballots = append(in.Ballots, domain.Ballot{Matter: key, Revision: in.Revision, Actor: a.Actor,
			Outcome: a.Outcome, Comment: a.Comment, At: now})
		res, err := domain.CountRound(in, plan, kind, in.RoundBallots(key))
		if err != nil {
			return "", a.Actor, err
		}
		if !res.Decided {
			return "ballot_cast", a.Actor, nil
		}
		return decideMatter(in, kind, a.No, key, res, a.Comment, a.Actor), a.Actor, nil
	case workflows.MeetingDecisionInput:
		kind := a.Matter
		if kind == "" {
			kind = domain.MatterProposal
		}
		votes := make([]domain.Vote, len(a.Votes))
		for i, v := range a.Votes {
			votes[i] = domain.Vote{MemberID: v.MemberID, Outcome: v.Outcome}
		}
		res, err := domain.CheckMeetingDecision(in, plan, a.Actor, kind, a.No, a.Present, votes, a.Comment)
		if err != nil {
			return "", a.Actor, err
		}
		key, _ := domain.OpenMatter(in, kind, a.No)
		res.Tally.MeetingID = a.MeetingID
		return decideMatter(in, kind, a.No, key, res, a.Comment, a.Actor), a.Actor, nil
	case workflows.DeclareConflictInput:
		if err := domain.CheckDeclareConflict(in, plan, a.Actor, a.Reason); err != nil {
			return "", a.Actor, err
		}
		in.Conflicts = append(in.Conflicts, domain.Conflict{UserID: a.Actor.UserID, Name: a.Actor.Name, Reason: a.Reason, At: now})
		return "conflict_declared", a.Actor, nil
	case workflows.ProposeCancelInput:
		if err := domain.CheckProposeCancel(in, a.Actor, a.Reason); err != nil {
			return "", a.Actor, err
		}
		round := 1
		if in.Cancellation != nil {
			round = in.Cancellation.Round + 1
		}
		in.Cancellation = &domain.Cancellation{Round: round, Reason: a.Reason, ProposedBy: a.Actor, ProposedAt: now}
		return "cancellation_proposed", a.Actor, nil
	case workflows.RequestChangeInput:
		c, err := domain.CheckRequestChange(in, plan, a.Actor, a.Reason, a.Budget, a.Milestones, nil)
		if err != nil {
			return "", a.Actor, err
		}
		c.RequestedAt = now
		in.Changes = append(in.Changes, c)
		return "change_requested", a.Actor, nil
	case workflows.RecordLBFInput:
		if err := domain.CheckLBFApproval(in, a.Actor, a.ChangeNo, a.LetterDate, a.Reference); err != nil {
			return "", a.Actor, err
		}
		c := in.OpenChange()
		c.LBF = &domain.LBFApproval{Approved: a.Approved, LetterDate: a.LetterDate, Reference: a.Reference,
			RecordedBy: a.Actor, RecordedAt: now}
		if !a.Approved {
			c.Status = domain.ChangeLBFRefused
			return "change_lbf_refused", a.Actor, nil
		}
		applyChange(in, []string{"Landsbyggefonden (" + a.Reference + ")"})
		return "change_applied", a.Actor, nil
	case workflows.WithdrawInput:
		if err := domain.CheckWithdraw(in, a.Actor, a.Reason); err != nil {
			return "", a.Actor, err
		}
		in.Phase, in.WithdrawnReason = domain.PhaseWithdrawn, a.Reason
		return "withdrawn", a.Actor, nil
	case workflows.ReportMilestoneInput:
		if err := domain.CheckReport(in, a.Actor, a.No, a.Summary, a.SpentØre); err != nil {
			return "", a.Actor, err
		}
		in.Milestones[a.No-1].Report = &domain.Report{Summary: a.Summary, SpentØre: a.SpentØre, Actor: a.Actor, At: now}
		return "milestone_reported", a.Actor, nil
	case workflows.SubmitEvaluationInput:
		if err := domain.CheckSubmitEvaluation(in, a.Actor, a.Summary, a.Results, nil); err != nil {
			return "", a.Actor, err
		}
		in.Evaluation = &domain.Evaluation{Summary: a.Summary, Results: a.Results, SubmittedBy: a.Actor, SubmittedAt: now}
		return "evaluation_submitted", a.Actor, nil
	}
	return "", domain.Actor{}, fmt.Errorf("fake: unexpected update %s with %T", name, arg)
}

// applyChange puts the open change in force, as the workflow does (simplified: no ledger): the milestones and the
// budget follow it, and it is a new approved version.
func applyChange(in *domain.Initiative, by []string) {
	now := fakeNow
	c := in.OpenChange()
	in.Milestones = domain.ApplyChange(in, c)
	in.Proposal.Budget, in.Proposal.Milestones = c.Budget, c.Milestones
	c.Status, c.AppliedAt = domain.ChangeApplied, &now
	if c.DecidedAt == nil {
		c.DecidedAt = &now
	}
	in.Versions = append(in.Versions, domain.ApprovedVersion{Version: len(in.Versions) + 1, ChangeNo: c.No,
		Budget: c.Budget, Milestones: c.Milestones, DecidedBy: by, At: now})
}

// decideMatter applies the board's decision on a round, as the workflow does (simplified: no ledger).
func decideMatter(in *domain.Initiative, kind domain.MatterKind, no int, key string, res domain.RoundResult,
	comment string, by domain.Actor) string {
	now := fakeNow
	ballots := in.RoundBallots(key)
	var rest []domain.Ballot
	for _, b := range in.Ballots {
		if b.Matter != key {
			rest = append(rest, b)
		}
	}
	in.Ballots = rest
	in.Decisions = append(in.Decisions, domain.Decision{Matter: key, Revision: in.Revision, Outcome: res.Outcome,
		Comment: comment, Ballots: ballots, At: now, Tally: res.Tally})
	release := func(i int) {
		in.Milestones[i].TrancheStatus, in.Milestones[i].ReleasedAt = domain.TrancheReleased, &now
		in.Milestones[i].DisbursementID = domain.DisbursementID(in.ID, i+1)
		in.Phase = domain.PhaseFunding
	}
	switch kind {
	case domain.MatterMilestone:
		m := &in.Milestones[no-1]
		if res.Outcome != domain.OutcomeApprove {
			m.Returned = append(m.Returned, domain.ReturnedReport{Summary: m.Report.Summary, SpentØre: m.Report.SpentØre,
				Comment: comment, By: by, At: now})
			m.Report = nil
			return "milestone_returned"
		}
		m.AcceptedAt, m.AcceptedBy = &now, &by
		if no < len(in.Milestones) {
			release(no)
		} else {
			in.Phase = domain.PhaseEvaluation
		}
		return "milestone_accepted"
	case domain.MatterEvaluation:
		if res.Outcome != domain.OutcomeApprove {
			e := in.Evaluation
			in.EvaluationsReturned = append(in.EvaluationsReturned, domain.ReturnedReport{Summary: e.Summary,
				Comment: comment, By: by, At: now})
			in.Evaluation = nil
			return "evaluation_returned"
		}
		in.Phase = domain.PhaseCompleted
		in.Evaluation.AcceptedAt, in.Evaluation.AcceptedBy, in.Evaluation.Comment = &now, &by, comment
		return "evaluation_accepted"
	case domain.MatterChange:
		c := in.OpenChange()
		if res.Outcome != domain.OutcomeApprove {
			c.Status, c.DecidedAt = domain.ChangeRejected, &now
			return "change_rejected"
		}
		if c.Strategic {
			c.Status, c.DecidedAt = domain.ChangeAwaitingLBF, &now
			return "change_approved"
		}
		applyChange(in, domain.DecidedBy(ballots))
		return "change_applied"
	case domain.MatterCancellation:
		c := in.Cancellation
		c.Decided, c.Outcome, c.DecidedAt = true, res.Outcome, &now
		if res.Outcome != domain.OutcomeApprove {
			return "cancellation_refused"
		}
		paid := map[string]domain.Money{}
		for i := range in.Milestones {
			m := &in.Milestones[i]
			for _, l := range m.Tranche {
				if m.TrancheStatus == domain.TranchePaid {
					paid[l.SourceID] += l.AmountØre
				}
			}
			if m.TrancheStatus == domain.TrancheReleased {
				c.Withdrawn = append(c.Withdrawn, m.DisbursementID)
			}
		}
		for _, l := range in.Proposal.Budget {
			c.Returned = append(c.Returned, domain.SourceAmount{SourceID: l.SourceID, AmountØre: l.AmountØre - paid[l.SourceID]})
		}
		in.Phase = domain.PhaseCancelled
		return "cancelled"
	}
	switch res.Outcome {
	case domain.OutcomeApprove:
		release(0)
		return "approved"
	case domain.OutcomeReject:
		in.Phase = domain.PhaseRejected
		return "rejected"
	}
	in.Phase = domain.PhaseChangesRequested
	return "changes_requested"
}

// writeStep records the initiative's next version, as the workflow's local activity does (record, without t).
func writeStep(ctx context.Context, st *store.Store, in *domain.Initiative, typ string, actor domain.Actor, before domain.Phase) error {
	in.Version++
	in.UpdatedAt = fakeNow
	ev := store.Event{InitiativeID: in.ID, Seq: in.Version, Type: typ, ActorID: actor.UserID, ActorName: actor.Name,
		ActorRole: actor.Role, At: in.UpdatedAt, PhaseBefore: before, PhaseAfter: in.Phase, Payload: json.RawMessage(`{}`)}
	return st.RecordTransition(ctx, store.Transition{Event: ev, Snapshot: *in})
}

// newActionApp is newApp with the fake workflows behind the service, and dev sign-in.
func newActionApp(t *testing.T) (*app, *fakeWorkflows) {
	t.Helper()
	return newActionAppWith(t, web.Config{})
}

// newActionAppWith is newActionApp with cfg (DevSignIn is set).
func newActionAppWith(t *testing.T, cfg web.Config) (*app, *fakeWorkflows) {
	t.Helper()
	st := dbtest.New(t)
	wf := &fakeWorkflows{st: st, results: map[string]workflows.UpdateResult{}}
	cfg.DevSignIn = true
	w, err := web.New(cfg, st, service.New(st, wf, nil), st.DB().DB)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	t.Cleanup(w.Close)
	a := &app{t: t, st: st}
	a.srv = httptest.NewServer(w)
	t.Cleanup(a.srv.Close)
	return a, wf
}

// stage is how far an initiative of the fixture has come.
type stage int

const (
	inBoardReview stage = iota
	inChangesRequested
	inFunding          // approved, tranche 1 released
	inExecuting        // tranche 1 (100.000 kr.) paid, milestone 1 not reported
	inReported         // milestone 1 reported, waiting for the board
	inEvaluation       // both milestones accepted
	inEvaluationJudged // the evaluation submitted, waiting for the board
)

// initiativeAt records an initiative proposed by Mette (500.000 kr. from Landsbyggefonden, two milestones of
// 100.000 and 400.000 kr., two goals) and takes it to stage s.
func initiativeAt(t *testing.T, st *store.Store, id string, s stage) *domain.Initiative {
	t.Helper()
	p := domain.Proposal{
		Title: "Lektiecafé " + id, Description: "Lektiehjælp to gange om ugen.",
		DelaftaleID: "uddannelse-og-livschancer", HousingAreaIDs: []string{"houlkaervaenget"},
		TargetGroup: "Børn i 4.-9. klasse",
		Goals: []domain.Goal{{ID: "g1", Description: "Bedre karakterer", SuccessCriterion: "Gennemsnit 0,5 højere"},
			{ID: "g2", Description: "Flere forældre deltager", SuccessCriterion: "20 forældre til møderne"}},
		Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(500_000)}},
		Milestones: []domain.MilestonePlan{
			{Title: "Opstart", DueDate: domain.NewDate(2022, 12, 31), Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(100_000)}}},
			{Title: "Første skoleår", DueDate: domain.NewDate(2023, 8, 31), Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(400_000)}}},
		},
	}
	t0 := time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)
	in := &domain.Initiative{ID: id, PlanID: planID, Revision: 1, Proposer: mette, Proposal: p, Decisions: []domain.Decision{},
		Milestones: domain.MilestonesFromPlan(p.Milestones), CreatedAt: t0}
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	record(t, st, in, "submitted", mette, domain.PhaseBoardReview, t0)
	if s == inBoardReview {
		return in
	}
	if s == inChangesRequested {
		in.Decisions = []domain.Decision{{Revision: 1, Outcome: domain.OutcomeRequestChanges, Comment: "Mere om forældrene", At: at(1)}}
		record(t, st, in, "changes_requested", hanne, domain.PhaseChangesRequested, at(1))
		return in
	}
	in.Decisions = []domain.Decision{{Revision: 1, Outcome: domain.OutcomeApprove, At: at(1)}}
	pay := func(i, h int) {
		r, p := at(h), at(h+1)
		in.Milestones[i].ReleasedAt, in.Milestones[i].PaidAt = &r, &p
		in.Milestones[i].TrancheStatus, in.Milestones[i].PaymentReference = domain.TranchePaid, fmt.Sprintf("NETS-%d", i+1)
		in.Milestones[i].DisbursementID = domain.DisbursementID(id, i+1)
	}
	if s == inFunding {
		r := at(1)
		in.Milestones[0].TrancheStatus, in.Milestones[0].ReleasedAt = domain.TrancheReleased, &r
		in.Milestones[0].DisbursementID = domain.DisbursementID(id, 1)
		record(t, st, in, "approved", hanne, domain.PhaseFunding, at(1))
		return in
	}
	pay(0, 1)
	if s == inExecuting {
		record(t, st, in, "payment_confirmed", peter, domain.PhaseExecuting, at(2))
		return in
	}
	in.Milestones[0].Report = &domain.Report{Summary: "Caféen er åben", SpentØre: domain.Kroner(80_000), Actor: mette, At: at(3)}
	if s == inReported {
		record(t, st, in, "milestone_reported", mette, domain.PhaseExecuting, at(3))
		return in
	}
	acc := at(4)
	in.Milestones[0].AcceptedAt, in.Milestones[0].AcceptedBy = &acc, &hanne
	pay(1, 5)
	in.Milestones[1].Report = &domain.Report{Summary: "Skoleåret er slut", SpentØre: domain.Kroner(400_000), Actor: mette, At: at(7)}
	acc2 := at(8)
	in.Milestones[1].AcceptedAt, in.Milestones[1].AcceptedBy = &acc2, &hanne
	if s == inEvaluation {
		record(t, st, in, "milestone_accepted", hanne, domain.PhaseEvaluation, at(8))
		return in
	}
	in.Evaluation = &domain.Evaluation{Summary: "Målene er nået", SubmittedBy: mette, SubmittedAt: at(9),
		Results: []domain.GoalResult{{GoalID: "g1", Achieved: true, Result: "+0,7"}, {GoalID: "g2", Achieved: false, Result: "12 forældre"}}}
	record(t, st, in, "evaluation_submitted", mette, domain.PhaseEvaluation, at(9))
	return in
}

// formTestIDs maps each action the initiative page has a form (or link) for to its data-testid; a meeting
// decision's form is "form-meeting-<matter>".
var formTestIDs = map[service.ActionKind]string{
	service.ActDecide: "form-decide", service.ActResubmit: "form-resubmit", service.ActWithdraw: "form-withdraw",
	service.ActReportMilestone: "form-report", service.ActAcceptMilestone: "form-accept-milestone",
	service.ActSubmitEvaluation: "form-evaluate", service.ActAcceptEvaluation: "form-accept-evaluation",
	service.ActReturnMilestone: "form-return-milestone", service.ActReturnEvaluation: "form-return-evaluation",
	service.ActVoteCancel: "form-vote-cancel", service.ActProposeCancel: "form-propose-cancel",
	service.ActDeclareConflict: "form-declare-conflict", service.ActVoteChange: "form-vote-change",
	service.ActRequestChange: "form-request-change", service.ActRecordLBF: "form-record-lbf",
}

// formTestID is the data-testid of the form for action a.
func formTestID(a service.Action) (string, bool) {
	if a.Kind == service.ActMeetingDecision {
		return "form-meeting-" + string(a.Matter), true
	}
	id, ok := formTestIDs[a.Kind]
	return id, ok
}

// viborgPlan is the seeded plan as the store holds it, with its board: Hanne Mortensen in the chair, Lars Bach
// and Sofie Lund; the chair accepts milestone reports alone.
func viborgPlan(t *testing.T, st *store.Store) domain.Plan {
	t.Helper()
	p, err := st.GetPlan(context.Background(), planID)
	if err != nil {
		t.Fatal(err)
	}
	if !p.Board.Voting() || p.Board.Chair != "bs-hanne" {
		t.Fatalf("the seeded plan's board is %+v, want one chaired by bs-hanne", p.Board)
	}
	return p
}

var formTestIDRe = regexp.MustCompile(`data-testid="(form-[a-z-]+)"`)

// formsOn lists the action forms a page shows, sorted.
func formsOn(p page) []string {
	var out []string
	for _, m := range formTestIDRe.FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	sort.Strings(out)
	return out
}

var formKeyRe = regexp.MustCompile(`name="form_key" value="([^"]+)"`)

// formValues are the hidden fields (CSRF token and form key) of the form with data-testid testID on path, plus
// values.
func (b *browser) formValues(path, testID string, values url.Values) url.Values {
	b.a.t.Helper()
	p := b.get(path)
	i := strings.Index(p.body, `data-testid="`+testID+`"`)
	if i < 0 {
		b.a.t.Fatalf("no form %s on %s (%d):\n%s", testID, path, p.status, p.body)
	}
	out := url.Values{"csrf_token": {csrfRe.FindStringSubmatch(p.body)[1]},
		"form_key": {formKeyRe.FindStringSubmatch(p.body[i:])[1]}}
	for k, v := range values {
		out[k] = v
	}
	return out
}

func phaseOf(t *testing.T, st *store.Store, id string) domain.Phase {
	t.Helper()
	in, err := st.GetInitiative(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return in.Phase
}

func TestActionFormsAreTheAllowedActions(t *testing.T) {
	a, _ := newActionApp(t)
	stages := map[string]stage{"review": inBoardReview, "changes": inChangesRequested, "funding": inFunding,
		"executing": inExecuting, "reported": inReported, "evaluation": inEvaluation, "judged": inEvaluationJudged}
	ins := map[string]*domain.Initiative{}
	for id, s := range stages {
		ins[id] = initiativeAt(t, a.st, id, s)
	}
	users := []string{"og-mette", "og-ahmed", "bs-hanne", "fin-peter", "adm-karen"}
	browsers := map[string]*browser{}
	for _, u := range users {
		browsers[u] = a.browser()
		browsers[u].signInAs(u)
	}
	plan := viborgPlan(t, a.st)
	// What each user must see (besides agreeing with service.Allowed): the roles' turns in the lifecycle, under the
	// seeded board (Hanne chairs it and accepts milestone reports alone; she and the secretariat record meetings).
	boardOn := []string{"form-declare-conflict", "form-propose-cancel"}
	want := map[string]map[string][]string{
		"review": {"bs-hanne": {"form-decide", "form-declare-conflict", "form-meeting-proposal"},
			"og-mette": {"form-withdraw"}, "adm-karen": {"form-meeting-proposal"}},
		"changes": {"og-mette": {"form-resubmit", "form-withdraw"}, "adm-karen": {"form-resubmit"},
			"bs-hanne": {"form-declare-conflict"}},
		// finance's confirm payment is on the finance pages
		// The proposer and the secretariat may ask to change an approved initiative.
		"funding": {"bs-hanne": boardOn, "adm-karen": {"form-propose-cancel", "form-request-change"},
			"og-mette": {"form-request-change"}},
		"executing": {"og-mette": {"form-report", "form-request-change"}, "og-ahmed": {"form-report"}, "bs-hanne": boardOn,
			"adm-karen": {"form-propose-cancel", "form-request-change"}},
		"reported": {"bs-hanne": {"form-accept-milestone", "form-declare-conflict", "form-propose-cancel", "form-return-milestone"},
			"adm-karen": {"form-propose-cancel", "form-request-change"}, "og-mette": {"form-request-change"}},
		"evaluation": {"og-mette": {"form-evaluate"}, "og-ahmed": {"form-evaluate"}, "bs-hanne": boardOn,
			"adm-karen": {"form-propose-cancel"}},
		"judged": {"bs-hanne": {"form-accept-evaluation", "form-declare-conflict", "form-meeting-evaluation",
			"form-propose-cancel", "form-return-evaluation"}, "adm-karen": {"form-meeting-evaluation", "form-propose-cancel"}},
	}
	for id, in := range ins {
		for _, u := range users {
			t.Run(id+"/"+u, func(t *testing.T) {
				p := browsers[u].get("/indsatser/" + id)
				if p.status != http.StatusOK {
					t.Fatalf("status %d", p.status)
				}
				principal, err := a.st.PrincipalByUserID(context.Background(), u)
				if err != nil {
					t.Fatal(err)
				}
				var allowed []string
				for _, act := range service.Allowed(principal, *in, plan) {
					if tid, ok := formTestID(act); ok {
						allowed = append(allowed, tid)
					}
				}
				sort.Strings(allowed)
				got := formsOn(p)
				if strings.Join(got, " ") != strings.Join(allowed, " ") {
					t.Errorf("forms %v, service.Allowed gives %v", got, allowed)
				}
				if strings.Join(got, " ") != strings.Join(want[id][u], " ") {
					t.Errorf("forms %v, want %v", got, want[id][u])
				}
				if strings.Contains(p.body, "Bekræft udbetaling") || strings.Contains(p.body, "/bekraeft") {
					t.Error("the initiative page offers to confirm a payment")
				}
				// Every form carries the CSRF token and its own key.
				if n, k := strings.Count(p.body, `<form method="post" action="/indsatser/`), len(formKeyRe.FindAllString(p.body, -1)); n != k {
					t.Errorf("%d action forms, %d form keys", n, k)
				}
			})
		}
	}
	t.Run("milestone_forms_name_the_milestone", func(t *testing.T) {
		mustContain(t, browsers["og-mette"].get("/indsatser/executing"), "Statusrapport for milepæl 1",
			`action="/indsatser/executing/milepaele/1/rapport"`, `<label class="form-label" for="rapport-forbrug">`)
		mustContain(t, browsers["bs-hanne"].get("/indsatser/reported"), "Godkend milepæl 1",
			`action="/indsatser/reported/milepaele/1/godkend"`)
		mustContain(t, browsers["og-mette"].get("/indsatser/changes"), `href="/indsatser/changes/revider"`, "Revidér forslag")
		mustContain(t, browsers["og-mette"].get("/indsatser/evaluation"), "Er målet „Bedre karakterer“ nået?",
			"Er målet „Flere forældre deltager“ nået?", `<legend class="form-label">`, `name="maal-1-resultat"`)
	})
}

func TestDecisionReachesTheWorkflowAndRedirects(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "ini", inBoardReview)
	b := a.browser()
	b.signInAs("bs-hanne")
	form := b.formValues("/indsatser/ini", "form-decide", url.Values{"udfald": {"godkend"}, "kommentar": {"Godkendt på mødet 3/2"}})
	p := b.post("/indsatser/ini/beslutning", form)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/indsatser/ini" {
		t.Fatalf("%d to %q, want 303 to the initiative:\n%s", p.status, p.header.Get("Location"), p.body)
	}
	calls := wf.sent()
	if len(calls) != 1 {
		t.Fatalf("%d workflow updates, want 1", len(calls))
	}
	c := calls[0]
	want := workflows.DecideInput{Actor: hanne, Outcome: domain.OutcomeApprove, Comment: "Godkendt på mødet 3/2"}
	if c.Name != workflows.UpdateDecide || c.InitiativeID != "ini" || c.Arg != any(want) || !strings.HasPrefix(c.UpdateID, "bs-hanne/") {
		t.Errorf("update %+v, want decide on ini with %+v under an ID of Hanne's", c, want)
	}
	// One vote of three decides nothing yet: Hanne sees her vote instead of the form.
	after := b.get("/indsatser/ini")
	mustContain(t, after, "Din stemme er registreret. Sagen afgøres, når nok medlemmer af bestyrelsen har stemt.", `class="alert alert-success"`, "til behandling i bestyrelsen",
		`data-testid="your-standing"`, "Du har stemt: <strong>godkend</strong>", "Godkendt på mødet 3/2")
	if forms := formsOn(after); slices.Contains(forms, "form-decide") {
		t.Errorf("after her vote Hanne still sees %v", forms)
	}
	if again := b.get("/indsatser/ini"); strings.Contains(again.body, "Din stemme er registreret.") {
		t.Error("the success message is shown again on reload")
	}
	// Lars's approval makes two of three: decided, as the third vote cannot change it.
	lars := a.browser()
	lars.signInAs("bs-lars")
	p = lars.post("/indsatser/ini/beslutning", lars.formValues("/indsatser/ini", "form-decide", url.Values{"udfald": {"godkend"}}))
	if p.status != http.StatusSeeOther {
		t.Fatalf("Lars's vote: %d:\n%s", p.status, p.body)
	}
	decided := lars.get("/indsatser/ini")
	mustContain(t, decided, "afventer udbetaling", "Forslaget (revision 1): godkendt", `data-testid="tally"`,
		"Godkendt med 2 af 2 afgivne stemmer", "Den manglende stemme kan ikke ændre udfaldet.",
		"Hanne Mortensen: godkend", "Lars Bach: godkend")
	if forms := formsOn(decided); slices.Contains(forms, "form-decide") {
		t.Errorf("after the decision the board still sees %v", forms)
	}
}

func TestRefusedActionShowsTheFormAgainWithItsErrors(t *testing.T) {
	a, _ := newActionApp(t)
	initiativeAt(t, a.st, "ini", inBoardReview)
	initiativeAt(t, a.st, "exe", inExecuting)
	t.Run("reject_without_comment_422", func(t *testing.T) {
		b := a.browser()
		b.signInAs("bs-hanne")
		form := b.formValues("/indsatser/ini", "form-decide", url.Values{"udfald": {"afvis"}, "kommentar": {"  "}})
		p := b.post("/indsatser/ini/beslutning", form)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422:\n%s", p.status, p.body)
		}
		msg := "Begrund din stemme, når du ikke godkender."
		mustContain(t, p, "<title>Fejl: ", `id="error-summary-heading"`, `<a href="#beslutning-kommentar">`+msg+`</a>`,
			`id="beslutning-kommentar-fejl"`, `aria-invalid="true"`, `aria-describedby="beslutning-kommentar-hint beslutning-kommentar-fejl"`,
			`value="afvis" checked`, `name="form_key" value="`+form.Get("form_key")+`"`)
		if n := strings.Count(p.body, msg); n != 2 {
			t.Errorf("the message appears %d times, want 2 (summary and field)", n)
		}
		if phaseOf(t, a.st, "ini") != domain.PhaseBoardReview {
			t.Error("the refused decision changed the initiative")
		}
	})
	t.Run("no_outcome_chosen_422", func(t *testing.T) {
		b := a.browser()
		b.signInAs("bs-hanne")
		p := b.post("/indsatser/ini/beslutning", b.formValues("/indsatser/ini", "form-decide", url.Values{"kommentar": {"Min begrundelse"}}))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", p.status)
		}
		mustContain(t, p, `<a href="#beslutning-udfald">Vælg bestyrelsens beslutning`, "Min begrundelse</textarea>")
	})
	t.Run("report_keeps_what_was_typed", func(t *testing.T) {
		b := a.browser()
		b.signInAs("og-mette")
		p := b.post("/indsatser/exe/milepaele/1/rapport", b.formValues("/indsatser/exe", "form-report",
			url.Values{"resume": {"Caféen er åben <hver> tirsdag"}, "forbrug": {"12,5,0"}}))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", p.status)
		}
		mustContain(t, p, `<a href="#rapport-forbrug">Skriv beløbet i kroner, fx 12.500 eller 12.500,50.</a>`,
			"Caféen er åben &lt;hver&gt; tirsdag</textarea>", `value="12,5,0"`, `id="rapport-forbrug-fejl"`)
	})
	t.Run("report_with_every_problem_at_once", func(t *testing.T) {
		b := a.browser()
		b.signInAs("og-mette")
		p := b.post("/indsatser/exe/milepaele/1/rapport", b.formValues("/indsatser/exe", "form-report",
			url.Values{"resume": {""}, "forbrug": {"mange"}}))
		mustContain(t, p, "Der er 2 problemer", `<a href="#rapport-forbrug">`,
			`<a href="#rapport-resume">Hvad er der nået: Feltet skal udfyldes.</a>`, `value="mange"`)
	})
	t.Run("spent_more_than_paid_is_the_rules_message_at_the_field", func(t *testing.T) {
		b := a.browser()
		b.signInAs("og-mette")
		p := b.post("/indsatser/exe/milepaele/1/rapport", b.formValues("/indsatser/exe", "form-report",
			url.Values{"resume": {"Godt i gang"}, "forbrug": {"100.000,01"}}))
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", p.status)
		}
		mustContain(t, p, `<a href="#rapport-forbrug">Samlet forbrug på 100.000,01 kr. er mere end de 100.000,00 kr., der er udbetalt.</a>`)
	})
	t.Run("wrong_phase_409_with_the_message_on_top", func(t *testing.T) {
		b := a.browser()
		b.signInAs("bs-hanne")
		tok := b.csrf("/indsatser/exe")
		p := b.post("/indsatser/exe/beslutning", url.Values{"csrf_token": {tok}, "udfald": {"godkend"}})
		if p.status != http.StatusConflict {
			t.Fatalf("status %d, want 409", p.status)
		}
		mustContain(t, p, `<a href="#handling-beslutning">Indsatsen er i gang; man kan kun træffe beslutning om forslaget, når den er til behandling i bestyrelsen.</a>`)
	})
}

func TestTheSameFormTwiceIsOneUpdate(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "ini", inBoardReview)
	b := a.browser()
	b.signInAs("bs-hanne")
	form := b.formValues("/indsatser/ini", "form-decide", url.Values{"udfald": {"aendringer"}, "kommentar": {"Mere om forældrene"}})
	for i := 0; i < 2; i++ {
		if p := b.post("/indsatser/ini/beslutning", form); p.status != http.StatusSeeOther {
			t.Fatalf("post %d: status %d:\n%s", i+1, p.status, p.body)
		}
	}
	calls := wf.sent()
	if len(calls) != 2 || calls[0].UpdateID != calls[1].UpdateID {
		t.Fatalf("updates %+v, want two with the same update ID", calls)
	}
	in, err := a.st.GetInitiative(context.Background(), "ini")
	if err != nil {
		t.Fatal(err)
	}
	if in.Phase != domain.PhaseBoardReview || len(in.Ballots) != 1 {
		t.Errorf("phase %s with %d ballots, want Hanne's one vote in board review", in.Phase, len(in.Ballots))
	}
	// A new form (a fresh key) is a new request.
	initiativeAt(t, a.st, "to", inBoardReview)
	b.post("/indsatser/to/beslutning", b.formValues("/indsatser/to", "form-decide", url.Values{"udfald": {"aendringer"}, "kommentar": {"Mere om forældrene"}}))
	if calls := wf.sent(); len(calls) != 3 || calls[2].UpdateID == calls[0].UpdateID {
		t.Errorf("a fresh form reused the update ID: %+v", calls)
	}
}

func TestForcedActionIsRefusedAsTheAPIRefusesIt(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "ini", inBoardReview)
	t.Run("finance_deciding_403", func(t *testing.T) {
		b := a.browser()
		b.signInAs("fin-peter")
		p := b.post("/indsatser/ini/beslutning", url.Values{"csrf_token": {b.csrf("/indsatser/ini")}, "udfald": {"godkend"}})
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
		mustContain(t, p, "Handlingen er ikke tilladt", "Kun bestyrelse kan træffe beslutning om et forslag; du er økonomi i denne plan.")
		if n := len(wf.sent()); n != 0 {
			t.Errorf("%d workflow updates sent", n)
		}
	})
	t.Run("another_member_withdrawing_403", func(t *testing.T) {
		b := a.browser()
		b.signInAs("og-ahmed")
		p := b.post("/indsatser/ini/tilbagetraek", url.Values{"csrf_token": {b.csrf("/indsatser/ini")}})
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
		mustContain(t, p, "Kun forslagsstilleren (Mette Kjær) kan trække forslaget tilbage.")
		if phaseOf(t, a.st, "ini") != domain.PhaseBoardReview {
			t.Error("the refused withdrawal changed the initiative")
		}
	})
	t.Run("unknown_initiative_404", func(t *testing.T) {
		b := a.browser()
		b.signInAs("bs-hanne")
		p := b.post("/indsatser/findes-ikke/beslutning", url.Values{"csrf_token": {b.csrf("/")}, "udfald": {"godkend"}})
		if p.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404", p.status)
		}
		mustContain(t, p, "Siden findes ikke")
	})
	t.Run("post_without_csrf_token_403", func(t *testing.T) {
		before := len(wf.sent())
		b := a.browser()
		b.signInAs("bs-hanne")
		form := b.formValues("/indsatser/ini", "form-decide", url.Values{"udfald": {"godkend"}})
		form.Del("csrf_token")
		p := b.post("/indsatser/ini/beslutning", form)
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
		mustContain(t, p, "Handlingen blev afvist")
		if len(wf.sent()) != before || phaseOf(t, a.st, "ini") != domain.PhaseBoardReview {
			t.Error("the POST without a CSRF token reached the workflow")
		}
	})
}

func TestSpentIsReadAsDanishKroner(t *testing.T) {
	a, wf := newActionApp(t)
	b := a.browser()
	b.signInAs("og-mette")
	tests := []struct {
		typed string
		want  domain.Money
	}{
		{"12.500,50", 1_250_050},
		{"12.500", 1_250_000},
		{"12500,5", 1_250_050},
		{"1.234.567,89 kr.", 123_456_789},
		{" 0 ", 0},
		{"0,07", 7},
	}
	for i, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			id := fmt.Sprintf("ini-%d", i)
			in := initiativeAt(t, a.st, id, inExecuting)
			if tt.want > domain.Kroner(100_000) { // more than is paid: pay more first
				in.Milestones[0].Tranche[0].AmountØre = domain.Kroner(2_000_000)
				record(t, a.st, in, "payment_confirmed", peter, domain.PhaseExecuting, in.UpdatedAt)
			}
			p := b.post("/indsatser/"+id+"/milepaele/1/rapport", b.formValues("/indsatser/"+id, "form-report",
				url.Values{"resume": {"Caféen er åben"}, "forbrug": {tt.typed}}))
			calls := wf.sent()
			last := calls[len(calls)-1]
			arg, ok := last.Arg.(workflows.ReportMilestoneInput)
			if !ok || last.InitiativeID != id || arg.SpentØre != tt.want || arg.No != 1 || arg.Summary != "Caféen er åben" {
				t.Fatalf("update %+v, want a report on milestone 1 of %d øre", last, tt.want)
			}
			if p.status != http.StatusSeeOther {
				t.Errorf("status %d, want 303:\n%s", p.status, p.body)
			}
		})
	}
	initiativeAt(t, a.st, "bad", inExecuting)
	for _, bad := range []string{"12.5", "12,505", "-5", "1e5", "12.50.000", "tolv", "", "99999999999999999999"} {
		t.Run("refused_"+bad, func(t *testing.T) {
			n := len(wf.sent())
			p := b.post("/indsatser/bad/milepaele/1/rapport", b.formValues("/indsatser/bad", "form-report",
				url.Values{"resume": {"Caféen er åben"}, "forbrug": {bad}}))
			if p.status != http.StatusUnprocessableEntity || len(wf.sent()) != n {
				t.Errorf("%q: status %d, %d updates sent; want 422 and none", bad, p.status, len(wf.sent())-n)
			}
		})
	}
}

func TestUnavailableWorkflowIsA503Page(t *testing.T) {
	a, wf := newActionApp(t)
	initiativeAt(t, a.st, "ini", inBoardReview)
	b := a.browser()
	b.signInAs("bs-hanne")
	tests := []struct {
		err  error
		want string
	}{
		{fmt.Errorf("temporal: %w", service.ErrUnavailable), "Handlingen kan ikke udføres lige nu"},
		{fmt.Errorf("%w: %w", service.ErrStillRunning, service.ErrUnavailable), "Handlingen er under behandling"},
		{fmt.Errorf("db: %w", store.ErrUnavailable), "Handlingen kan ikke udføres lige nu"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			wf.fail(tt.err)
			p := b.post("/indsatser/ini/beslutning", b.formValues("/indsatser/ini", "form-decide", url.Values{"udfald": {"godkend"}}))
			if p.status != http.StatusServiceUnavailable {
				t.Fatalf("status %d, want 503:\n%s", p.status, p.body)
			}
			mustContain(t, p, tt.want, "indsatsens side", `lang="da"`)
			if p.header.Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		})
	}
}

// TestActionFormsInABrowser fills the forms as people do, in chromium, and checks each page state (each form,
// an error summary, a success message) with axe-core. Screenshots: artifacts/screenshots/TestActionFormsInABrowser/.
func TestActionFormsInABrowser(t *testing.T) {
	a, _ := newActionApp(t)
	initiativeAt(t, a.st, "forslag", inBoardReview)
	initiativeAt(t, a.st, "igang", inExecuting)
	initiativeAt(t, a.st, "rapporteret", inReported)
	initiativeAt(t, a.st, "evaluering", inEvaluation)
	initiativeAt(t, a.st, "evalueret", inEvaluationJudged)
	initiativeAt(t, a.st, "aendres", inChangesRequested)
	br := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))
	signIn := func(name string) *browsertest.Tab {
		tab := br.NewTab()
		tab.Visit("/log-ind")
		tab.Click("Log ind som " + name)
		return tab
	}

	board := signIn("Hanne Mortensen")
	board.Visit("/indsatser/forslag")
	board.Page("beslutning")
	board.Check("Afvis forslaget")
	board.Click("Registrér beslutning")
	if !strings.Contains(board.Text(".alert-error"), "Begrund din stemme") {
		t.Errorf("error summary: %q", board.Text(".alert-error"))
	}
	board.Page("beslutning-fejl")
	board.Check("Ønsk ændringer")
	board.Fill("Kommentar", "Beskriv forældresamarbejdet nærmere.")
	board.Click("Registrér beslutning")
	if got := board.Text(".alert-success"); !strings.Contains(got, "er registreret.") {
		t.Errorf("after the decision: %q", got)
	}
	board.Page("beslutning-registreret")
	board.Visit("/indsatser/rapporteret")
	board.Page("godkend-milepael")
	board.Visit("/indsatser/evalueret")
	board.Page("godkend-evaluering")

	member := signIn("Mette Kjær")
	member.Visit("/indsatser/aendres")
	member.Page("revider-og-tilbagetraek")
	member.Visit("/indsatser/igang")
	member.Page("rapport")
	member.Fill("Hvad er der nået?", "Caféen er åben hver tirsdag og torsdag.")
	member.Fill("Forbrug i perioden", "12.500,50")
	member.Click("Send statusrapport")
	if got := member.Text(".alert-success"); !strings.Contains(got, "Statusrapporten er sendt") {
		t.Errorf("after the report: %q", got)
	}
	if !strings.Contains(member.Text("main"), "12.500,50 kr.") {
		t.Errorf("the report's spending is not shown as 12.500,50 kr.")
	}
	member.Page("rapport-sendt")
	member.Visit("/indsatser/evaluering")
	member.Click("Send evaluering")
	member.Page("evaluering-fejl")
	member.Visit("/indsatser/evaluering")
	member.Page("evaluering")
}
