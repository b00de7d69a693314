package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

var karen = domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}

// seededBoard is version 1 as the seed creates it: the three board users, Hanne (title formand) in the chair.
var seededBoard = domain.Board{Version: 1, Members: []string{"bs-hanne", "bs-lars", "bs-sofie"}, Chair: "bs-hanne",
	Quorum: domain.QuorumMajorityOfEntitled, Decision: domain.DecisionMajorityChairCasts,
	ChairAlone: []domain.MatterKind{domain.MatterMilestone}}

// ruleErr returns err as a *domain.RuleError or fails the test.
func ruleErr(t *testing.T, err error) *domain.RuleError {
	t.Helper()
	var re *domain.RuleError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want a *domain.RuleError", err)
	}
	return re
}

func problemFields(re *domain.RuleError) []string {
	var out []string
	for _, p := range re.Problems {
		out = append(out, p.Field+":"+p.Code)
	}
	return out
}

func TestSeedRecordsBoardAndSettingsVersion1(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)

	b, err := s.GetBoard(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if b == nil {
		t.Fatal("no board after the seed")
	}
	if diff := cmp.Diff(seededBoard, *b); diff != "" {
		t.Errorf("board (-want +got):\n%s", diff)
	}
	p, err := s.GetPlan(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&seededBoard, p.Board); diff != "" {
		t.Errorf("GetPlan's board (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&seededBoard, p.Rules().Board); diff != "" {
		t.Errorf("the plan's rules (what workflows get) lost the board (-want +got):\n%s", diff)
	}

	hist, err := s.BoardHistory(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != 1 || hist[0].ChangedBy != "" || hist[0].Note != store.SeedNote || hist[0].ChangedAt.IsZero() {
		t.Errorf("board history = %+v, want one version written by the system", hist)
	}

	sh, err := s.PlanSettingsHistory(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if len(sh) != 1 || sh[0].Version != 1 || sh[0].ChangedBy != "" {
		t.Fatalf("settings history = %+v, want version 1 by the system", sh)
	}
	if diff := cmp.Diff(p.Settings, sh[0].Settings); diff != "" {
		t.Errorf("settings version 1 differs from the plan's settings (-plan +history):\n%s", diff)
	}
	want := domain.PlanSettings{MinLocalCofinancingPermille: 250, BoardQuorum: 1, BoardDecisionDays: 15,
		PaymentDays: 10, EvaluationDays: 40, ReminderOffsets: []int{5, 1}, FinanceLead: "fin-peter"}
	if diff := cmp.Diff(want, p.Settings); diff != "" {
		t.Errorf("seeded settings (-want +got):\n%s", diff)
	}

	// A second seed (every start of dev) writes no second version.
	if _, err := s.SeedPlan(ctx, viborg(t)); err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, `SELECT count(*) FROM board_versions WHERE plan_id = $1`, planID); n != 1 {
		t.Errorf("board versions after a second seed = %d, want 1", n)
	}
	if n := count(t, s, `SELECT count(*) FROM plan_settings_history WHERE plan_id = $1`, planID); n != 1 {
		t.Errorf("settings versions after a second seed = %d, want 1", n)
	}
}

// TestSeedUpgradesADatabaseWithoutBoard: a database seeded before migration 00009 has the plan but no board; the
// next start (migrate --seed, dev) records version 1 from the plan's users.
func TestSeedUpgradesADatabaseWithoutBoard(t *testing.T) {
	t.Parallel()
	dsn := dbtest.NewDSN(t)
	db := openDB(t, dsn)
	ctx := ctxT(t)
	// Back to the schema before this change (the seeded plan stays), and up again: the new tables are empty.
	if err := store.MigrateDownTo(ctx, db, 8); err != nil {
		t.Fatal(err)
	}
	if err := store.Migrate(ctx, db); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, err := s.GetBoard(ctx, planID); err != nil || b != nil {
		t.Fatalf("before the upgrade: board = %+v, %v; want none", b, err)
	}
	p, err := s.GetPlan(ctx, planID)
	if err != nil || p.Board != nil {
		t.Fatalf("before the upgrade: plan board = %+v, %v; want nil (legacy quorum)", p.Board, err)
	}

	// Two processes starting at once (api and worker) record version 1 once.
	errs := parallel(
		func() error { _, err := s.SeedPlan(ctx, viborg(t)); return err },
		func() error { _, err := s.SeedPlan(ctx, viborg(t)); return err },
	)
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("SeedPlan: %v", errs)
	}
	b, err := s.GetBoard(ctx, planID)
	if err != nil || b == nil {
		t.Fatalf("after the upgrade: board = %v, %v", b, err)
	}
	if diff := cmp.Diff(seededBoard, *b); diff != "" {
		t.Errorf("upgraded board (-want +got):\n%s", diff)
	}
	if n := count(t, s, `SELECT count(*) FROM plan_settings_history WHERE plan_id = $1`, planID); n != 1 {
		t.Errorf("settings versions = %d, want 1", n)
	}
}

func TestSetBoardRefusesWhatBreaksTheRules(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	all := []string{"bs-hanne", "bs-lars", "bs-sofie"}
	tests := []struct {
		name  string
		board domain.Board
		note  string
		want  []string
	}{
		{"no_members_422", domain.Board{}, "", []string{"members:required"}},
		{"unknown_member_422", domain.Board{Members: []string{"bs-hanne", "nobody"}}, "", []string{"members[1]:unknown"}},
		{"member_without_board_role_422", domain.Board{Members: []string{"bs-hanne", "og-mette"}}, "",
			[]string{"members[1]:not_board"}},
		{"duplicate_member_422", domain.Board{Members: []string{"bs-hanne", "bs-lars", "bs-hanne"}}, "",
			[]string{"members[2]:duplicate"}},
		{"chair_not_member_422", domain.Board{Members: []string{"bs-lars"}, Chair: "bs-hanne"}, "",
			[]string{"chair:not_member"}},
		{"unknown_rules_422", domain.Board{Members: all, Quorum: "two_thirds", Decision: "unanimous"}, "",
			[]string{"quorum:unknown", "decision:unknown"}},
		{"unknown_and_duplicate_matter_kind_422", domain.Board{Members: all,
			ChairAlone: []domain.MatterKind{"budget", domain.MatterMilestone, domain.MatterMilestone}}, "",
			[]string{"chair_alone[0]:unknown", "chair_alone[2]:duplicate"}},
		{"note_with_control_character_422", domain.Board{Members: all}, "a\x00b", []string{"note:invalid_characters"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.SetBoard(ctx, planID, tc.board, karen, tc.note)
			re := ruleErr(t, err)
			if re.Code != domain.CodeValidation {
				t.Errorf("code = %s, want %s", re.Code, domain.CodeValidation)
			}
			if diff := cmp.Diff(tc.want, problemFields(re)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			for _, p := range re.Problems {
				if p.Message == "" {
					t.Errorf("problem %s has no message", p.Field)
				}
			}
		})
	}
	if _, err := s.SetBoard(ctx, "aarhus", domain.Board{Members: all}, karen, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown plan: %v, want ErrNotFound", err)
	}
	if n := count(t, s, `SELECT count(*) FROM board_versions`); n != 1 {
		t.Errorf("refused changes wrote versions: %d, want 1", n)
	}
}

func TestSetBoardWritesTheNextVersion(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)

	// Members in any order; no chair; the board votes on everything (an empty, non-nil list).
	got, err := s.SetBoard(ctx, planID, domain.Board{Members: []string{"bs-sofie", "bs-lars"},
		ChairAlone: []domain.MatterKind{}}, karen, "Hanne er trådt ud")
	if err != nil {
		t.Fatal(err)
	}
	want := domain.Board{Version: 2, Members: []string{"bs-lars", "bs-sofie"}, Quorum: domain.QuorumMajorityOfEntitled,
		Decision: domain.DecisionMajorityChairCasts, ChairAlone: []domain.MatterKind{}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("SetBoard (-want +got):\n%s", diff)
	}
	cur, err := s.GetBoard(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, *cur); diff != "" {
		t.Errorf("GetBoard (-want +got):\n%s", diff)
	}
	if cur.ChairAlone == nil || cur.ChairDecidesAlone(domain.MatterMilestone) {
		t.Errorf("an empty chair-alone list read back as %v: the chair would decide milestones alone", cur.ChairAlone)
	}
	p, err := s.GetPlan(ctx, planID)
	if err != nil || p.Board == nil || p.Board.Version != 2 {
		t.Fatalf("GetPlan board = %+v, %v; want version 2", p.Board, err)
	}

	// The same board again is no change: no version 3 (PUT is idempotent).
	again, err := s.SetBoard(ctx, planID, domain.Board{Members: []string{"bs-lars", "bs-sofie"},
		ChairAlone: []domain.MatterKind{}}, karen, "igen")
	if err != nil || again.Version != 2 {
		t.Fatalf("same board again = v%d, %v; want v2, nil", again.Version, err)
	}

	// nil ChairAlone is stored as the default list, so the version says what it means.
	third, err := s.SetBoard(ctx, planID, domain.Board{Members: []string{"bs-hanne", "bs-lars", "bs-sofie"},
		Chair: "bs-lars"}, karen, "")
	if err != nil {
		t.Fatal(err)
	}
	if third.Version != 3 || !slices.Equal(third.ChairAlone, domain.DefaultChairAlone) {
		t.Errorf("third = %+v, want version 3 with the default chair-alone list", third)
	}

	hist, err := s.BoardHistory(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	var versions []int
	for _, h := range hist {
		versions = append(versions, h.Version)
	}
	if diff := cmp.Diff([]int{3, 2, 1}, versions); diff != "" {
		t.Errorf("history versions, newest first (-want +got):\n%s", diff)
	}
	if h := hist[1]; h.ChangedBy != "adm-karen" || h.ChangedByName != "Karen Iversen" || h.Note != "Hanne er trådt ud" {
		t.Errorf("version 2 in history = %+v, want by Karen with her note", h)
	}
	if diff := cmp.Diff(seededBoard, hist[2].Board); diff != "" {
		t.Errorf("version 1 changed (-want +got):\n%s", diff)
	}
}

func TestSetBoardBasedOnAnOldVersionIsAConflict(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	if _, err := s.SetBoard(ctx, planID, domain.Board{Version: 1, Members: []string{"bs-hanne", "bs-lars"}}, karen, ""); err != nil {
		t.Fatalf("change based on the current version: %v", err)
	}
	_, err := s.SetBoard(ctx, planID, domain.Board{Version: 1, Members: []string{"bs-sofie"}}, karen, "")
	if re := ruleErr(t, err); re.Code != domain.CodeConflict {
		t.Fatalf("change based on version 1 after version 2: %v, want %s", err, domain.CodeConflict)
	}
	if b, _ := s.GetBoard(ctx, planID); b.Version != 2 {
		t.Errorf("current version = %d, want 2", b.Version)
	}
}

// TestConcurrentSetBoard: changes made at the same moment each get their own version, in some order; none is lost
// and none reuses a version. Changes based on the same version: exactly one wins, the others are told to reload.
func TestConcurrentSetBoard(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	all := []string{"bs-hanne", "bs-lars", "bs-sofie"}
	var boards []domain.Board
	for _, chair := range []string{"", "bs-lars", "bs-sofie", "bs-hanne"} {
		for _, alone := range [][]domain.MatterKind{{}, {domain.MatterMilestone, domain.MatterEvaluation}} {
			boards = append(boards, domain.Board{Members: all, Chair: chair, ChairAlone: alone})
		}
	}
	var fns []func() error
	for i, b := range boards {
		fns = append(fns, func() error {
			_, err := s.SetBoard(ctx, planID, b, karen, fmt.Sprintf("ændring %d", i))
			return err
		})
	}
	for i, err := range parallel(fns...) {
		if err != nil {
			t.Errorf("SetBoard #%d: %v", i, err)
		}
	}
	hist, err := s.BoardHistory(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) != len(boards)+1 || hist[0].Version != len(boards)+1 {
		t.Fatalf("history has %d versions, newest %d; want %d", len(hist), hist[0].Version, len(boards)+1)
	}

	base := hist[0].Version
	fns = fns[:0]
	for _, chair := range []string{"bs-hanne", "bs-lars", "bs-sofie"} {
		fns = append(fns, func() error {
			_, err := s.SetBoard(ctx, planID, domain.Board{Version: base, Members: all, Chair: chair,
				ChairAlone: []domain.MatterKind{domain.MatterProposal}}, karen, "")
			return err
		})
	}
	won := 0
	for _, err := range parallel(fns...) {
		var re *domain.RuleError
		switch {
		case err == nil:
			won++
		case errors.As(err, &re) && re.Code == domain.CodeConflict:
		default:
			t.Errorf("SetBoard based on v%d: %v, want success or conflict", base, err)
		}
	}
	if won != 1 {
		t.Errorf("%d changes based on the same version won, want exactly 1", won)
	}
}

func TestBoardTablesHoldTheirRules(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	db := s.DB()
	mustFail := func(name string, stmts ...string) {
		t.Helper()
		tx, err := db.BeginTxx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		for _, q := range stmts {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return
			}
		}
		if err := tx.Commit(); err == nil {
			t.Errorf("%s: the database accepted it", name)
		}
	}
	mustFail("rewrite a board version", `UPDATE board_versions SET note = 'x'`)
	mustFail("delete a member of a version", `DELETE FROM board_version_members`)
	mustFail("truncate the history", `TRUNCATE plan_settings_history`)
	mustFail("rewrite settings history", `UPDATE plan_settings_history SET note = 'x'`)
	mustFail("chair who is not a member",
		`INSERT INTO board_versions (plan_id, version, chair_id, quorum_rule, decision_rule, chair_alone)
		 VALUES ('viborg-2021-2025', 2, 'bs-hanne', 'majority_of_entitled', 'majority_chair_casts', '[]')`,
		`INSERT INTO board_version_members VALUES ('viborg-2021-2025', 2, 'bs-lars')`)
	mustFail("member without the board role",
		`INSERT INTO board_versions (plan_id, version, quorum_rule, decision_rule, chair_alone)
		 VALUES ('viborg-2021-2025', 2, 'majority_of_entitled', 'majority_chair_casts', '[]')`,
		`INSERT INTO board_version_members VALUES ('viborg-2021-2025', 2, 'og-mette')`)
	mustFail("unknown matter kind",
		`INSERT INTO board_versions (plan_id, version, quorum_rule, decision_rule, chair_alone)
		 VALUES ('viborg-2021-2025', 2, 'majority_of_entitled', 'majority_chair_casts', '["budget"]')`)
	mustFail("chair_alone not an array",
		`INSERT INTO board_versions (plan_id, version, quorum_rule, decision_rule, chair_alone)
		 VALUES ('viborg-2021-2025', 2, 'majority_of_entitled', 'majority_chair_casts', '{}')`)
	mustFail("version 0",
		`INSERT INTO board_versions (plan_id, version, quorum_rule, decision_rule)
		 VALUES ('viborg-2021-2025', 0, 'majority_of_entitled', 'majority_chair_casts')`)
	mustFail("delete a meeting",
		`INSERT INTO meetings (plan_id, id, held_on, title, created_by) VALUES ('viborg-2021-2025', 'm', '2022-03-15', 'x', 'bs-hanne')`,
		`DELETE FROM meetings`)
	mustFail("meeting at 25:00",
		`INSERT INTO meetings (plan_id, id, held_on, starts_at, title, created_by) VALUES ('viborg-2021-2025', 'm', '2022-03-15', '25:00', 'x', 'bs-hanne')`)
}

func TestSetPlanSettings(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	p, err := s.GetPlan(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	base := p.Settings

	t.Run("refused", func(t *testing.T) {
		bad := base
		bad.BoardDecisionDays = -1
		bad.PaymentDays = store.MaxDeadlineDays + 1
		bad.ReminderOffsets = []int{5, 0, 60, 5}
		bad.FinanceLead = "og-mette"
		bad.BoardQuorum = 0
		_, err := s.SetPlanSettings(ctx, planID, bad, karen, "")
		re := ruleErr(t, err)
		want := []string{"board_decision_days:out_of_range", "payment_days:out_of_range",
			"reminder_offsets[1]:out_of_range", "reminder_offsets[2]:out_of_range", "reminder_offsets[3]:duplicate",
			"finance_lead:not_finance", "board_quorum:out_of_range"}
		if diff := cmp.Diff(want, problemFields(re)); diff != "" {
			t.Errorf("problems (-want +got):\n%s", diff)
		}
		unknown := base
		unknown.FinanceLead = "nobody"
		_, err = s.SetPlanSettings(ctx, planID, unknown, karen, "")
		if diff := cmp.Diff([]string{"finance_lead:unknown"}, problemFields(ruleErr(t, err))); diff != "" {
			t.Errorf("unknown finance lead (-want +got):\n%s", diff)
		}
	})

	t.Run("written_with_history", func(t *testing.T) {
		next := base
		next.BoardDecisionDays = 20
		next.ReminderOffsets = []int{1, 10, 3}
		next.FinanceLead = ""
		got, err := s.SetPlanSettings(ctx, planID, next, karen, "Nye frister fra 2023")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.ReminderOffsets, []int{10, 3, 1}) {
			t.Errorf("reminder offsets stored as %v, want largest first", got.ReminderOffsets)
		}
		p, err := s.GetPlan(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, p.Settings); diff != "" {
			t.Errorf("plan settings (-want +got):\n%s", diff)
		}
		// The same settings again write nothing.
		if _, err := s.SetPlanSettings(ctx, planID, got, karen, "igen"); err != nil {
			t.Fatal(err)
		}
		hist, err := s.PlanSettingsHistory(ctx, planID)
		if err != nil {
			t.Fatal(err)
		}
		if len(hist) != 2 || hist[0].Version != 2 || hist[0].ChangedByName != "Karen Iversen" ||
			hist[0].Note != "Nye frister fra 2023" || hist[0].Settings.BoardDecisionDays != 20 {
			t.Fatalf("history = %+v, want version 2 by Karen on top of version 1", hist)
		}
		if diff := cmp.Diff(base, hist[1].Settings); diff != "" {
			t.Errorf("version 1 changed (-want +got):\n%s", diff)
		}
		// No reminders at all (empty) differs from the defaults (nil), and is kept.
		none := got
		none.ReminderOffsets = []int{}
		got, err = s.SetPlanSettings(ctx, planID, none, karen, "")
		if err != nil || got.ReminderOffsets == nil || len(got.ReminderOffsets) != 0 {
			t.Fatalf("no reminders = %v, %v", got.ReminderOffsets, err)
		}
		if p, _ := s.GetPlan(ctx, planID); p.Settings.ReminderOffsets == nil || len(p.Settings.Deadlines().ReminderOffsets) != 0 {
			t.Errorf("no reminders read back as %v: the defaults would apply", p.Settings.ReminderOffsets)
		}
	})
}

func TestMeetings(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	in := store.MeetingInput{PlanID: planID, ID: "m1", HeldOn: domain.NewDate(2022, 3, 15), StartsAt: "16:30",
		Location: "Beboerhuset, Houlkærvænget", By: hanne}
	m, created, err := s.CreateMeeting(ctx, in)
	if err != nil || !created {
		t.Fatalf("CreateMeeting = %v, %v", created, err)
	}
	if m.Title != store.DefaultMeetingTitle || m.HeldOn.String() != "2022-03-15" || m.CreatedByName != "Hanne Mortensen" || m.Cancelled() {
		t.Errorf("meeting = %+v", m)
	}
	// The same request again (a retry) creates nothing and answers with the meeting.
	again, created, err := s.CreateMeeting(ctx, in)
	if err != nil || created || again.ID != "m1" {
		t.Errorf("repeat = %+v, %v, %v; want the stored meeting, not created", again, created, err)
	}
	other := in
	other.Location = "Rådhuset"
	if _, _, err := s.CreateMeeting(ctx, other); !errors.Is(err, store.ErrConflict) {
		t.Errorf("another meeting under the same ID: %v, want ErrConflict", err)
	}

	_, _, err = s.CreateMeeting(ctx, store.MeetingInput{PlanID: planID, ID: "bad", StartsAt: "9.30",
		Location: "a\nb", By: hanne})
	if diff := cmp.Diff([]string{"held_on:required", "starts_at:invalid", "location:invalid_characters"},
		problemFields(ruleErr(t, err))); diff != "" {
		t.Errorf("refused meeting (-want +got):\n%s", diff)
	}

	later := store.MeetingInput{PlanID: planID, ID: "m2", HeldOn: domain.NewDate(2022, 6, 1), Title: "Sommermøde", By: karen}
	if _, _, err := s.CreateMeeting(ctx, later); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListMeetings(ctx, planID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != "m2" || list[1].ID != "m1" {
		t.Errorf("list = %+v, want m2 then m1 (latest first)", list)
	}

	c, err := s.CancelMeeting(ctx, planID, "m2", karen)
	if err != nil || !c.Cancelled() || c.CancelledBy != "adm-karen" {
		t.Fatalf("cancel = %+v, %v", c, err)
	}
	first := *c.CancelledAt
	time.Sleep(10 * time.Millisecond)
	if c, err := s.CancelMeeting(ctx, planID, "m2", hanne); err != nil || !c.CancelledAt.Equal(first) || c.CancelledBy != "adm-karen" {
		t.Errorf("second cancel = %+v, %v; want the first cancellation kept", c, err)
	}
	if _, err := s.GetMeeting(ctx, planID, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown meeting: %v, want ErrNotFound", err)
	}
	if _, err := s.CancelMeeting(ctx, planID, "nope", karen); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("cancel unknown meeting: %v, want ErrNotFound", err)
	}
	if _, _, err := s.CreateMeeting(ctx, store.MeetingInput{PlanID: "aarhus", ID: "x", HeldOn: in.HeldOn, By: hanne}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("meeting of unknown plan: %v, want ErrNotFound", err)
	}
}

// agendaStep writes in as one transition to phase (the snapshot as it is now).
func agendaStep(t *testing.T, s *store.Store, in *domain.Initiative, typ string, phase domain.Phase) {
	t.Helper()
	if err := s.RecordTransition(ctxT(t), step(t, in, typ, mette, phase)); err != nil {
		t.Fatalf("%s %s: %v", in.ID, typ, err)
	}
}

func TestMeetingAgenda(t *testing.T) {
	t.Parallel()
	s := dbtest.New(t)
	ctx := ctxT(t)
	p := func(title string) domain.Proposal {
		return proposal(title, "uddannelse-og-livschancer", []string{"houlkaervaenget"}, kr(100_000), 0)
	}
	at := func(m time.Month, d int) time.Time { return time.Date(2022, m, d, 10, 0, 0, 0, time.UTC) }

	// In board review since 1 March: on the agenda.
	review := initiative("a-review", p("Lektiecafé"))
	agendaStep(t, s, review, "submitted", domain.PhaseBoardReview)

	// Submitted after the meeting: not on it.
	late := initiative("a-late", p("Sommerlejr"))
	late.CreatedAt = at(4, 1)
	agendaStep(t, s, late, "submitted", domain.PhaseBoardReview)

	// Executing, milestone 1 paid and reported on 10 March: on the agenda, decided by the chair alone (default).
	reported := initiative("a-reported", p("Jobcafé"))
	agendaStep(t, s, reported, "submitted", domain.PhaseBoardReview)
	m := &reported.Milestones[0]
	m.TrancheStatus, m.PaidAt = domain.TranchePaid, timePtr(at(3, 2))
	m.Report = &domain.Report{Summary: "Caféen er åben", Actor: mette, At: at(3, 10)}
	agendaStep(t, s, reported, "milestone_reported", domain.PhaseExecuting)

	// Executing, nothing reported: waits for the operational group, not the board.
	working := initiative("a-working", p("Fritidsjob"))
	agendaStep(t, s, working, "submitted", domain.PhaseBoardReview)
	working.Milestones[0].TrancheStatus, working.Milestones[0].PaidAt = domain.TranchePaid, timePtr(at(3, 2))
	agendaStep(t, s, working, "payment_confirmed", domain.PhaseExecuting)

	// Evaluation submitted on 14 March: on the agenda.
	evaluated := initiative("a-evaluated", p("Forældrenetværk"))
	agendaStep(t, s, evaluated, "submitted", domain.PhaseBoardReview)
	for i := range evaluated.Milestones {
		evaluated.Milestones[i].TrancheStatus = domain.TranchePaid
		evaluated.Milestones[i].AcceptedAt = timePtr(at(3, 1))
	}
	evaluated.Evaluation = &domain.Evaluation{Summary: "Målet er nået", SubmittedBy: mette, SubmittedAt: at(3, 14)}
	agendaStep(t, s, evaluated, "evaluation_submitted", domain.PhaseEvaluation)

	// Withdrawn: nothing waits.
	gone := initiative("a-gone", p("Kor"))
	agendaStep(t, s, gone, "submitted", domain.PhaseBoardReview)
	agendaStep(t, s, gone, "withdrawn", domain.PhaseWithdrawn)

	if _, _, err := s.CreateMeeting(ctx, store.MeetingInput{PlanID: planID, ID: "m", HeldOn: domain.NewDate(2022, 3, 15), By: hanne}); err != nil {
		t.Fatal(err)
	}
	items, err := s.MeetingAgenda(ctx, planID, "m")
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		ID, Matter, Since, Deadline string
		Kind                        domain.MatterKind
		ChairAlone                  bool
	}
	var got []row
	for _, it := range items {
		got = append(got, row{it.InitiativeID, it.Matter, it.Since.String(), it.Deadline.String(), it.MatterKind, it.ChairAlone})
		if it.StepTitle == "" || it.Title == "" {
			t.Errorf("item %+v has no title", it)
		}
	}
	// Deadlines are 15 Danish business days after each matter opened (the seed's board_decision_days).
	want := []row{
		{"a-review", "", "2022-03-01", "2022-03-22", domain.MatterProposal, false},
		{"a-reported", "milestone/1/1", "2022-03-10", "2022-03-31", domain.MatterMilestone, true},
		{"a-evaluated", "evaluation/1", "2022-03-14", "2022-04-04", domain.MatterEvaluation, false},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("agenda (-want +got):\n%s", diff)
	}

	if _, err := s.MeetingAgenda(ctx, planID, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("agenda of unknown meeting: %v, want ErrNotFound", err)
	}
}

func timePtr(t time.Time) *time.Time { return &t }
