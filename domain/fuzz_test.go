package domain_test

import (
	"math"
	"math/big"
	"testing"

	"github.com/helhedsplan/helhedsplan/domain"
)

// FuzzValidateProposal searches for amounts that wrap: a budget from two funding sources of the Viborg plan and
// three milestones with a tranche line per source, every amount fuzzed, each line present or not by a bit of mask.
// Computed exactly with math/big, whatever ValidateProposal accepts has every amount in (0, plan total], each
// source's tranches summing to its budget, and a budget total within the plan total; and whatever meets those rules
// (with each source within its commitment and no milestone empty) is accepted.
func FuzzValidateProposal(f *testing.F) {
	const maxI, minI = math.MaxInt64, math.MinInt64
	// Walk-through: 300.000 + 100.000 kr. in two tranches; the third milestone has no lines, so mask leaves it out.
	f.Add(uint8(0xff), int64(30_000_000), int64(10_000_000), int64(15_000_000), int64(5_000_000), int64(15_000_000), int64(5_000_000), int64(0), int64(0))
	f.Add(uint8(0b0011_1111), int64(30_000_000), int64(10_000_000), int64(15_000_000), int64(5_000_000), int64(15_000_000), int64(5_000_000), int64(0), int64(0))
	// Issue 5, Why 0: 10.000 kr. from LBF, tranches that wrap around int64 to exactly that.
	f.Add(uint8(0b0101_0101), int64(1_000_000), int64(0), int64(500_000_000), int64(0), int64(maxI), int64(0), int64(9223372036355775809), int64(0))
	f.Add(uint8(0xff), int64(1_000_000), int64(1), int64(500_000_000), int64(1), int64(maxI), int64(maxI), int64(9223372036355775809), int64(minI+1))
	f.Add(uint8(0xff), int64(maxI), int64(maxI), int64(maxI), int64(maxI), int64(maxI), int64(maxI), int64(maxI), int64(maxI))
	f.Add(uint8(0xff), int64(minI), int64(minI), int64(minI), int64(minI), int64(minI), int64(minI), int64(minI), int64(minI))
	f.Add(uint8(0xff), int64(-1), int64(-1), int64(-1), int64(0), int64(0), int64(-1), int64(1), int64(1))
	f.Add(uint8(0xff), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Add(uint8(0xff), int64(-2), int64(2), int64(-1), int64(1), int64(-1), int64(1), int64(0), int64(0))
	// Whole commitments of both sources, and one øre more.
	f.Add(uint8(0xff), int64(lbfCommitted), int64(kommuneCommitted), int64(lbfCommitted-2), int64(kommuneCommitted-2), int64(1), int64(1), int64(1), int64(1))
	f.Add(uint8(0xff), int64(lbfCommitted+1), int64(kommuneCommitted), int64(lbfCommitted-1), int64(kommuneCommitted-2), int64(1), int64(1), int64(1), int64(1))

	plan := viborg()
	sources := []string{"lbf", "viborg-kommune"}
	f.Fuzz(func(t *testing.T, mask uint8, b0, b1, t10, t11, t20, t21, t30, t31 int64) {
		amounts := [8]int64{b0, b1, t10, t11, t20, t21, t30, t31}
		present := func(i int) bool { return mask&(1<<i) != 0 }
		var budget []domain.SourceAmount
		for s := range 2 {
			if present(s) {
				budget = append(budget, domain.SourceAmount{SourceID: sources[s], AmountØre: domain.Money(amounts[s])})
			}
		}
		var tranches [][]domain.SourceAmount
		for m := range 3 {
			var tr []domain.SourceAmount
			for s := range 2 {
				if i := 2 + 2*m + s; present(i) {
					tr = append(tr, domain.SourceAmount{SourceID: sources[s], AmountØre: domain.Money(amounts[i])})
				}
			}
			if len(tr) > 0 || m < 2 { // an empty third milestone is left out, the first two stay even if empty
				tranches = append(tranches, tr)
			}
		}
		p := withMoney(budget, tranches...)
		err := domain.ValidateProposal(plan, p, nil)

		total := big.NewInt(int64(plan.TotalCommitted()))
		ok := exactlyRight(p, plan, total)
		if err == nil && ok != "" {
			t.Fatalf("accepted, but %s\nbudget %v\ntranches %v", ok, budget, tranches)
		}
		if err != nil && ok == "" {
			t.Fatalf("refused a proposal that is right in exact arithmetic: %v\nbudget %v\ntranches %v", err, budget, tranches)
		}
		if err == nil {
			// Validated lines are what Total is documented for: it must agree with the checked sum.
			s, serr := domain.Sum(p.Budget)
			if serr != nil || s != domain.Total(p.Budget) {
				t.Fatalf("Sum = %d, %v; Total = %d", s, serr, domain.Total(p.Budget))
			}
		}
	})
}

// exactlyRight says, computing with math/big, what is wrong with the proposal's money ("" when nothing is): every
// amount in (0, total], each budget source within its commitment, each milestone with a tranche, tranche sources in
// the budget, tranches summing to the budget per source, and the budget total within total.
func exactlyRight(p *domain.Proposal, plan domain.Plan, total *big.Int) string {
	zero := new(big.Int)
	inRange := func(a domain.Money) bool {
		v := big.NewInt(int64(a))
		return v.Cmp(zero) > 0 && v.Cmp(total) <= 0
	}
	if len(p.Budget) == 0 {
		return "the budget is empty"
	}
	budget := map[string]*big.Int{}
	budgetTotal := new(big.Int)
	for _, l := range p.Budget {
		src, _ := plan.Source(l.SourceID)
		if !inRange(l.AmountØre) {
			return "a budget amount is outside (0, plan total]"
		}
		if l.AmountØre > src.CommittedØre {
			return "a budget amount is above its source's commitment"
		}
		budget[l.SourceID] = big.NewInt(int64(l.AmountØre))
		budgetTotal.Add(budgetTotal, budget[l.SourceID])
	}
	if budgetTotal.Cmp(total) > 0 {
		return "the budget total is above the plan total"
	}
	sums := map[string]*big.Int{}
	for _, m := range p.Milestones {
		if len(m.Tranche) == 0 {
			return "a milestone has no tranche"
		}
		for _, l := range m.Tranche {
			if !inRange(l.AmountØre) {
				return "a tranche amount is outside (0, plan total]"
			}
			if budget[l.SourceID] == nil {
				return "a tranche names a source outside the budget"
			}
			if sums[l.SourceID] == nil {
				sums[l.SourceID] = new(big.Int)
			}
			sums[l.SourceID].Add(sums[l.SourceID], big.NewInt(int64(l.AmountØre)))
		}
	}
	for id, b := range budget {
		if sums[id] == nil || sums[id].Cmp(b) != 0 {
			return "the tranches of " + id + " do not sum exactly to its budget"
		}
	}
	return ""
}
