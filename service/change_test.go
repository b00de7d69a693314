package service

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// underWay is an initiative in execution with two milestones: 40.000 kr. paid at milestone 1, 60.000 kr.
// scheduled for milestone 2, all from Landsbyggefonden.
func underWay() domain.Initiative {
	in := testInitiative(iniViborg, planViborg)
	in.Phase = domain.PhaseExecuting
	lbf := func(kr int64) []domain.SourceAmount {
		return []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(kr)}}
	}
	in.Proposal.Budget = lbf(100_000)
	in.Proposal.Milestones = []domain.MilestonePlan{
		{Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30), Tranche: lbf(40_000)},
		{Title: "Andet halvår", DueDate: domain.NewDate(2024, 12, 31), Tranche: lbf(60_000)},
	}
	in.Milestones = domain.MilestonesFromPlan(in.Proposal.Milestones)
	at := t0.Add(time.Hour)
	m := &in.Milestones[0]
	m.TrancheStatus, m.DisbursementID, m.ReleasedAt, m.PaidAt = domain.TranchePaid, domain.DisbursementID(in.ID, 1), &at, &at
	return in
}

// changedPlan is a change of underWay: 20.000 kr. more, milestone 2 later and smaller, a third milestone.
func changedPlan() ([]domain.SourceAmount, []domain.MilestonePlan) {
	lbf := func(kr int64) []domain.SourceAmount {
		return []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(kr)}}
	}
	return lbf(120_000), []domain.MilestonePlan{
		{Title: "Opstart", DueDate: domain.NewDate(2024, 6, 30), Tranche: lbf(40_000)},
		{Title: "Andet halvår", DueDate: domain.NewDate(2025, 1, 31), Tranche: lbf(50_000)},
		{Title: "Afslutning", DueDate: domain.NewDate(2025, 6, 30), Tranche: lbf(30_000)},
	}
}

func problemFields(err error) []string {
	var re *domain.RuleError
	if !errors.As(err, &re) {
		return nil
	}
	var out []string
	for _, p := range re.Problems {
		out = append(out, p.Field+":"+p.Code)
	}
	return out
}

// A change request is checked with the workflow's rule against the plan and the free funds before it is sent, so
// every problem comes back at once and nothing the workflow would refuse reaches it.
func TestRequestChange(t *testing.T) {
	ctx := context.Background()
	k := NewIdem("og-mette", "key-1", []byte("req"))
	budget, plan := changedPlan()
	tests := []struct {
		name       string
		p          store.Principal
		available  domain.Money // Landsbyggefonden's free funds; 0 keeps the fixture's
		edit       func(b []domain.SourceAmount, m []domain.MilestonePlan) ([]domain.SourceAmount, []domain.MilestonePlan)
		reason     string // "" is "Skoleåret er rykket"
		input      []domain.FieldProblem
		wantCode   domain.Code
		wantFields []string
	}{
		{name: "by_the_proposer_sent", p: mette},
		{name: "by_the_admin_sent", p: karen},
		{name: "by_another_member_of_the_operational_group_forbidden", p: jonas, wantCode: domain.CodeForbidden},
		{name: "paid_milestone_renamed_refused_at_its_row", p: mette,
			edit: func(b []domain.SourceAmount, m []domain.MilestonePlan) ([]domain.SourceAmount, []domain.MilestonePlan) {
				m[0].Title = "Opstart og indkøb"
				return b, m
			}, wantCode: domain.CodeValidation, wantFields: []string{"milestones[0]:released_changed"}},
		{name: "more_than_the_source_has_free_insufficient_funds", p: mette, available: domain.Kroner(10_000),
			wantCode: domain.CodeInsufficientFunds, wantFields: []string{"budget:insufficient_funds"}},
		{name: "date_that_did_not_parse_reported_with_the_rules", p: mette,
			edit: func(b []domain.SourceAmount, m []domain.MilestonePlan) ([]domain.SourceAmount, []domain.MilestonePlan) {
				m[2].DueDate = domain.Date{}
				return b, m
			},
			input:    []domain.FieldProblem{{Field: "milestones[2].due_date", Code: "invalid_date", Message: "Ikke en dato."}},
			wantCode: domain.CodeValidation, wantFields: []string{"milestones[2].due_date:invalid_date"}},
		{name: "without_a_reason_refused", p: mette, reason: " ",
			wantCode: domain.CodeValidation, wantFields: []string{"reason:required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.st.initiatives[iniViborg] = underWay()
			if tt.available > 0 {
				fx.st.available[planViborg]["lbf"] = tt.available
			}
			fx.wf.updateFn = fx.answer(domain.PhaseExecuting)
			tg, err := fx.svc.Begin(ctx, tt.p, iniViborg, ActRequestChange)
			if err != nil {
				t.Fatal(err)
			}
			b, m := slices.Clone(budget), slices.Clone(plan)
			reason := "Skoleåret er rykket"
			if tt.reason != "" {
				reason = tt.reason
			}
			if tt.edit != nil {
				b, m = tt.edit(b, m)
			}
			in, err := fx.svc.RequestChange(ctx, tg, reason, b, m, tt.input, k)
			if tt.wantCode != "" {
				if ruleCode(err) != tt.wantCode {
					t.Fatalf("err %v, want %s", err, tt.wantCode)
				}
				if tt.wantFields != nil {
					if diff := cmp.Diff(tt.wantFields, problemFields(err)); diff != "" {
						t.Errorf("problems (-want +got):\n%s", diff)
					}
				}
				if len(fx.wf.updates) != 0 {
					t.Errorf("a refused change reached the workflow: %+v", fx.wf.updates)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []updateCall{{InitiativeID: iniViborg, Name: workflows.UpdateRequestChange, UpdateID: k.UpdateID(),
				Arg: workflows.RequestChangeInput{Actor: actor(tt.p, tt.p.Roles[planViborg]), Reason: reason,
					Budget: budget, Milestones: plan}}}
			if diff := cmp.Diff(want, fx.wf.updates, cmpDate); diff != "" {
				t.Errorf("updates (-want +got):\n%s", diff)
			}
			if in.Version != 2 {
				t.Errorf("answered version %d, want the recorded 2", in.Version)
			}
		})
	}
}

// The board votes on a change through its own action or through the one way in for every vote (the API's
// /decision with matter change); either sends the decide update on matter change.
func TestVoteChange(t *testing.T) {
	ctx := context.Background()
	k := NewIdem("bs-hanne", "key-1", []byte("req"))
	hanneActor := actor(hanne, domain.RoleBoard)
	for _, tt := range []struct {
		name string
		kind ActionKind
		run  func(s *Service, tg *Target) (domain.Initiative, error)
		want workflows.DecideInput
	}{
		{"vote_change", ActVoteChange, func(s *Service, tg *Target) (domain.Initiative, error) {
			return s.VoteChange(ctx, tg, domain.OutcomeReject, "Vent til næste skoleår", k)
		}, workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeReject, Comment: "Vent til næste skoleår",
			Matter: domain.MatterChange}},
		{"cast_vote_on_a_change_with_the_decide_target", ActDecide, func(s *Service, tg *Target) (domain.Initiative, error) {
			return s.CastVote(ctx, tg, Vote{Matter: domain.MatterChange, Outcome: domain.OutcomeApprove}, k)
		}, workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeApprove, Matter: domain.MatterChange}},
		{"cast_vote_on_a_change_with_its_own_target", ActVoteChange, func(s *Service, tg *Target) (domain.Initiative, error) {
			return s.CastVote(ctx, tg, Vote{Matter: domain.MatterChange, Outcome: domain.OutcomeApprove}, k)
		}, workflows.DecideInput{Actor: hanneActor, Outcome: domain.OutcomeApprove, Matter: domain.MatterChange}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.wf.updateFn = fx.answer(domain.PhaseExecuting)
			tg, err := fx.svc.Begin(ctx, hanne, iniViborg, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tt.run(fx.svc, tg); err != nil {
				t.Fatal(err)
			}
			want := []updateCall{{InitiativeID: iniViborg, Name: workflows.UpdateDecide, UpdateID: k.UpdateID(), Arg: tt.want}}
			if diff := cmp.Diff(want, fx.wf.updates); diff != "" {
				t.Errorf("updates (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("vote_change_target_for_a_cancellation_is_a_programming_error", func(t *testing.T) {
		fx := newFixture(t)
		tg, _ := fx.svc.Begin(ctx, hanne, iniViborg, ActVoteChange)
		_, err := fx.svc.CastVote(ctx, tg, Vote{Matter: domain.MatterCancellation, Outcome: domain.OutcomeApprove}, k)
		if err == nil || ruleCode(err) != "" || len(fx.wf.updates) != 0 {
			t.Fatalf("err %v with %d updates, want a programming error and none", err, len(fx.wf.updates))
		}
	})
}

// Landsbyggefonden's answer is checked with the workflow's rule (and what the letter's date parsed to) before it
// is sent.
func TestRecordLBF(t *testing.T) {
	ctx := context.Background()
	k := NewIdem("adm-karen", "key-1", []byte("req"))
	awaiting := func() domain.Initiative {
		in := underWay()
		b, m := changedPlan()
		decided := t0.Add(48 * time.Hour)
		in.Changes = []domain.Change{{No: 1, Reason: "Skoleåret er rykket", RequestedBy: in.Proposer, RequestedAt: t0,
			Budget: b, Milestones: m, MovedØre: domain.Kroner(40_000), Strategic: true, Status: domain.ChangeAwaitingLBF,
			DecidedAt: &decided}}
		return in
	}
	letter := domain.NewDate(2024, 5, 1)
	tests := []struct {
		name       string
		no         int
		letter     domain.Date
		reference  string
		input      []domain.FieldProblem
		wantCode   domain.Code
		wantFields []string
	}{
		{name: "approved_sent_with_the_reference_trimmed", no: 1, letter: letter, reference: "  LBF-2024-117 "},
		{name: "no_reference_and_a_date_that_did_not_parse", no: 1, reference: " ",
			input:    []domain.FieldProblem{{Field: "letter_date", Code: "invalid_date", Message: "Ikke en dato."}},
			wantCode: domain.CodeValidation, wantFields: []string{"letter_date:invalid_date", "reference:required"}},
		{name: "another_change_not_found", no: 2, letter: letter, reference: "LBF-1", wantCode: domain.CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.st.initiatives[iniViborg] = awaiting()
			fx.wf.updateFn = fx.answer(domain.PhaseExecuting)
			tg, err := fx.svc.Begin(ctx, karen, iniViborg, ActRecordLBF)
			if err != nil {
				t.Fatal(err)
			}
			_, err = fx.svc.RecordLBF(ctx, tg, tt.no, true, tt.letter, tt.reference, tt.input, k)
			if tt.wantCode != "" {
				if ruleCode(err) != tt.wantCode {
					t.Fatalf("err %v, want %s", err, tt.wantCode)
				}
				if tt.wantFields != nil {
					got := problemFields(err)
					slices.Sort(got)
					if diff := cmp.Diff(tt.wantFields, got); diff != "" {
						t.Errorf("problems (-want +got):\n%s", diff)
					}
				}
				if len(fx.wf.updates) != 0 {
					t.Errorf("a refused answer reached the workflow: %+v", fx.wf.updates)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := []updateCall{{InitiativeID: iniViborg, Name: workflows.UpdateRecordLBF, UpdateID: k.UpdateID(),
				Arg: workflows.RecordLBFInput{Actor: actor(karen, domain.RoleAdmin), ChangeNo: 1, Approved: true,
					LetterDate: letter, Reference: "LBF-2024-117"}}}
			if diff := cmp.Diff(want, fx.wf.updates, cmpDate); diff != "" {
				t.Errorf("updates (-want +got):\n%s", diff)
			}
		})
	}
}

// A meeting's votes are recorded against one of the plan's meetings that was not cancelled.
func TestMeetingDecision_checksTheMeeting(t *testing.T) {
	ctx := context.Background()
	votes := MeetingVotes{Matter: domain.MatterEvaluation, Present: []string{hanne.UserID},
		Votes: []workflows.MeetingVote{{MemberID: hanne.UserID, Outcome: domain.OutcomeApprove}}}
	for _, tt := range []struct {
		name, meeting, code string
	}{
		{"unknown_meeting_refused_at_the_field", "bestyrelsesmøde 5. marts", "unknown_meeting"},
		{"cancelled_meeting_refused_at_the_field", "møde-aflyst", "meeting_cancelled"},
		{"another_plans_meeting_is_unknown", "../møde-5", "unknown_meeting"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			tg, err := fx.svc.Begin(ctx, karen, iniViborg, ActMeetingDecision)
			if err != nil {
				t.Fatal(err)
			}
			v := votes
			v.ID = tt.meeting
			_, err = fx.svc.MeetingDecision(ctx, tg, v, Idem{})
			if ruleCode(err) != domain.CodeValidation || !slices.Equal(problemFields(err), []string{"meeting_id:" + tt.code}) {
				t.Fatalf("err %v (%v), want a validation problem %s on meeting_id", err, problemFields(err), tt.code)
			}
			var re *domain.RuleError
			if errors.As(err, &re); tt.code == "meeting_cancelled" && !strings.Contains(re.Problems[0].Message, "aflyst") {
				t.Errorf("message %q does not say the meeting was cancelled", re.Problems[0].Message)
			}
			if len(fx.wf.updates) != 0 {
				t.Errorf("the refused decision reached the workflow")
			}
		})
	}
	t.Run("store_fault_passes_through", func(t *testing.T) {
		fx := newFixture(t)
		fx.st.errs["GetMeeting"] = errors.New("connection refused")
		tg, _ := fx.svc.Begin(ctx, karen, iniViborg, ActMeetingDecision)
		v := votes
		v.ID = "møde-5"
		if _, err := fx.svc.MeetingDecision(ctx, tg, v, Idem{}); err == nil || ruleCode(err) != "" {
			t.Fatalf("err %v, want the store's fault", err)
		}
	})
}

// With a board on record, a change below the plan's reallocation threshold is the chair's alone; a larger one is
// voted on by the board like any matter, and the chair or the secretariat may record a meeting's votes on it.
func TestAllowedAndRounds_change(t *testing.T) {
	voting := func(chairAlone bool) domain.Initiative {
		in := underWay()
		b, m := changedPlan()
		in.Changes = []domain.Change{{No: 1, Reason: "Skoleåret er rykket", RequestedBy: in.Proposer, RequestedAt: t0,
			Budget: b, Milestones: m, MovedØre: domain.Kroner(40_000), ChairAlone: chairAlone, Status: domain.ChangeVoting}}
		return in
	}
	plan := boardPlan(nil)
	plan.Settings.ReallocationThresholdØre = domain.Kroner(50_000)
	vote := Action{Kind: ActVoteChange, Matter: domain.MatterChange, Change: 1}
	meeting := Action{Kind: ActMeetingDecision, Matter: domain.MatterChange, Change: 1}
	conflict, cancel := Action{Kind: ActDeclareConflict}, Action{Kind: ActProposeCancel}
	report := Action{Kind: ActReportMilestone, Milestone: 1}
	for _, tt := range []struct {
		name       string
		chairAlone bool
		want       map[string][]Action
		status     map[string]MemberStatus
	}{
		{"below_the_threshold_the_chair_decides", true, map[string][]Action{
			hanne.UserID: {vote, cancel, conflict}, lars.UserID: {cancel, conflict}, sofie.UserID: {cancel, conflict},
			karen.UserID: {cancel}, mette.UserID: {report}, jonas.UserID: {report}},
			map[string]MemberStatus{hanne.UserID: MemberMayVote, lars.UserID: MemberChairDecides, sofie.UserID: MemberChairDecides}},
		{"at_the_threshold_the_board_votes", false, map[string][]Action{
			hanne.UserID: {vote, cancel, conflict, meeting}, lars.UserID: {vote, cancel, conflict},
			sofie.UserID: {vote, cancel, conflict}, karen.UserID: {cancel, meeting}, mette.UserID: {report}, jonas.UserID: {report}},
			map[string]MemberStatus{hanne.UserID: MemberMayVote, lars.UserID: MemberMayVote, sofie.UserID: MemberMayVote}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			in := voting(tt.chairAlone)
			for _, p := range []store.Principal{mette, jonas, hanne, lars, sofie, bent, peter, karen} {
				if diff := cmp.Diff(tt.want[p.UserID], Allowed(p, in, plan)); diff != "" {
					t.Errorf("%s: Allowed (-want +got):\n%s", p.UserID, diff)
				}
			}
			rounds := OpenRounds(in, plan)
			r, ok := RoundOf(rounds, domain.MatterChange, 0)
			if !ok || r.Change != 1 || r.Key != "change/1" || r.ChairAlone != tt.chairAlone {
				t.Fatalf("rounds %+v, want change 1 (chair alone %v)", rounds, tt.chairAlone)
			}
			got := map[string]MemberStatus{}
			for _, m := range r.Members {
				got[m.UserID] = m.Status
			}
			if diff := cmp.Diff(tt.status, got); diff != "" {
				t.Errorf("statuses (-want +got):\n%s", diff)
			}
			if tt.chairAlone && !strings.Contains(r.Explanation, "mindre end planens grænse for omfordeling på 50.000,00 kr.") {
				t.Errorf("explanation %q does not say why the chair decides alone", r.Explanation)
			}
			if !tt.chairAlone && r.QuorumNeeded != 2 {
				t.Errorf("quorum %d, want 2 of 3", r.QuorumNeeded)
			}
		})
	}
}
