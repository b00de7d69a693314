package domain_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
)

// largestPlan is a plan with the most funding sources and housing areas a proposal may name, each with a 64-character
// ID (IDs are the plan's data, not the user's; 64 is generous), and commitments adding up to MaxMoney.
func largestPlan() domain.Plan {
	p := viborg()
	id := func(prefix string, i int) string { return fmt.Sprintf("%s-%0*d", prefix, 63-len(prefix), i) }
	p.FundingSources = nil
	for i := range domain.MaxSourceLines {
		p.FundingSources = append(p.FundingSources, domain.FundingSource{ID: id("kilde", i), Name: id("kilde", i),
			CommittedØre: domain.MaxMoney / domain.MaxSourceLines})
	}
	p.HousingAreas = nil
	for i := range domain.MaxHousingAreas {
		p.HousingAreas = append(p.HousingAreas, domain.HousingArea{ID: id("omraade", i)})
	}
	p.Delaftaler = append(p.Delaftaler, domain.Delaftale{ID: id("delaftale", 0)})
	return p
}

// largestProposal fills every field of a proposal to its limit with the character c.
func largestProposal(plan domain.Plan, c string) *domain.Proposal {
	s := strings.Repeat
	p := &domain.Proposal{
		Title:       s(c, domain.MaxTitleLen),
		Description: s(c, domain.MaxTextLen),
		DelaftaleID: plan.Delaftaler[len(plan.Delaftaler)-1].ID,
		TargetGroup: s(c, domain.MaxTextLen),
	}
	for _, a := range plan.HousingAreas[:domain.MaxHousingAreas] {
		p.HousingAreaIDs = append(p.HousingAreaIDs, a.ID)
	}
	for i := range domain.MaxGoals {
		p.Goals = append(p.Goals, domain.Goal{ID: fmt.Sprintf("%0*d", domain.MaxGoalIDLen, i),
			Description: s(c, domain.MaxGoalTextLen), SuccessCriterion: s(c, domain.MaxGoalTextLen)})
	}
	var tranche []domain.SourceAmount
	for _, src := range plan.FundingSources[:domain.MaxSourceLines] {
		p.Budget = append(p.Budget, domain.SourceAmount{SourceID: src.ID, AmountØre: src.CommittedØre})
		tranche = append(tranche, domain.SourceAmount{SourceID: src.ID, AmountØre: src.CommittedØre / domain.MaxMilestones})
	}
	for i := range domain.MaxMilestones {
		p.Milestones = append(p.Milestones, domain.MilestonePlan{Title: s(c, domain.MaxTitleLen),
			DueDate: domain.NewDate(2025, time.December, 31), Tranche: tranche})
		_ = i
	}
	return p
}

// TestLargestProposalSize builds the largest proposal the limits allow and measures its JSON, which is what Temporal
// stores as the start input and again as every resubmit's input. With 3-byte runes (the largest UTF-8 a character of
// ordinary text takes) it must stay below 512 KiB, a quarter of Temporal's 2 MB payload limit.
func TestLargestProposalSize(t *testing.T) {
	plan := largestPlan()
	if plan.FundingSources[0].CommittedØre%domain.MaxMilestones != 0 {
		t.Fatal("a source's commitment must split evenly into the tranches")
	}
	const limit = 512 << 10
	tests := []struct {
		name  string
		char  string
		limit int
	}{
		// "€" is 3 bytes in UTF-8 and written as is by encoding/json.
		{name: "three_byte_runes_below_512_KiB", char: "€", limit: limit},
		// encoding/json (and so Temporal's JSON payload converter) writes '<', '>', '&', U+2028 and U+2029 as a
		// 6-byte \uXXXX escape: the true worst case per character. It must stay below 1 MiB, half the payload limit.
		{name: "six_byte_escapes_below_1_MiB", char: "<", limit: 1 << 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := largestProposal(plan, tt.char)
			if err := domain.ValidateProposal(plan, p, nil); err != nil {
				t.Fatalf("the largest proposal must be a valid one: %v", err)
			}
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("largest proposal with %q: %d bytes of JSON (%.1f KiB); limit %d KiB", tt.char, len(b), float64(len(b))/1024, tt.limit>>10)
			if len(b) >= tt.limit {
				t.Errorf("largest proposal is %d bytes of JSON, want below %d", len(b), tt.limit)
			}
		})
	}
}
