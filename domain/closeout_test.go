package domain_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
)

// budgetOf sums the initiative's approved budget per source.
func budgetOf(in *domain.Initiative) map[string]domain.Money {
	out := map[string]domain.Money{}
	for _, l := range in.Proposal.Budget {
		out[l.SourceID] += l.AmountØre
	}
	return out
}

func TestCloseoutSettlesEverySourceToTheØre(t *testing.T) {
	in := evaluating()
	b := budgetOf(in)
	if len(b) < 2 {
		t.Fatalf("the fixture should have two sources, has %v", b)
	}
	// Everything paid; LBF's money is spent but 1.234,56 kr., the municipality's in full.
	in.Evaluation = &domain.Evaluation{Summary: "Nået", Spend: lines("lbf", b["lbf"]-123_456, "viborg-kommune", b["viborg-kommune"])}
	got, err := domain.ComputeCloseout(in)
	if err != nil {
		t.Fatal(err)
	}
	want := []domain.CloseoutLine{
		{SourceID: "lbf", PaidØre: b["lbf"], SpentØre: b["lbf"] - 123_456, ReturnØre: 123_456},
		{SourceID: "viborg-kommune", PaidØre: b["viborg-kommune"], SpentØre: b["viborg-kommune"]},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("close-out (-want +got):\n%s", d)
	}
	for _, l := range got {
		if l.SpentØre+l.ReturnØre+l.UnreservedØre != b[l.SourceID] {
			t.Errorf("%s: spent+return+unreserved = %s, budget %s", l.SourceID, l.SpentØre+l.ReturnØre+l.UnreservedØre, b[l.SourceID])
		}
	}
	c := domain.Closeout{Lines: got}
	if c.ReturnTotal() != 123_456 {
		t.Errorf("return total %s, want 1.234,56 kr.", c.ReturnTotal())
	}
}

func TestCloseoutWithoutStatedSpendCountsAllPaidAsSpent(t *testing.T) {
	in := evaluating()
	in.Evaluation = &domain.Evaluation{Summary: "Nået"}
	got, err := domain.ComputeCloseout(in)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range got {
		if l.ReturnØre != 0 || l.SpentØre != l.PaidØre || l.UnreservedØre != 0 {
			t.Errorf("%+v: want everything paid spent, nothing back", l)
		}
	}
}

func TestCloseoutGivesBackWhatWasNeverPaid(t *testing.T) {
	in := evaluating()
	// The last tranche was never paid (cancelled in a change, say): its money is given back, not owed.
	last := &in.Milestones[len(in.Milestones)-1]
	last.TrancheStatus = domain.TrancheCancelled
	var unpaid domain.Money
	for _, l := range last.Tranche {
		unpaid += l.AmountØre
	}
	in.Evaluation = &domain.Evaluation{Summary: "Nået"}
	got, err := domain.ComputeCloseout(in)
	if err != nil {
		t.Fatal(err)
	}
	var back domain.Money
	for _, l := range got {
		back += l.UnreservedØre
	}
	if back != unpaid || unpaid == 0 {
		t.Fatalf("given back %s, want the unpaid tranche's %s", back, unpaid)
	}
}

func TestCloseoutWaitsForAReleasedTranche(t *testing.T) {
	in := evaluating()
	in.Milestones[len(in.Milestones)-1].TrancheStatus = domain.TrancheReleased
	in.Evaluation = &domain.Evaluation{Summary: "Nået"}
	_, err := domain.ComputeCloseout(in)
	if got := outcomeOf(t, err); got.Code != domain.CodeConflict {
		t.Fatalf("got %+v (%v), want a conflict: the released tranche must be paid first", got, err)
	}
}

func TestEvaluationSpendIsChecked(t *testing.T) {
	in := evaluating()
	b := budgetOf(in)
	results := []domain.GoalResult{{GoalID: in.Proposal.Goals[0].ID, Achieved: true, Result: "Nået"}}
	check := func(spend []domain.SourceAmount) outcome {
		return outcomeOf(t, domain.CheckSubmitEvaluation(in, mette, "Resumé", results, spend))
	}
	for _, c := range []struct {
		name  string
		spend []domain.SourceAmount
		want  outcome
	}{
		{"absent_accepted", nil, outcome{}},
		{"all_spent_accepted", lines("lbf", b["lbf"], "viborg-kommune", b["viborg-kommune"]), outcome{}},
		{"nothing_spent_accepted", lines("lbf", 0, "viborg-kommune", 0), outcome{}},
		{"one_øre_over_paid_refused", lines("lbf", b["lbf"]+1, "viborg-kommune", 0), invalid("spend[0].amount_ore", "exceeds_paid")},
		{"negative_refused", lines("lbf", -1, "viborg-kommune", 0), invalid("spend[0].amount_ore", "negative")},
		{"unknown_source_refused", lines("lbf", 0, "viborg-kommune", 0, "boligselskaberne", 0), invalid("spend[2].source_id", "unknown")},
		{"duplicate_refused", lines("lbf", 0, "lbf", 0, "viborg-kommune", 0), invalid("spend[1].source_id", "duplicate")},
		{"missing_source_refused", lines("lbf", 0), invalid("spend", "source_missing")},
	} {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, check(c.spend)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
