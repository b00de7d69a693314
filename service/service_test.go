package service

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

func TestBegin_roles(t *testing.T) {
	ctx := context.Background()
	// Who may attempt each action (the workflow's rule then decides whether it is allowed now).
	may := map[ActionKind][]store.Principal{
		ActDecide:           {hanne},
		ActResubmit:         {mette, jonas, karen},
		ActWithdraw:         {mette, jonas},
		ActReportMilestone:  {mette, jonas},
		ActAcceptMilestone:  {hanne},
		ActReturnMilestone:  {hanne},
		ActSubmitEvaluation: {mette, jonas},
		ActAcceptEvaluation: {hanne},
		ActReturnEvaluation: {hanne},
		ActVoteCancel:       {hanne},
		ActVoteChange:       {hanne},
		ActRequestChange:    {mette, jonas, karen},
		ActRecordLBF:        {karen},
		ActDeclareConflict:  {hanne},
		ActProposeCancel:    {hanne, karen},
		ActMeetingDecision:  {hanne, karen},
	}
	for kind, allowed := range may {
		for _, p := range []store.Principal{mette, jonas, hanne, peter, karen} {
			name := fmt.Sprintf("%s_by_%s", kind, p.UserID)
			t.Run(name, func(t *testing.T) {
				fx := newFixture(t)
				tg, err := fx.svc.Begin(ctx, p, iniViborg, kind)
				want := false
				for _, a := range allowed {
					want = want || a.UserID == p.UserID
				}
				if want {
					if err != nil {
						t.Fatalf("Begin: %v, want allowed", err)
					}
					if tg.Initiative.ID != iniViborg || tg.Role != p.Roles[planViborg] || tg.Kind != kind {
						t.Errorf("target = %+v", tg)
					}
					return
				}
				if ruleCode(err) != domain.CodeForbidden {
					t.Fatalf("Begin: %v, want forbidden", err)
				}
				if !strings.HasPrefix(err.Error(), string(domain.CodeForbidden)+": Kun ") {
					t.Errorf("refusal %q does not name the role needed", err)
				}
			})
		}
	}
}

func TestBeginPayment_roles(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	tg, err := fx.svc.BeginPayment(ctx, peter, disViborg)
	if err != nil || tg.Disbursement.ID != disViborg || tg.Initiative.ID != iniViborg {
		t.Fatalf("finance: target %+v, err %v", tg, err)
	}
	for _, p := range []store.Principal{mette, hanne, karen} {
		if _, err := fx.svc.BeginPayment(ctx, p, disViborg); ruleCode(err) != domain.CodeForbidden {
			t.Errorf("%s: err %v, want forbidden", p.UserID, err)
		}
	}
}

func TestAccess_otherPlanIsNotFound(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	inAarhus := fx.st.initiatives[iniAarhus]
	checks := map[string]func() error{
		"plan":       func() error { _, _, err := fx.svc.Plan(ctx, mette, planAarhus); return err },
		"budget":     func() error { _, err := fx.svc.Budget(ctx, mette, planAarhus); return err },
		"initiative": func() error { _, _, err := fx.svc.Initiative(ctx, mette, iniAarhus); return err },
		"initiatives": func() error {
			_, _, err := fx.svc.Initiatives(ctx, mette, store.InitiativeFilter{PlanID: planAarhus})
			return err
		},
		"events": func() error { _, err := fx.svc.Events(ctx, mette, inAarhus, 0, 10); return err },
		"disbursements": func() error {
			_, _, err := fx.svc.Disbursements(ctx, peter, store.DisbursementFilter{PlanID: planAarhus})
			return err
		},
		"begin":          func() error { _, err := fx.svc.Begin(ctx, hanne, iniAarhus, ActDecide); return err },
		"begin_payment":  func() error { _, err := fx.svc.BeginPayment(ctx, peter, disAarhus); return err },
		"unknown_ini":    func() error { _, _, err := fx.svc.Initiative(ctx, mette, "nope"); return err },
		"overlong_id":    func() error { _, _, err := fx.svc.Initiative(ctx, mette, strings.Repeat("x", MaxIDLen+1)); return err },
		"unknown_disb":   func() error { _, err := fx.svc.BeginPayment(ctx, peter, "nope"); return err },
		"propose_policy": func() error { return MayPropose(mette, planAarhus) },
	}
	for name, check := range checks {
		t.Run(name, func(t *testing.T) {
			if err := check(); ruleCode(err) != domain.CodeNotFound {
				t.Fatalf("err = %v, want not_found", err)
			}
		})
	}
	// The overlong ID never reaches the store.
	for _, c := range fx.st.calls {
		if c == "GetInitiative" && len(fx.st.calls) > 20 {
			t.Fatalf("calls %v", fx.st.calls)
		}
	}
	if len(fx.wf.updates) != 0 {
		t.Errorf("a refused access reached the workflow: %v", fx.wf.updates)
	}
}

func TestReads_ownPlan(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	in, role, err := fx.svc.Initiative(ctx, mette, iniViborg)
	if err != nil || in.ID != iniViborg || role != domain.RoleOperationalGroup {
		t.Fatalf("Initiative: %v %v %v", in.ID, role, err)
	}
	events, err := fx.svc.Events(ctx, mette, in, 0, 10)
	if err != nil || len(events) != 1 || events[0].InitiativeID != iniViborg {
		t.Fatalf("Events: %v %v", events, err)
	}
	plans, err := fx.svc.Plans(ctx, multi)
	if err != nil || len(plans) != 2 {
		t.Fatalf("Plans: %v %v", plans, err)
	}
	if _, _, err := fx.svc.Disbursements(ctx, mette, store.DisbursementFilter{PlanID: planViborg}); ruleCode(err) != domain.CodeForbidden {
		t.Errorf("operational group lists disbursements: %v, want forbidden", err)
	}
	for _, p := range []store.Principal{peter, hanne, karen} {
		if items, _, err := fx.svc.Disbursements(ctx, p, store.DisbursementFilter{PlanID: planViborg}); err != nil || len(items) != 1 {
			t.Errorf("%s lists disbursements: %v %v", p.UserID, items, err)
		}
	}
	if _, _, err := ResolvePlan(multi, ""); !errors.Is(err, ErrPlanRequired) {
		t.Errorf("ResolvePlan of a user in two plans: %v, want ErrPlanRequired", err)
	}
	if id, role, err := ResolvePlan(mette, ""); id != planViborg || role != domain.RoleOperationalGroup || err != nil {
		t.Errorf("ResolvePlan of a user in one plan: %q %q %v", id, role, err)
	}
	fx.st.errs["GetInitiative"] = fmt.Errorf("get: %w: connection refused", store.ErrUnavailable)
	if _, _, err := fx.svc.Initiative(ctx, mette, iniViborg); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("database down: %v, want store.ErrUnavailable", err)
	}
}

// The update ID and the new initiative ID are derived exactly as the API always derived them from an
// Idempotency-Key, so no client sees a change: computed here independently from the documented formula.
func TestIdem_derivations(t *testing.T) {
	digest := func(user, key string, req []byte) string {
		h := sha256.New()
		for _, part := range [][]byte{[]byte(user), []byte(key), req} {
			fmt.Fprintf(h, "%d:", len(part))
			h.Write(part)
		}
		return hex.EncodeToString(h.Sum(nil)[:16])
	}
	req := []byte("POST /api/v1/initiatives/x/decision {}")
	k := NewIdem("bs-hanne", "vote-1", req)
	if want := "bs-hanne/" + digest("bs-hanne", "vote-1", req); k.UpdateID() != want {
		t.Errorf("UpdateID = %q, want %q", k.UpdateID(), want)
	}
	id, err := k.InitiativeID()
	ns := uuid.MustParse("6f1b8f9e-3c4d-4b8a-9a57-1f0e5d2c7b10")
	if want := uuid.NewSHA1(ns, []byte("bs-hanne/"+digest("bs-hanne", "vote-1", req))).String(); err != nil || id != want {
		t.Errorf("InitiativeID = %q, %v; want %q", id, err, want)
	}
	if NewIdem("bs-hanne", "vote-1", []byte("another body")).UpdateID() == k.UpdateID() {
		t.Error("the same key for another request names the same update")
	}
	if NewIdem("bs-lars", "vote-1", req).UpdateID() == k.UpdateID() {
		t.Error("another user's key names the same update")
	}
	var zero Idem
	if zero.Keyed() || zero.UpdateID() == zero.UpdateID() {
		t.Error("the zero Idem must name a fresh update each time")
	}
	zid, err := zero.InitiativeID()
	if u, perr := uuid.Parse(zid); err != nil || perr != nil || u.Version() != 7 {
		t.Errorf("zero Idem initiative ID %q (%v): want a UUIDv7", zid, err)
	}
	sum := sha256.Sum256([]byte("BANK-1"))
	if got, want := ConfirmUpdateID("d1", "BANK-1"), "confirm/d1/"+hex.EncodeToString(sum[:8]); got != want {
		t.Errorf("ConfirmUpdateID = %q, want %q", got, want)
	}
}

// Every action sends its update with the caller's update ID and the signed-in actor, and answers with the
// initiative as recorded afterwards.
func TestActions_updateIDAndRecordedInitiative(t *testing.T) {
	ctx := context.Background()
	k := NewIdem("any", "key-1", []byte("req"))
	tests := []struct {
		name   string
		p      store.Principal
		kind   ActionKind
		update string
		run    func(s *Service, tg *Target) (domain.Initiative, error)
		want   any
	}{
		{"decide", hanne, ActDecide, workflows.UpdateDecide,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.Decide(ctx, tg, domain.OutcomeApprove, "Godkendt", k)
			},
			workflows.DecideInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Outcome: domain.OutcomeApprove, Comment: "Godkendt"}},
		{"withdraw", mette, ActWithdraw, workflows.UpdateWithdraw,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.Withdraw(ctx, tg, "Ikke længere", k)
			},
			workflows.WithdrawInput{Actor: domain.Actor{UserID: mette.UserID, Name: mette.Name, Role: domain.RoleOperationalGroup},
				Reason: "Ikke længere"}},
		{"report", mette, ActReportMilestone, workflows.UpdateReportMilestone,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.ReportMilestone(ctx, tg, 1, "Åbnet", domain.Kroner(10), k)
			},
			workflows.ReportMilestoneInput{Actor: domain.Actor{UserID: mette.UserID, Name: mette.Name, Role: domain.RoleOperationalGroup},
				No: 1, Summary: "Åbnet", SpentØre: domain.Kroner(10)}},
		{"accept_milestone", hanne, ActAcceptMilestone, workflows.UpdateDecide,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.AcceptMilestone(ctx, tg, 1, "Fint", k)
			},
			workflows.DecideInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Matter: domain.MatterMilestone, No: 1, Outcome: domain.OutcomeApprove, Comment: "Fint"}},
		{"return_milestone", hanne, ActReturnMilestone, workflows.UpdateDecide,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.ReturnMilestone(ctx, tg, 2, "Mangler tal", k)
			},
			workflows.DecideInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Matter: domain.MatterMilestone, No: 2, Outcome: domain.OutcomeRequestChanges, Comment: "Mangler tal"}},
		{"return_evaluation", hanne, ActReturnEvaluation, workflows.UpdateDecide,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.ReturnEvaluation(ctx, tg, "Uddyb mål 2", k)
			},
			workflows.DecideInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Matter: domain.MatterEvaluation, Outcome: domain.OutcomeRequestChanges, Comment: "Uddyb mål 2"}},
		{"vote_cancel", hanne, ActVoteCancel, workflows.UpdateDecide,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.VoteCancel(ctx, tg, domain.OutcomeReject, "Fortsæt", k)
			},
			workflows.DecideInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Matter: domain.MatterCancellation, Outcome: domain.OutcomeReject, Comment: "Fortsæt"}},
		{"cast_vote_on_a_milestone_with_the_decide_target", hanne, ActDecide, workflows.UpdateDecide,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.CastVote(ctx, tg, Vote{Matter: domain.MatterMilestone, No: 3, Outcome: domain.OutcomeApprove}, k)
			},
			workflows.DecideInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Matter: domain.MatterMilestone, No: 3, Outcome: domain.OutcomeApprove}},
		{"declare_conflict", hanne, ActDeclareConflict, workflows.UpdateDeclareConflict,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.DeclareConflict(ctx, tg, "Min søster leder caféen", k)
			},
			workflows.DeclareConflictInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Reason: "Min søster leder caféen"}},
		{"propose_cancel_by_admin", karen, ActProposeCancel, workflows.UpdateProposeCancel,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.ProposeCancel(ctx, tg, "Ingen deltagere", k)
			},
			workflows.ProposeCancelInput{Actor: domain.Actor{UserID: karen.UserID, Name: karen.Name, Role: domain.RoleAdmin},
				Reason: "Ingen deltagere"}},
		{"meeting_decision", karen, ActMeetingDecision, workflows.UpdateMeetingDecision,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.MeetingDecision(ctx, tg, MeetingVotes{ID: "møde-5", Matter: domain.MatterEvaluation,
					Present: []string{"bs-hanne", "bs-lars"}, Votes: []workflows.MeetingVote{{MemberID: "bs-hanne",
						Outcome: domain.OutcomeApprove}}, Comment: "Referat"}, k)
			},
			workflows.MeetingDecisionInput{Actor: domain.Actor{UserID: karen.UserID, Name: karen.Name, Role: domain.RoleAdmin},
				MeetingID: "møde-5", Matter: domain.MatterEvaluation, Present: []string{"bs-hanne", "bs-lars"},
				Votes: []workflows.MeetingVote{{MemberID: "bs-hanne", Outcome: domain.OutcomeApprove}}, Comment: "Referat"}},
		{"submit_evaluation", jonas, ActSubmitEvaluation, workflows.UpdateSubmitEvaluation,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.SubmitEvaluation(ctx, tg, "Nået", []domain.GoalResult{{GoalID: "g1", Achieved: true, Result: "41"}}, nil, k)
			},
			workflows.SubmitEvaluationInput{Actor: domain.Actor{UserID: jonas.UserID, Name: jonas.Name, Role: domain.RoleOperationalGroup},
				Summary: "Nået", Results: []domain.GoalResult{{GoalID: "g1", Achieved: true, Result: "41"}}}},
		{"accept_evaluation", hanne, ActAcceptEvaluation, workflows.UpdateDecide,
			func(s *Service, tg *Target) (domain.Initiative, error) { return s.AcceptEvaluation(ctx, tg, "", k) },
			workflows.DecideInput{Actor: domain.Actor{UserID: hanne.UserID, Name: hanne.Name, Role: domain.RoleBoard},
				Matter: domain.MatterEvaluation, Outcome: domain.OutcomeApprove}},
		{"resubmit", karen, ActResubmit, workflows.UpdateResubmit,
			func(s *Service, tg *Target) (domain.Initiative, error) {
				return s.Resubmit(ctx, tg, testProposal(), nil, "Rettet", k)
			},
			workflows.ResubmitInput{Actor: domain.Actor{UserID: karen.UserID, Name: karen.Name, Role: domain.RoleAdmin},
				Proposal: testProposal(), Comment: "Rettet"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fx := newFixture(t)
			fx.wf.updateFn = fx.answer(domain.PhaseExecuting)
			tg, err := fx.svc.Begin(ctx, tt.p, iniViborg, tt.kind)
			if err != nil {
				t.Fatal(err)
			}
			in, err := tt.run(fx.svc, tg)
			if err != nil {
				t.Fatal(err)
			}
			if in.Version != 2 || in.Phase != domain.PhaseExecuting {
				t.Errorf("answered version %d phase %s, want the recorded version 2, executing", in.Version, in.Phase)
			}
			want := []updateCall{{InitiativeID: iniViborg, Name: tt.update, UpdateID: k.UpdateID(), Arg: tt.want}}
			if diff := cmp.Diff(want, fx.wf.updates, cmpDate); diff != "" {
				t.Errorf("updates (-want +got):\n%s", diff)
			}
		})
	}
}

func TestActions_targetOfAnotherAction(t *testing.T) {
	fx := newFixture(t)
	tg, err := fx.svc.Begin(context.Background(), hanne, iniViborg, ActAcceptMilestone)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fx.svc.Decide(context.Background(), tg, domain.OutcomeApprove, "", Idem{}); err == nil || ruleCode(err) != "" {
		t.Fatalf("Decide with an accept-milestone target: %v, want a programming error", err)
	}
	if len(fx.wf.updates) != 0 {
		t.Error("the mismatched target reached the workflow")
	}
}

func TestActions_refusalAndFaultsPassThrough(t *testing.T) {
	ctx := context.Background()
	refusal := domain.Refuse(domain.CodeWrongPhase, "Indsatsen er afsluttet.")
	for name, werr := range map[string]error{
		"refusal":       refusal,
		"still_running": fmt.Errorf("%w: %w: deadline", ErrStillRunning, ErrUnavailable),
		"unavailable":   fmt.Errorf("%w: frontend down", ErrUnavailable),
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			fx.wf.updateFn = func(updateCall) (workflows.UpdateResult, error) { return workflows.UpdateResult{}, werr }
			tg, _ := fx.svc.Begin(ctx, hanne, iniViborg, ActDecide)
			if _, err := fx.svc.Decide(ctx, tg, domain.OutcomeApprove, "", Idem{}); !errors.Is(err, werr) {
				t.Fatalf("err = %v, want %v", err, werr)
			}
		})
	}
}

// The workflow writes before it answers, so a read model older than the answer is reported, never returned.
func TestActions_readModelBehindIsUnavailable(t *testing.T) {
	ctx := context.Background()
	for name, res := range map[string]workflows.UpdateResult{
		"older_version": {InitiativeID: iniViborg, Phase: domain.PhaseFunding, Version: 5},
	} {
		t.Run(name, func(t *testing.T) {
			fx := newFixture(t)
			fx.wf.updateFn = func(updateCall) (workflows.UpdateResult, error) { return res, nil }
			tg, _ := fx.svc.Begin(ctx, hanne, iniViborg, ActDecide)
			in, err := fx.svc.Decide(ctx, tg, domain.OutcomeApprove, "", Idem{})
			if !errors.Is(err, ErrReadModelBehind) || in.ID != "" {
				t.Fatalf("got %+v, %v; want ErrReadModelBehind and no initiative", in.ID, err)
			}
		})
	}
	t.Run("missing_after_start", func(t *testing.T) {
		fx := newFixture(t)
		fx.wf.startFn = func(in workflows.StartInput) (workflows.UpdateResult, error) {
			return workflows.UpdateResult{InitiativeID: in.InitiativeID, Phase: domain.PhaseBoardReview, Version: 1}, nil
		}
		in, err := fx.svc.Propose(ctx, mette, "", testProposal(), nil, Idem{})
		if !errors.Is(err, ErrReadModelBehind) {
			t.Fatalf("err = %v, want ErrReadModelBehind", err)
		}
		if in.ID == "" || in.ID != fx.wf.starts[0].InitiativeID {
			t.Errorf("the answer names initiative %q, want the started one for the log", in.ID)
		}
	})
	t.Run("answer_for_another_initiative", func(t *testing.T) {
		fx := newFixture(t)
		fx.wf.updateFn = func(updateCall) (workflows.UpdateResult, error) {
			return workflows.UpdateResult{InitiativeID: "other", Version: 1}, nil
		}
		tg, _ := fx.svc.Begin(ctx, hanne, iniViborg, ActDecide)
		if _, err := fx.svc.Decide(ctx, tg, domain.OutcomeApprove, "", Idem{}); err == nil || ruleCode(err) != "" {
			t.Fatalf("err = %v, want an internal error", err)
		}
	})
}

func TestConfirmPayment(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	fx.wf.updateFn = func(c updateCall) (workflows.UpdateResult, error) {
		fx.st.mu.Lock()
		d := fx.st.disb[disViborg]
		ref := "BANK-1"
		d.Status, d.Reference = store.DisbursementPaid, &ref
		fx.st.disb[disViborg] = d
		fx.st.mu.Unlock()
		return workflows.UpdateResult{InitiativeID: c.InitiativeID, Version: 3}, nil
	}
	tg, err := fx.svc.BeginPayment(ctx, peter, disViborg)
	if err != nil {
		t.Fatal(err)
	}
	d, err := fx.svc.ConfirmPayment(ctx, tg, "  BANK-1 ")
	if err != nil || d.Status != store.DisbursementPaid {
		t.Fatalf("ConfirmPayment: %+v, %v; want the disbursement as paid afterwards", d, err)
	}
	want := []updateCall{{InitiativeID: iniViborg, Name: workflows.UpdateConfirmPayment, UpdateID: ConfirmUpdateID(disViborg, "BANK-1"),
		Arg: workflows.ConfirmPaymentInput{Actor: domain.Actor{UserID: peter.UserID, Name: peter.Name, Role: domain.RoleFinance},
			DisbursementID: disViborg, Reference: "BANK-1"}}}
	if diff := cmp.Diff(want, fx.wf.updates, cmpDate); diff != "" {
		t.Errorf("updates (-want +got):\n%s", diff)
	}
}

func TestPropose(t *testing.T) {
	ctx := context.Background()
	started := func(fx *fixture) func(in workflows.StartInput) (workflows.UpdateResult, error) {
		return func(in workflows.StartInput) (workflows.UpdateResult, error) {
			ini := testInitiative(in.InitiativeID, planViborg)
			fx.st.mu.Lock()
			fx.st.initiatives[ini.ID] = ini
			fx.st.mu.Unlock()
			return workflows.UpdateResult{InitiativeID: ini.ID, Phase: ini.Phase, Version: 1}, nil
		}
	}
	t.Run("started_with_derived_id", func(t *testing.T) {
		fx := newFixture(t)
		fx.wf.startFn = started(fx)
		k := NewIdem(mette.UserID, "create-1", []byte("req"))
		in, err := fx.svc.Propose(ctx, mette, "", testProposal(), nil, k)
		if err != nil {
			t.Fatal(err)
		}
		wantID, _ := k.InitiativeID()
		if in.ID != wantID || in.Version != 1 {
			t.Errorf("initiative %s v%d, want %s v1", in.ID, in.Version, wantID)
		}
		st := fx.wf.starts[0]
		if st.Proposer != (domain.Actor{UserID: mette.UserID, Name: mette.Name, Role: domain.RoleOperationalGroup}) ||
			st.Plan.ID != planViborg {
			t.Errorf("start input %+v", st)
		}
	})
	t.Run("retry_after_lost_answer_attaches", func(t *testing.T) {
		fx := newFixture(t)
		k := NewIdem(mette.UserID, "create-1", []byte("req"))
		id, _ := k.InitiativeID()
		fx.st.initiatives[id] = testInitiative(id, planViborg)
		fx.wf.startFn = func(workflows.StartInput) (workflows.UpdateResult, error) {
			return workflows.UpdateResult{}, fmt.Errorf("%w: already started", store.ErrConflict)
		}
		fx.wf.updateFn = func(c updateCall) (workflows.UpdateResult, error) {
			return workflows.UpdateResult{InitiativeID: c.InitiativeID, Version: 1}, nil
		}
		in, err := fx.svc.Propose(ctx, mette, "", testProposal(), nil, k)
		if err != nil || in.ID != id {
			t.Fatalf("Propose: %s, %v; want the first attempt's initiative %s", in.ID, err, id)
		}
		if len(fx.wf.updates) != 1 || fx.wf.updates[0].Name != workflows.UpdateSync {
			t.Errorf("updates %+v, want one sync", fx.wf.updates)
		}
		// Without a key a conflict is just a conflict.
		fx.wf.updates = nil
		if _, err := fx.svc.Propose(ctx, mette, "", testProposal(), nil, Idem{}); !errors.Is(err, store.ErrConflict) || len(fx.wf.updates) != 0 {
			t.Errorf("unkeyed conflict: %v, updates %v", err, fx.wf.updates)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		fx := newFixture(t)
		if _, err := fx.svc.Propose(ctx, hanne, "", testProposal(), nil, Idem{}); ruleCode(err) != domain.CodeForbidden {
			t.Errorf("board proposes: %v, want forbidden", err)
		}
		_, err := fx.svc.Propose(ctx, multi, "", testProposal(), nil, Idem{})
		want := &domain.RuleError{Code: domain.CodeValidation, Message: "Forslaget kan ikke indsendes.",
			Problems: []domain.FieldProblem{{Field: "plan_id", Code: "required", Message: "Du er tilknyttet flere planer; angiv plan_id."}}}
		if diff := cmp.Diff(error(want), err, cmp.Comparer(func(a, b error) bool { return a.Error() == b.Error() })); diff != "" {
			t.Errorf("no plan named (-want +got):\n%s", diff)
		}
		if _, err := fx.svc.Propose(ctx, mette, planAarhus, testProposal(), nil, Idem{}); ruleCode(err) != domain.CodeValidation {
			t.Errorf("another plan: %v, want a plan_id problem", err)
		}
		if len(fx.wf.starts) != 0 {
			t.Errorf("a refused proposal started a workflow")
		}
	})
	t.Run("insufficient_funds", func(t *testing.T) {
		fx := newFixture(t)
		fx.st.available[planViborg]["lbf"] = domain.Kroner(1_000)
		_, err := fx.svc.Propose(ctx, mette, "", testProposal(), nil, Idem{})
		if err == nil || len(fx.wf.starts) != 0 {
			t.Fatalf("err %v, starts %d: want a refusal before the workflow", err, len(fx.wf.starts))
		}
		if !strings.Contains(err.Error(), "budget") {
			t.Errorf("refusal %v does not point at the budget", err)
		}
	})
}

// Problems the caller found reading the input are merged with the rules' own, one per field: the input's where the
// rule only saw a stand-in zero value, the rule's where it names the same field with the same code.
func TestPropose_mergesInputProblems(t *testing.T) {
	fx := newFixture(t)
	p := testProposal()
	p.Title = ""                                   // missing in the input: the rule says "required" too
	p.TargetGroup = ""                             // had forbidden characters: the rule's "required" is beside the point
	p.Milestones[0].DueDate = domain.Date{}        // did not parse: the rule's "required" is beside the point
	p.Budget[0].AmountØre = domain.Kroner(200_000) // a rule problem of its own
	input := []domain.FieldProblem{
		{Field: "title", Code: "required", Message: "Feltet skal udfyldes."},
		{Field: "target_group", Code: "invalid_characters", Message: "Ulovlige tegn."},
		{Field: "milestones[0].due_date", Code: "invalid_date", Message: `"31-12" er ikke en dato; brug ÅÅÅÅ-MM-DD.`},
	}
	_, err := fx.svc.Propose(context.Background(), mette, "", p, input, Idem{})
	var re *domain.RuleError
	if !errors.As(err, &re) || re.Code != domain.CodeValidation {
		t.Fatalf("err = %v, want a validation refusal", err)
	}
	fields := map[string][]string{}
	for _, fp := range re.Problems {
		fields[fp.Field] = append(fields[fp.Field], fp.Code)
	}
	if got := fields["title"]; len(got) != 1 || got[0] != "required" {
		t.Errorf("title problems %v, want the rule's one", got)
	}
	if got := fields["target_group"]; len(got) != 1 || got[0] != "invalid_characters" {
		t.Errorf("target_group problems %v, want the input's one", got)
	}
	if got := fields["milestones[0].due_date"]; len(got) != 1 || got[0] != "invalid_date" {
		t.Errorf("due_date problems %v, want the parse problem only", got)
	}
	budgetRule := false
	for f := range fields {
		budgetRule = budgetRule || slices.Contains(fields[f], "tranches_do_not_sum_to_budget")
	}
	if !budgetRule {
		t.Errorf("problems %v lack the rule's own budget problem", re.Problems)
	}
	// Input problems come first, in their order, then the rules'.
	if re.Problems[0].Field != "target_group" || re.Problems[1].Field != "milestones[0].due_date" {
		t.Errorf("order %v: want the input's problems first", re.Problems)
	}
	if len(fx.wf.starts) != 0 {
		t.Error("an invalid proposal started a workflow")
	}
	// With only input problems and a valid proposal otherwise, the message is the generic one.
	_, err = fx.svc.Propose(context.Background(), mette, "", testProposal(),
		[]domain.FieldProblem{{Field: "goals[0].id", Code: "invalid_characters", Message: "x"}}, Idem{})
	if !errors.As(err, &re) || re.Message != MsgProposalInvalid || len(re.Problems) != 1 {
		t.Errorf("input problem only: %v", err)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestActions_zeroIdemGetsFreshUpdateIDs(t *testing.T) {
	ctx := context.Background()
	fx := newFixture(t)
	fx.wf.updateFn = fx.answer(domain.PhaseBoardReview)
	tg, _ := fx.svc.Begin(ctx, hanne, iniViborg, ActDecide)
	for range 2 {
		if _, err := fx.svc.Decide(ctx, tg, domain.OutcomeApprove, "", Idem{}); err != nil {
			t.Fatal(err)
		}
	}
	a, b := fx.wf.updates[0].UpdateID, fx.wf.updates[1].UpdateID
	if a == b || !uuidRE.MatchString(a) || !uuidRE.MatchString(b) {
		t.Errorf("update IDs %q, %q: want two random UUIDs", a, b)
	}
}

// cmpDate compares dates by value (domain.Date hides its time.Time).
var cmpDate = cmp.Comparer(func(a, b domain.Date) bool { return a == b })
