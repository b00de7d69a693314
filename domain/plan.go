package domain

import (
	"math"
	"math/big"
)

// Plan is one boligsocial helhedsplan: a four-year period, the board's vision, the money pledged by each funding
// source, the delaftaler (focus areas) and the housing areas it covers.
type Plan struct {
	ID                  string               `json:"id" yaml:"id"`
	Name                string               `json:"name" yaml:"name"`
	Municipality        string               `json:"municipality" yaml:"municipality"`
	PeriodStart         Date                 `json:"period_start" yaml:"period_start"`
	PeriodEnd           Date                 `json:"period_end" yaml:"period_end"`
	Vision              string               `json:"vision" yaml:"vision"`
	Settings            PlanSettings         `json:"settings" yaml:"settings"`
	FundingSources      []FundingSource      `json:"funding_sources" yaml:"funding_sources"`
	Delaftaler          []Delaftale          `json:"delaftaler" yaml:"delaftaler"`
	HousingAssociations []HousingAssociation `json:"housing_associations" yaml:"housing_associations"`
	HousingAreas        []HousingArea        `json:"housing_areas" yaml:"housing_areas"`
	// Board is the board's current composition and rules (plan data with history, see Board); nil when the plan
	// has none recorded.
	Board *Board `json:"board,omitempty" yaml:"-"`
}

// PlanSettings are the plan's rules that the sources call unconfirmed or that differ between plans. They are data,
// not constants, so the secretariat can change them without a release.
type PlanSettings struct {
	// MinLocalCofinancingPermille is LBF's minimum local co-financing share, in per mille (250 = 25 %).
	MinLocalCofinancingPermille int64 `json:"min_local_cofinancing_permille" yaml:"min_local_cofinancing_permille"`
	// BoardQuorum is how many board ballots decide a proposal. 1 today; quorum voting raises it.
	BoardQuorum int `json:"board_quorum" yaml:"board_quorum"`
	// ReallocationThresholdØre is the budget reallocation an initiative may make without board approval
	// (unconfirmed in the sources; 0 means every reallocation needs approval).
	ReallocationThresholdØre Money `json:"reallocation_threshold_ore" yaml:"reallocation_threshold_ore"`
	// StrategicChangeØre marks a change as strategic when it moves at least this much money: it then needs
	// Landsbyggefonden's approval after the board's (0: no change is strategic by amount).
	StrategicChangeØre Money `json:"strategic_change_ore,omitempty" yaml:"strategic_change_ore,omitempty"`
	// BoardDecisionDays is the deadline, in Danish business days after submission, for the board's decision on a
	// proposal (0: DefaultBoardDecisionDays).
	BoardDecisionDays int `json:"board_decision_days,omitempty" yaml:"board_decision_days,omitempty"`
	// PaymentDays is the deadline, in business days after release, for paying a tranche (0: DefaultPaymentDays).
	PaymentDays int `json:"payment_days,omitempty" yaml:"payment_days,omitempty"`
	// EvaluationDays is the deadline, in business days after the last milestone is accepted, for the evaluation
	// (0: DefaultEvaluationDays).
	EvaluationDays int `json:"evaluation_days,omitempty" yaml:"evaluation_days,omitempty"`
	// ReminderOffsets are the business days before a deadline at which reminders go out (nil:
	// DefaultReminderOffsets; empty: no reminders, only the escalation at the deadline).
	ReminderOffsets []int `json:"reminder_offsets" yaml:"reminder_offsets,omitempty"`
	// FinanceLead is the user ID payments escalate to at their deadline ("": every finance member of the plan).
	FinanceLead string `json:"finance_lead,omitempty" yaml:"finance_lead,omitempty"`
}

// FundingSourceKind says how a source contributes.
type FundingSourceKind string

// Funding source kinds.
const (
	SourceCash          FundingSourceKind = "cash"             // kontant
	SourceCashAndInKind FundingSourceKind = "cash_and_in_kind" // kontant og ressourcer
	SourceInKind        FundingSourceKind = "in_kind"          // ressourcer
)

// FundingSource is one financier of the plan and the amount it has pledged (committed) over the whole period.
type FundingSource struct {
	ID           string            `json:"id" yaml:"id"`
	Name         string            `json:"name" yaml:"name"`
	Kind         FundingSourceKind `json:"kind" yaml:"kind"`
	Local        bool              `json:"local" yaml:"local"` // counts as local co-financing (medfinansiering)
	CommittedØre Money             `json:"committed_ore" yaml:"committed_ore"`
	Note         string            `json:"note,omitempty" yaml:"note,omitempty"`
}

// Delaftale is a sub-agreement for one focus area (indsatsområde).
type Delaftale struct {
	ID          string `json:"id" yaml:"id"`
	Name        string `json:"name" yaml:"name"`
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
}

// HousingAssociation (boligselskab) owns housing areas. Residents counts the residents of its areas in the plan,
// as the plan states them (the seed gives one figure per association, not per area).
type HousingAssociation struct {
	ID        string `json:"id" yaml:"id"`
	Name      string `json:"name" yaml:"name"`
	Residents int    `json:"residents" yaml:"residents"`
}

// HousingArea (boligområde) is an area the plan covers.
type HousingArea struct {
	ID            string `json:"id" yaml:"id"`
	Name          string `json:"name" yaml:"name"`
	AssociationID string `json:"association_id" yaml:"association_id"`
}

// Rules returns the plan with only what the business rules read: period, settings, funding sources, delaftale and
// housing area IDs. Workflows carry it in their input and memory, so the prose (vision, descriptions, notes) stays
// out of every one of them.
func (p Plan) Rules() Plan {
	r := Plan{ID: p.ID, Name: p.Name, PeriodStart: p.PeriodStart, PeriodEnd: p.PeriodEnd, Settings: p.Settings,
		Board: p.Board}
	for _, s := range p.FundingSources {
		s.Note = ""
		r.FundingSources = append(r.FundingSources, s)
	}
	for _, d := range p.Delaftaler {
		r.Delaftaler = append(r.Delaftaler, Delaftale{ID: d.ID, Name: d.Name})
	}
	for _, a := range p.HousingAreas {
		r.HousingAreas = append(r.HousingAreas, HousingArea{ID: a.ID, Name: a.Name, AssociationID: a.AssociationID})
	}
	return r
}

// TotalCommitted is the sum pledged by all funding sources. A plan's committed amounts are each within
// [0, MaxMoney] and few, so the sum is exact; on a plan that breaks that it saturates instead of wrapping (see
// Total), and ValidateProposal never lets an amount above MaxMoney through whatever this returns.
func (p Plan) TotalCommitted() Money {
	var t saturating
	for _, s := range p.FundingSources {
		t.add(s.CommittedØre)
	}
	return t.sum
}

// LocalCofinancingPermille is the local share of the total budget in per mille, rounded down.
func (p Plan) LocalCofinancingPermille() int64 {
	// Exact arithmetic: local*1000 overflows int64 once local passes about 9.2 * 10^15 øre, and a saturated sum
	// would give a wrong share rather than no share.
	total, local := new(big.Int), new(big.Int)
	for _, s := range p.FundingSources {
		v := big.NewInt(int64(s.CommittedØre))
		total.Add(total, v)
		if s.Local {
			local.Add(local, v)
		}
	}
	if total.Sign() <= 0 {
		return 0
	}
	// Div rounds towards minus infinity for a positive divisor: "rounded down" also for a negative share.
	q := new(big.Int).Div(local.Mul(local, big.NewInt(1000)), total)
	switch {
	case q.IsInt64():
		return q.Int64()
	case q.Sign() > 0:
		return math.MaxInt64
	default:
		return math.MinInt64
	}
}

// Source returns the funding source with the given ID.
func (p Plan) Source(id string) (FundingSource, bool) {
	for _, s := range p.FundingSources {
		if s.ID == id {
			return s, true
		}
	}
	return FundingSource{}, false
}

// HasDelaftale reports whether the plan has the delaftale.
func (p Plan) HasDelaftale(id string) bool {
	for _, d := range p.Delaftaler {
		if d.ID == id {
			return true
		}
	}
	return false
}

// HasHousingArea reports whether the plan covers the housing area.
func (p Plan) HasHousingArea(id string) bool {
	for _, a := range p.HousingAreas {
		if a.ID == id {
			return true
		}
	}
	return false
}
