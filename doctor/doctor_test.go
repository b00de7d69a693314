package doctor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/server/temporaltest"

	"github.com/helhedsplan/helhedsplan/doctor"
	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/apiclient"
	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/internal/stack"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// env is one test's system: an embedded Temporal server, a fresh database, the worker and the API.
type env struct {
	t      *testing.T
	client client.Client
	st     *store.Store
	driver *lifecycle.Driver
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ts := temporaltest.NewServer(temporaltest.WithT(t))
	st := dbtest.New(t)
	ctx := context.Background()
	s, err := stack.Start(ctx, ts.GetDefaultClient(), st, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return &env{t: t, client: ts.GetDefaultClient(), st: st, driver: &lifecycle.Driver{
		API: &apiclient.Client{BaseURL: s.URL},
		Tokens: lifecycle.Tokens{OperationalGroup: s.Tokens["og-mette"], Board: s.Tokens["bs-hanne"], OtherBoard: []string{s.Tokens["bs-lars"], s.Tokens["bs-sofie"]},
			Finance: s.Tokens["fin-peter"]}}}
}

func (e *env) check(opts doctor.Options) doctor.Report {
	e.t.Helper()
	rep, err := doctor.Check(context.Background(), doctor.Deps{Client: e.client, Store: e.st,
		Log: slog.New(slog.DiscardHandler)}, opts)
	if err != nil {
		e.t.Fatalf("Check: %v", err)
	}
	return rep
}

// propose submits a two-milestone proposal and returns it.
func (e *env) propose(title string) lifecycle.Initiative {
	e.t.Helper()
	in, err := e.driver.Propose(context.Background(), lifecycle.Sample(title, 2, 3_000_000, 1_000_000))
	if err != nil {
		e.t.Fatalf("propose %s: %v", title, err)
	}
	return in
}

// approve approves an initiative: it goes to funding with tranche 1 released.
func (e *env) approve(in lifecycle.Initiative) lifecycle.Initiative {
	e.t.Helper()
	ctx := context.Background()
	in, err := e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.Board, map[string]string{"outcome": "approve"})
	if err == nil && in.Phase == "board_review" { // the seeded board decides by majority: a second vote settles it
		in, err = e.driver.Act(ctx, in.ID, "/decision", "/decision", e.driver.Tokens.OtherBoard[0], map[string]string{"outcome": "approve"})
	}
	if err != nil || in.Phase != "funding" {
		e.t.Fatalf("approve: %v (%+v)", err, in)
	}
	return in
}

// executing takes an initiative to executing with tranche 1 paid.
func (e *env) executing(title string) lifecycle.Initiative {
	e.t.Helper()
	in := e.approve(e.propose(title))
	if err := e.driver.Confirm(context.Background(), in.Milestones[0].DisbursementID, "NETS-"+title); err != nil {
		e.t.Fatalf("confirm: %v", err)
	}
	in, err := e.driver.Get(context.Background(), in.ID)
	if err != nil || in.Phase != "executing" {
		e.t.Fatalf("after confirm: %v (%+v)", err, in)
	}
	return in
}

// tamper runs statements in one transaction with triggers off, as an operator with a superuser's psql might.
func (e *env) tamper(stmts ...string) {
	e.t.Helper()
	tx, err := e.st.DB().Beginx()
	if err != nil {
		e.t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	for _, s := range append([]string{`SET LOCAL session_replication_role = replica`}, stmts...) {
		if _, err := tx.Exec(s); err != nil {
			e.t.Fatalf("%s: %v", s, err)
		}
	}
	if err := tx.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

func findingsOf(rep doctor.Report, id string) []doctor.Finding {
	var out []doctor.Finding
	for _, f := range rep.Findings {
		if f.InitiativeID == id {
			out = append(out, f)
		}
	}
	return out
}

func kinds(fs []doctor.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Kind)
	}
	return out
}

func TestCleanLifecyclesHaveNoFindings(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	done, err := e.driver.Complete(ctx, e.propose("Afsluttes"), 1_000_000)
	if err != nil {
		t.Fatal(err)
	}
	review := e.propose("Til behandling")
	funding := e.approve(e.propose("Afventer udbetaling"))
	running := e.executing("I gang")
	rejected := e.propose("Afvises")
	for _, tok := range []string{e.driver.Tokens.Board, e.driver.Tokens.OtherBoard[0]} {
		if _, err := e.driver.Act(ctx, rejected.ID, "/decision", "/decision", tok,
			map[string]string{"outcome": "reject", "comment": "Uden for rammen"}); err != nil {
			t.Fatal(err)
		}
	}

	for _, repair := range []bool{false, true} {
		// No dispatcher runs in this stack, so the outbox is not checked.
		rep := e.check(doctor.Options{Repair: repair, OutboxGrace: -1})
		if len(rep.Findings) != 0 {
			t.Errorf("repair=%v: findings on a clean system: %+v", repair, rep.Findings)
		}
		// The three open initiatives are checked; closed ones in a terminal phase are not looked up.
		if rep.Checked != 3 {
			t.Errorf("repair=%v: checked %d initiatives, want 3 (%s, %s, %s; not %s)", repair, rep.Checked,
				review.ID, funding.ID, running.ID, done.ID)
		}
	}
}

func TestTamperedReadModelIsFound(t *testing.T) {
	e := newEnv(t)

	phaseColumn := e.executing("Fase i kolonnen")
	phaseSnapshot := e.executing("Fase i snapshot")
	extraDisbursement := e.executing("Ekstra udbetaling")
	extraPayment := e.approve(e.propose("Ekstra betaling"))
	reference := e.executing("Anden reference")
	gap := e.executing("Hul i hændelser")
	behind := e.executing("Bagud")
	clean := e.executing("Uberørt")

	e.tamper(
		fmt.Sprintf(`UPDATE initiatives SET phase = 'evaluation' WHERE id = '%s'`, phaseColumn.ID),
		fmt.Sprintf(`UPDATE initiatives SET snapshot = jsonb_set(snapshot, '{phase}', '"completed"') WHERE id = '%s'`,
			phaseSnapshot.ID),
		// Milestone 2's tranche has not been released, yet a disbursement appears for it.
		fmt.Sprintf(`INSERT INTO disbursements (id, plan_id, initiative_id, delaftale_id, milestone_no, milestone_title,
			total_ore, status, released_at)
			SELECT '%s', plan_id, id, delaftale_id, 2, 'Milepæl 2', 4000000, 'pending', now()
			FROM initiatives WHERE id = '%s'`, domain.DisbursementID(extraDisbursement.ID, 2), extraDisbursement.ID),
		// Tranche 1 is released, not paid, yet the ledger books a payment.
		fmt.Sprintf(`INSERT INTO ledger_entries (plan_id, source_id, initiative_id, delaftale_id, milestone_no, kind,
			amount_ore, idempotency_key)
			SELECT plan_id, 'lbf', id, delaftale_id, 1, 'pay', 3000000, 'pay/tampered/%s'
			FROM initiatives WHERE id = '%s'`, extraPayment.ID, extraPayment.ID),
		fmt.Sprintf(`UPDATE disbursements SET reference = 'NETS-ANDEN' WHERE id = '%s'`,
			domain.DisbursementID(reference.ID, 1)),
		fmt.Sprintf(`DELETE FROM initiative_events WHERE initiative_id = '%s' AND seq = 2`, gap.ID),
		fmt.Sprintf(`UPDATE initiatives SET version = version - 1,
			snapshot = jsonb_set(snapshot, '{version}', to_jsonb(version - 1)) WHERE id = '%s'`, behind.ID),
	)

	rep := e.check(doctor.Options{OutboxGrace: -1})
	for _, tt := range []struct {
		name string
		id   string
		want string
	}{
		{"phase_column_changed", phaseColumn.ID, doctor.KindPhaseMismatch},
		{"phase_in_snapshot_changed", phaseSnapshot.ID, doctor.KindPhaseMismatch},
		{"disbursement_for_unreleased_milestone", extraDisbursement.ID, doctor.KindDisbursementUnexpected},
		{"payment_booked_for_unpaid_tranche", extraPayment.ID, doctor.KindLedgerMismatch},
		{"payment_reference_changed", reference.ID, doctor.KindDisbursementMismatch},
		{"event_deleted", gap.ID, doctor.KindEventGap},
		{"read_model_behind", behind.ID, doctor.KindReadModelBehind},
	} {
		t.Run(tt.name, func(t *testing.T) {
			fs := findingsOf(rep, tt.id)
			if !slices.Contains(kinds(fs), tt.want) {
				t.Fatalf("findings %+v, want one of kind %s", fs, tt.want)
			}
			for _, f := range fs {
				if f.Repaired {
					t.Errorf("repaired without Repair: %+v", f)
				}
			}
		})
	}
	if fs := findingsOf(rep, clean.ID); len(fs) != 0 {
		t.Errorf("untouched initiative has findings: %+v", fs)
	}
	for _, f := range rep.Findings {
		t.Logf("%s %s: %s", f.InitiativeID, f.Kind, f.Detail)
	}

	// Repair leaves money alone: the tampered ledger and disbursements are reported again, unrepaired.
	rep = e.check(doctor.Options{Repair: true, OutboxGrace: -1})
	for _, id := range []string{extraDisbursement.ID, extraPayment.ID, reference.ID} {
		for _, f := range findingsOf(rep, id) {
			if f.Repaired {
				t.Errorf("a money finding was repaired: %+v", f)
			}
		}
	}
	if n := rep.Unrepaired(); n == 0 {
		t.Error("Unrepaired() = 0 with money findings left")
	}
}

// TestLostStepIsReconciledWithRepair: a step committed in PostgreSQL (event and read model) that the workflow
// never adopted is found as read_model_ahead; --repair has the workflow adopt it, after which the lifecycle goes
// on from there.
func TestLostStepIsReconciledWithRepair(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := e.executing("Tabt skridt")

	stored, err := e.st.GetInitiative(ctx, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The report on milestone 1, written as the workflow would have written it, without the workflow knowing.
	next := stored
	next.Milestones = slices.Clone(stored.Milestones)
	now := time.Now().UTC().Truncate(time.Microsecond)
	actor := domain.Actor{UserID: "og-mette", Name: "Mette", Role: domain.RoleOperationalGroup}
	next.Milestones[0].Report = &domain.Report{Summary: "Skrevet, men tabt", SpentØre: 1_000_000, Actor: actor, At: now}
	next.Version = stored.Version + 1
	next.UpdatedAt = now
	payload, _ := json.Marshal(map[string]any{"no": 1})
	if err := e.st.RecordTransition(ctx, store.Transition{Snapshot: next, Event: store.Event{
		InitiativeID: in.ID, Seq: next.Version, Type: workflows.EventMilestoneReported, ActorID: actor.UserID,
		ActorName: actor.Name, ActorRole: actor.Role, At: now, PhaseBefore: stored.Phase, PhaseAfter: next.Phase,
		Payload: payload}}); err != nil {
		t.Fatal(err)
	}

	rep := e.check(doctor.Options{OutboxGrace: -1})
	if got := kinds(findingsOf(rep, in.ID)); !slices.Contains(got, doctor.KindReadModelAhead) {
		t.Fatalf("findings %v, want %s", got, doctor.KindReadModelAhead)
	}
	rep = e.check(doctor.Options{Repair: true, OutboxGrace: -1})
	fs := findingsOf(rep, in.ID)
	if len(fs) != 1 || fs[0].Kind != doctor.KindReadModelAhead || !fs[0].Repaired {
		t.Fatalf("with repair: %+v, want one repaired %s", fs, doctor.KindReadModelAhead)
	}
	if rep = e.check(doctor.Options{OutboxGrace: -1}); len(rep.Findings) != 0 {
		t.Fatalf("after the repair: %+v", rep.Findings)
	}
	// The workflow now knows the report: the board can accept milestone 1.
	after, err := e.driver.Act(ctx, in.ID, "/milestones/1/accept", "/milestones/{n}/accept", e.driver.Tokens.Board,
		map[string]string{"comment": "Godkendt"})
	if err != nil || after.Phase != "funding" {
		t.Fatalf("accept after reconcile: %v (%+v)", err, after)
	}
}

func TestClosedOrMissingWorkflowIsStuck(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	terminated := e.approve(e.propose("Afbrudt"))
	if err := e.client.TerminateWorkflow(ctx, workflows.InitiativeWorkflowID(terminated.ID), "", "test: an operator's mistake"); err != nil {
		t.Fatal(err)
	}
	open := e.propose("Stadig åben")

	// A read-model initiative that never had a workflow.
	template, err := e.st.GetInitiative(ctx, open.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.st.InsertSyntheticInitiatives(ctx, template.PlanID, 1, template); err != nil {
		t.Fatal(err)
	}
	orphan := "bench-1"

	// Without a dispatcher the release message of the terminated initiative is never delivered.
	rep := e.check(doctor.Options{Repair: true, OutboxGrace: time.Microsecond})
	for _, tt := range []struct {
		id, want string
	}{
		{terminated.ID, doctor.KindStuck},
		{orphan, doctor.KindWorkflowMissing},
		{terminated.ID, doctor.KindOutboxUndelivered},
	} {
		fs := findingsOf(rep, tt.id)
		i := slices.Index(kinds(fs), tt.want)
		if i < 0 {
			t.Errorf("%s: findings %+v, want %s", tt.id, fs, tt.want)
			continue
		}
		if fs[i].Repaired {
			t.Errorf("%s: %s marked repaired", tt.id, tt.want)
		}
		t.Logf("%s %s: %s", tt.id, fs[i].Kind, fs[i].Detail)
	}
	if fs := findingsOf(rep, terminated.ID); !strings.Contains(fmt.Sprint(fs), "Terminated") {
		t.Errorf("stuck finding does not say the workflow was terminated: %+v", fs)
	}
	if fs := findingsOf(rep, open.ID); len(fs) != 0 {
		t.Errorf("open initiative has findings: %+v", fs)
	}
	if rep.Checked != 3 {
		t.Errorf("checked %d, want 3", rep.Checked)
	}
}
