package domain_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
)

// Figures of the Viborg plan (seed/viborg-2021-2025.yaml), repeated here because domain may not import seed.
const (
	lbfCommitted       domain.Money = 1_370_900_000
	kommuneCommitted   domain.Money = 720_000_000
	selskaberCommitted domain.Money = 478_000_000
	planTotal                       = lbfCommitted + kommuneCommitted + selskaberCommitted
)

// viborg is the rules view of the Viborg plan: what ValidateProposal and the Check functions read.
func viborg() domain.Plan {
	return domain.Plan{
		ID: "viborg-2021-2025", Name: "Boligsocial helhedsplan Viborg 2021-2025",
		PeriodStart: domain.NewDate(2021, time.January, 1), PeriodEnd: domain.NewDate(2025, time.December, 31),
		Settings: domain.PlanSettings{MinLocalCofinancingPermille: 250, BoardQuorum: 1},
		FundingSources: []domain.FundingSource{
			{ID: "lbf", Name: "Landsbyggefonden", Kind: domain.SourceCash, CommittedØre: lbfCommitted},
			{ID: "viborg-kommune", Name: "Viborg Kommune", Kind: domain.SourceCashAndInKind, Local: true, CommittedØre: kommuneCommitted},
			{ID: "boligselskaberne", Name: "Boligselskaberne", Kind: domain.SourceCash, Local: true, CommittedØre: selskaberCommitted},
		},
		Delaftaler: []domain.Delaftale{
			{ID: "uddannelse-og-livschancer", Name: "Uddannelse og livschancer"},
			{ID: "beskaeftigelse", Name: "Beskæftigelse"},
			{ID: "sammenhaengskraft-og-medborgerskab", Name: "Sammenhængskraft og medborgerskab"},
		},
		HousingAreas: []domain.HousingArea{
			{ID: "houlkaervaenget", Name: "Houlkærvænget", AssociationID: "boligselskabet-viborg"},
			{ID: "vestervang", Name: "Vestervang", AssociationID: "boligselskabet-viborg"},
			{ID: "ringparken", Name: "Ringparken", AssociationID: "boligselskabet-viborg"},
			{ID: "ellekonebakken", Name: "Ellekonebakken", AssociationID: "boligselskabet-sct-joergen"},
			{ID: "klostersvaenget", Name: "Klostersvænget", AssociationID: "boligselskabet-sct-joergen"},
		},
	}
}

func lines(kv ...any) []domain.SourceAmount {
	var out []domain.SourceAmount
	for i := 0; i < len(kv); i += 2 {
		out = append(out, domain.SourceAmount{SourceID: kv[i].(string), AmountØre: domain.Money(toInt64(kv[i+1]))})
	}
	return out
}

func toInt64(v any) int64 {
	switch v := v.(type) {
	case int:
		return int64(v)
	case int64:
		return v
	case domain.Money:
		return int64(v)
	}
	panic(fmt.Sprintf("amount of type %T", v))
}

// proposal is the README's walk-through proposal: 400.000 kr. in two tranches from two sources.
func proposal() *domain.Proposal {
	return withMoney(lines("lbf", 30_000_000, "viborg-kommune", 10_000_000),
		lines("lbf", 15_000_000, "viborg-kommune", 5_000_000),
		lines("lbf", 15_000_000, "viborg-kommune", 5_000_000))
}

// withMoney is the walk-through proposal with another budget and one milestone per tranche.
func withMoney(budget []domain.SourceAmount, tranches ...[]domain.SourceAmount) *domain.Proposal {
	p := &domain.Proposal{
		Title:          "Lektiecafé i Houlkærvænget",
		Description:    "Lektiehjælp to gange om ugen og forældremøder.",
		DelaftaleID:    "uddannelse-og-livschancer",
		HousingAreaIDs: []string{"houlkaervaenget"},
		TargetGroup:    "Børn i 4.-9. klasse og deres forældre",
		Goals:          []domain.Goal{{Description: "Bedre karakterer", SuccessCriterion: "Gennemsnit i dansk og matematik +0,5"}},
		Budget:         budget,
	}
	for i, t := range tranches {
		p.Milestones = append(p.Milestones, domain.MilestonePlan{
			Title: fmt.Sprintf("Milepæl %d", i+1), DueDate: domain.NewDate(2022, time.January, 1+i), Tranche: t})
	}
	return p
}

var (
	mette = domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	ahmed = domain.Actor{UserID: "og-ahmed", Name: "Ahmed Hassan", Role: domain.RoleOperationalGroup}
	hanne = domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}
	peter = domain.Actor{UserID: "fin-peter", Name: "Peter Holm", Role: domain.RoleFinance}
	karen = domain.Actor{UserID: "adm-karen", Name: "Karen Iversen", Role: domain.RoleAdmin}
)

// initiative is the walk-through initiative, proposed by Mette, in the given phase with no progress yet.
func initiative(phase domain.Phase) *domain.Initiative {
	p := proposal()
	if err := domain.ValidateProposal(viborg(), p, nil); err != nil {
		panic(err)
	}
	return &domain.Initiative{ID: "i1", PlanID: "viborg-2021-2025", Phase: phase, Version: 1, Revision: 1,
		Proposer: mette, Proposal: *p, Milestones: domain.MilestonesFromPlan(p.Milestones)}
}

// executing is the walk-through initiative with tranche 1 paid and milestone 1 due for a report.
func executing() *domain.Initiative {
	in := initiative(domain.PhaseExecuting)
	in.Milestones[0].TrancheStatus = domain.TranchePaid
	in.Milestones[0].DisbursementID = domain.DisbursementID(in.ID, 1)
	in.Milestones[0].PaymentReference = "NETS-2022-0042"
	return in
}

// reported is executing with milestone 1 reported, waiting for the board.
func reported() *domain.Initiative {
	in := executing()
	in.Milestones[0].Report = &domain.Report{Summary: "Caféen er åben", SpentØre: 18_000_000, Actor: mette}
	return in
}

// evaluating is the initiative with every milestone accepted, waiting for the evaluation.
func evaluating() *domain.Initiative {
	in := initiative(domain.PhaseEvaluation)
	now := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range in.Milestones {
		in.Milestones[i].TrancheStatus = domain.TranchePaid
		in.Milestones[i].Report = &domain.Report{Summary: "Udført", SpentØre: 1, Actor: mette}
		in.Milestones[i].AcceptedBy, in.Milestones[i].AcceptedAt = &hanne, &now
	}
	return in
}

// problem is a field problem without its message, which tests need not pin down.
type problem struct{ Field, Code string }

// outcome is what a rule said, reduced to what tests compare: the code, and the field problems if any.
type outcome struct {
	Code     domain.Code
	Problems []problem
}

func outcomeOf(t *testing.T, err error) outcome {
	t.Helper()
	if err == nil {
		return outcome{}
	}
	var re *domain.RuleError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not a *domain.RuleError", err)
	}
	o := outcome{Code: re.Code}
	for _, p := range re.Problems {
		o.Problems = append(o.Problems, problem{p.Field, p.Code})
	}
	return o
}

// invalid is a CodeValidation outcome with these (field, code) problems.
func invalid(fieldCode ...string) outcome {
	o := outcome{Code: domain.CodeValidation}
	for i := 0; i < len(fieldCode); i += 2 {
		o.Problems = append(o.Problems, problem{fieldCode[i], fieldCode[i+1]})
	}
	return o
}
