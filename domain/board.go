package domain

// MatterKind is a kind of thing the board decides. Each kind is either voted on by the board or taken by the chair
// alone, as the board's rules say (Board.ChairAlone).
type MatterKind string

// Matter kinds.
const (
	MatterProposal     MatterKind = "proposal"     // a proposal (each revision is a new round)
	MatterMilestone    MatterKind = "milestone"    // accepting or sending back a milestone report
	MatterEvaluation   MatterKind = "evaluation"   // accepting or sending back the evaluation
	MatterChange       MatterKind = "change"       // a change to an approved initiative
	MatterCancellation MatterKind = "cancellation" // cancelling an approved initiative
)

// MatterKinds lists every matter kind.
var MatterKinds = []MatterKind{MatterProposal, MatterMilestone, MatterEvaluation, MatterChange, MatterCancellation}

// Valid reports whether k is a known matter kind.
func (k MatterKind) Valid() bool {
	for _, x := range MatterKinds {
		if k == x {
			return true
		}
	}
	return false
}

// DanishName is the matter kind as users say it.
func (k MatterKind) DanishName() string {
	switch k {
	case MatterProposal:
		return "forslag"
	case MatterMilestone:
		return "milepælsrapporter"
	case MatterEvaluation:
		return "evalueringer"
	case MatterChange:
		return "ændringer"
	case MatterCancellation:
		return "annullering"
	}
	return string(k)
}

// DefaultChairAlone is what the chair decides alone when the board's rules do not say: accepting milestone
// reports, as the example and most boards' forretningsorden have it.
var DefaultChairAlone = []MatterKind{MatterMilestone}

// Board is the board (bestyrelse) as plan data: who sits on it, who chairs it, and its rules. Admin edits it; each
// edit is a new Version and the old ones are kept (store.BoardHistory). A plan without a board (nil, or no
// members) decides as before: the first outcome to reach Settings.BoardQuorum ballots.
type Board struct {
	Version  int          `json:"version"`
	Members  []string     `json:"members"` // user IDs; each has the board role in the plan
	Chair    string       `json:"chair"`   // user ID, one of Members; "" means no chair
	Quorum   QuorumRule   `json:"quorum"`  // "" means QuorumMajorityOfEntitled
	Decision DecisionRule `json:"decision"`
	// ChairAlone lists the matters the chair decides alone, without a vote. nil means DefaultChairAlone; an
	// empty, non-nil list means the board votes on everything.
	ChairAlone []MatterKind `json:"chair_alone"`
}

// Voting reports whether the board decides by the voting rules (Tally), rather than by the legacy quorum count.
func (b *Board) Voting() bool { return b != nil && len(b.Members) > 0 }

// ChairDecidesAlone reports whether the chair takes matters of kind k alone.
func (b *Board) ChairDecidesAlone(k MatterKind) bool {
	if b == nil || b.Chair == "" {
		return false
	}
	list := b.ChairAlone
	if list == nil {
		list = DefaultChairAlone
	}
	for _, x := range list {
		if x == k {
			return true
		}
	}
	return false
}

// IsMember reports whether the user sits on the board.
func (b *Board) IsMember(userID string) bool {
	if b == nil {
		return false
	}
	for _, m := range b.Members {
		if m == userID {
			return true
		}
	}
	return false
}

// Rules is the board as the tally needs it for one matter, with the members who declared a conflict on it.
func (b *Board) Rules(conflicts []string) BoardRules {
	return BoardRules{Members: b.Members, Chair: b.Chair, Quorum: b.Quorum, Decision: b.Decision, Conflicts: conflicts}
}

// Deadline defaults (business days) and reminder offsets, used when the plan's settings leave them zero.
const (
	DefaultBoardDecisionDays = 15 // a board decision, counted from submission (or from the matter's opening)
	DefaultPaymentDays       = 10 // paying a released tranche, counted from its release
	DefaultEvaluationDays    = 40 // the evaluation, counted from the acceptance of the last milestone
)

// DefaultReminderOffsets are the business days before a deadline at which whoever still has to act is reminded.
var DefaultReminderOffsets = []int{5, 1}

// Deadlines are the plan's deadline settings with the defaults filled in.
type Deadlines struct {
	BoardDecisionDays int
	PaymentDays       int
	EvaluationDays    int
	ReminderOffsets   []int // business days before the deadline, largest first
}

// Deadlines returns the settings' deadlines, defaults filled in.
func (s PlanSettings) Deadlines() Deadlines {
	d := Deadlines{BoardDecisionDays: s.BoardDecisionDays, PaymentDays: s.PaymentDays,
		EvaluationDays: s.EvaluationDays, ReminderOffsets: s.ReminderOffsets}
	if d.BoardDecisionDays <= 0 {
		d.BoardDecisionDays = DefaultBoardDecisionDays
	}
	if d.PaymentDays <= 0 {
		d.PaymentDays = DefaultPaymentDays
	}
	if d.EvaluationDays <= 0 {
		d.EvaluationDays = DefaultEvaluationDays
	}
	if d.ReminderOffsets == nil {
		d.ReminderOffsets = DefaultReminderOffsets
	}
	return d
}
