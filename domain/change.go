package domain

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// ChangeStatus is where a change request (ændringsanmodning) is.
type ChangeStatus string

// Change statuses.
const (
	ChangeVoting      ChangeStatus = "voting"       // waiting for the board (or the chair)
	ChangeAwaitingLBF ChangeStatus = "awaiting_lbf" // approved by the board; strategic, so Landsbyggefonden must approve
	ChangeApplied     ChangeStatus = "applied"      // in force: the initiative and its reservation follow it
	ChangeRejected    ChangeStatus = "rejected"     // the board said no (or asked for another request)
	ChangeLBFRefused  ChangeStatus = "lbf_refused"  // Landsbyggefonden said no
)

// DanishName is the status as users see it.
func (s ChangeStatus) DanishName() string {
	switch s {
	case ChangeVoting:
		return "til behandling i bestyrelsen"
	case ChangeAwaitingLBF:
		return "afventer Landsbyggefonden"
	case ChangeApplied:
		return "gennemført"
	case ChangeRejected:
		return "afvist"
	case ChangeLBFRefused:
		return "afvist af Landsbyggefonden"
	}
	return string(s)
}

// LBFApproval is Landsbyggefonden's answer to a strategic change, as the secretariat recorded it from the letter.
type LBFApproval struct {
	Approved   bool      `json:"approved"`
	LetterDate Date      `json:"letter_date"`
	Reference  string    `json:"reference"` // the letter's journal number
	RecordedBy Actor     `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
}

// Change is a requested change to an approved initiative: the budget and milestone plan it asks for.
type Change struct {
	No          int             `json:"no"`
	Reason      string          `json:"reason"`
	RequestedBy Actor           `json:"requested_by"`
	RequestedAt time.Time       `json:"requested_at"`
	Budget      []SourceAmount  `json:"budget"`     // the budget after the change
	Milestones  []MilestonePlan `json:"milestones"` // the milestone plan after the change
	// MovedØre is the money the change moves: the larger of what it adds and what it takes away, over every
	// milestone and source.
	MovedØre Money `json:"moved_ore"`
	// Reserve and Unreserve are what the reservation does when the change takes effect, per source.
	Reserve   []SourceAmount `json:"reserve,omitempty"`
	Unreserve []SourceAmount `json:"unreserve,omitempty"`
	// ChairAlone is set when the change moves less than the plan's reallocation threshold: the chair decides it.
	ChairAlone bool `json:"chair_alone,omitempty"`
	// Strategic is set when the change needs Landsbyggefonden's approval too (Settings.StrategicChangeØre).
	Strategic bool         `json:"strategic,omitempty"`
	Status    ChangeStatus `json:"status"`
	DecidedAt *time.Time   `json:"decided_at,omitempty"`
	AppliedAt *time.Time   `json:"applied_at,omitempty"`
	LBF       *LBFApproval `json:"lbf,omitempty"`
}

// ApprovedVersion is one approved version of the initiative's budget and milestone plan: the proposal as the
// board approved it (ChangeNo 0), then each change that took effect.
type ApprovedVersion struct {
	Version    int             `json:"version"`
	ChangeNo   int             `json:"change_no,omitempty"`
	Budget     []SourceAmount  `json:"budget"`
	Milestones []MilestonePlan `json:"milestones"`
	DecidedBy  []string        `json:"decided_by"` // the names of who decided: the voters, or the chair
	At         time.Time       `json:"at"`
}

// OpenChange is the change request not yet settled, or nil.
func (in *Initiative) OpenChange() *Change {
	for i := range in.Changes {
		if s := in.Changes[i].Status; s == ChangeVoting || s == ChangeAwaitingLBF {
			return &in.Changes[i]
		}
	}
	return nil
}

// CurrentPlan is the initiative's milestone plan as it stands.
func (in *Initiative) CurrentPlan() []MilestonePlan {
	out := make([]MilestonePlan, len(in.Milestones))
	for i, m := range in.Milestones {
		out[i] = MilestonePlan{Title: m.Title, DueDate: m.DueDate, Tranche: m.Tranche}
	}
	return out
}

func amountsBySource(lines []SourceAmount) map[string]Money {
	out := map[string]Money{}
	for _, l := range lines {
		out[l.SourceID] += l.AmountØre
	}
	return out
}

// CheckRequestChange checks a change request against the initiative and the plan and computes what it moves.
// Only the proposer or the secretariat may ask, while the initiative is under way and no other change is open.
// Milestones whose tranche is released or paid keep their title and tranche (and, once reported, their due
// date); everything after them may be moved, added or removed. available is what each source has left
// unreserved (nil skips that check; the reservation re-checks it under lock when the change takes effect).
func CheckRequestChange(in *Initiative, plan Plan, a Actor, reason string, budget []SourceAmount,
	milestones []MilestonePlan, available map[string]Money) (Change, error) {
	if a.Role != RoleAdmin && !(a.Role == RoleOperationalGroup && a.UserID == in.Proposer.UserID) {
		return Change{}, Refuse(CodeForbidden, "Kun forslagsstilleren eller sekretariatet kan anmode om en ændring.")
	}
	if in.Phase != PhaseFunding && in.Phase != PhaseExecuting {
		return Change{}, Refuse(CodeWrongPhase, "Indsatsen er %s; en ændring kan kun anmodes om, mens indsatsen er i gang.",
			in.Phase.DanishName())
	}
	if c := in.OpenChange(); c != nil {
		return Change{}, Refuse(CodeConflict, "Ændring %d er endnu ikke afgjort (%s).", c.No, c.Status.DanishName())
	}
	if in.Cancellation != nil && !in.Cancellation.Decided {
		return Change{}, Refuse(CodeConflict, "Bestyrelsen behandler et forslag om at annullere indsatsen.")
	}
	p := in.Proposal
	p.Budget, p.Milestones = budget, milestones
	var ps problems
	text(&ps, "reason", reason, MaxCommentLen, true)
	validateProposal(&ps, plan, &p, nil)
	for i := range in.Milestones {
		old := &in.Milestones[i]
		if old.TrancheStatus == TrancheScheduled {
			continue
		}
		f := fmt.Sprintf("milestones[%d]", i)
		if i >= len(milestones) {
			ps.add("milestones", "released_removed", "Milepæl %d (%s) kan ikke fjernes: dens rate er frigivet.", old.No, old.Title)
			continue
		}
		nm := milestones[i]
		if nm.Title != old.Title || !sameLines(nm.Tranche, old.Tranche) {
			ps.add(f, "released_changed", "Milepæl %d (%s) har fået sin rate frigivet; titel og rate kan ikke ændres.",
				old.No, old.Title)
		}
		if (old.Report != nil || old.AcceptedAt != nil) && nm.DueDate != old.DueDate {
			ps.add(f+".due_date", "reported_changed", "Milepæl %d er rapporteret; datoen kan ikke flyttes.", old.No)
		}
	}
	if err := ps.err("Ændringen kan ikke anmodes om."); err != nil {
		return Change{}, err
	}
	if sameLines(budget, in.Proposal.Budget) && samePlans(milestones, in.CurrentPlan()) {
		return Change{}, Refuse(CodeValidation, "Ændringen ændrer intet i forhold til den gældende version.")
	}

	oldB, newB := amountsBySource(in.Proposal.Budget), amountsBySource(budget)
	var reserve, unreserve []SourceAmount
	for _, s := range plan.FundingSources {
		switch d := newB[s.ID] - oldB[s.ID]; {
		case d > 0:
			reserve = append(reserve, SourceAmount{SourceID: s.ID, AmountØre: d})
			if available != nil && d > available[s.ID] {
				ps.add("budget", "insufficient_funds", "Ændringen søger %s mere fra %s, men kun %s er ikke reserveret.",
					d, s.Name, available[s.ID])
			}
		case d < 0:
			unreserve = append(unreserve, SourceAmount{SourceID: s.ID, AmountØre: -d})
		}
	}
	if err := ps.err("Der er ikke penge nok til ændringen."); err != nil {
		if rule, ok := err.(*RuleError); ok {
			rule.Code = CodeInsufficientFunds
		}
		return Change{}, err
	}
	// Money moved: per (milestone, source) cell, the larger of the sum of increases and of decreases. All
	// amounts were bounded by validateProposal, and there are at most MaxMilestones x MaxSourceLines cells.
	var up, down Money
	n := max(len(milestones), len(in.Milestones))
	for i := 0; i < n; i++ {
		var o, nw map[string]Money
		if i < len(in.Milestones) {
			o = amountsBySource(in.Milestones[i].Tranche)
		}
		if i < len(milestones) {
			nw = amountsBySource(milestones[i].Tranche)
		}
		for _, s := range plan.FundingSources {
			switch d := nw[s.ID] - o[s.ID]; {
			case d > 0:
				up += d
			case d < 0:
				down -= d
			}
		}
	}
	moved := max(up, down)
	no := len(in.Changes) + 1
	c := Change{No: no, Reason: reason, RequestedBy: a, Budget: budget, Milestones: milestones, MovedØre: moved,
		Reserve: reserve, Unreserve: unreserve, Status: ChangeVoting,
		ChairAlone: moved < plan.Settings.ReallocationThresholdØre,
		Strategic:  plan.Settings.StrategicChangeØre > 0 && moved >= plan.Settings.StrategicChangeØre}
	return c, nil
}

func sameLines(a, b []SourceAmount) bool {
	x, y := amountsBySource(a), amountsBySource(b)
	if len(x) != len(y) {
		return false
	}
	for k, v := range x {
		if y[k] != v {
			return false
		}
	}
	return true
}

func samePlans(a, b []MilestonePlan) bool {
	return slices.EqualFunc(a, b, func(x, y MilestonePlan) bool {
		return x.Title == y.Title && x.DueDate == y.DueDate && sameLines(x.Tranche, y.Tranche)
	})
}

// ApplyChange returns the milestones after change c: released and paid milestones keep their state (with a moved
// due date), the rest are scheduled as the change plans them.
func ApplyChange(in *Initiative, c *Change) []Milestone {
	out := MilestonesFromPlan(c.Milestones)
	for i := range out {
		if i < len(in.Milestones) && in.Milestones[i].TrancheStatus != TrancheScheduled {
			kept := in.Milestones[i]
			kept.DueDate = c.Milestones[i].DueDate
			out[i] = kept
		}
	}
	return out
}

// CheckLBFApproval says whether admin may record Landsbyggefonden's answer to change no.
func CheckLBFApproval(in *Initiative, a Actor, no int, letter Date, reference string) error {
	if err := requireRole(a, RoleAdmin, "registrere Landsbyggefondens svar"); err != nil {
		return err
	}
	c := in.OpenChange()
	if c == nil || c.No != no {
		return Refuse(CodeNotFound, "Indsatsen har ingen åben ændring %d.", no)
	}
	if c.Status != ChangeAwaitingLBF {
		return Refuse(CodeConflict, "Ændring %d afventer ikke Landsbyggefonden (%s).", no, c.Status.DanishName())
	}
	var ps problems
	if letter.IsZero() {
		ps.add("letter_date", "required", "Angiv brevets dato (ÅÅÅÅ-MM-DD).")
	}
	text(&ps, "reference", reference, MaxTitleLen, true)
	return ps.err("Landsbyggefondens svar kan ikke registreres.")
}

// DecidedBy names who decided a round: the chair alone, or the members whose ballots are recorded.
func DecidedBy(ballots []Ballot) []string {
	out := make([]string, 0, len(ballots))
	for _, b := range ballots {
		name := b.Actor.Name
		if strings.TrimSpace(name) == "" {
			name = b.Actor.UserID
		}
		out = append(out, name)
	}
	return out
}
