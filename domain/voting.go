package domain

import (
	"fmt"
	"strings"
)

// QuorumRule says when the board is quorate (beslutningsdygtig).
type QuorumRule string

// Quorum rules.
const (
	// QuorumMajorityOfEntitled: more than half of the members entitled to vote have voted. Members with a conflict
	// of interest and the proposer are not entitled and do not count. The default.
	QuorumMajorityOfEntitled QuorumRule = "majority_of_entitled"
)

// DecisionRule says which outcome the votes of a quorate board decide.
type DecisionRule string

// Decision rules.
const (
	// DecisionMajorityChairCasts: an outcome wins with more than half of the votes cast. Without one, the chair's
	// vote decides between the outcomes tied for most votes. Otherwise — a plurality without majority (2-1-1), or a
	// tie the chair did not vote in — the proposal goes back with request_changes: nobody has a mandate to approve
	// or reject, and sending it back is the one outcome that can be undone by a new round. The default.
	DecisionMajorityChairCasts DecisionRule = "majority_chair_casts"
)

// BoardRules is what a tally needs to know about the board for one matter: who sits on it, who chairs it, its
// rules, and who has declared a conflict of interest (inhabilitet) on this matter. Empty rules mean the defaults.
type BoardRules struct {
	Members   []string     // user IDs of the board members
	Chair     string       // user ID of the chair, one of Members; empty means no casting vote
	Quorum    QuorumRule   // empty means QuorumMajorityOfEntitled
	Decision  DecisionRule // empty means DecisionMajorityChairCasts
	Conflicts []string     // members with a conflict of interest on this matter; non-members are ignored
}

// Vote is one member's vote in one round.
type Vote struct {
	MemberID string
	Outcome  Outcome
}

// DecisionBasis says which part of the decision rule settled a decision, for the record and the explanation.
type DecisionBasis string

// Decision bases.
const (
	BasisMajority         DecisionBasis = "majority"           // more than half of the votes cast
	BasisChairCastingVote DecisionBasis = "chair_casting_vote" // a tie broken by the chair's vote
	BasisNoMajority       DecisionBasis = "no_majority"        // no majority and no casting vote: request_changes
)

// TallyResult is the state of a round of votes: the counts, and the decision once the rules settle it.
type TallyResult struct {
	Decided      bool
	Outcome      Outcome       // empty until Decided
	Basis        DecisionBasis // empty until Decided
	Early        bool          // decided before every entitled member voted, because the rest cannot change it
	Counts       map[Outcome]int
	Entitled     int      // members entitled to vote
	Voted        int      // entitled members who have voted
	QuorumNeeded int      // votes needed for the board to be quorate
	Recused      []string // members not entitled: conflict of interest, or the proposer
	Explanation  string   // Danish, for the initiative's events and the pages
}

// outcomes in the order counts are kept and reported.
var outcomes = [3]Outcome{OutcomeApprove, OutcomeReject, OutcomeRequestChanges}

func outcomeIndex(o Outcome) int {
	for i, x := range outcomes {
		if x == o {
			return i
		}
	}
	return -1
}

// Tally counts the votes of an open round, in the order they were cast, and says whether they decide it. A round is
// decided the moment no way the remaining entitled members could vote — or not vote — would lead to a different
// decision: with three members, two approvals decide at once. Until then the result is open.
//
// It refuses, with a *RuleError, a vote from a non-member (CodeForbidden), from a member with a conflict of interest
// or from the proposer (CodeForbidden), a second vote by the same member (CodeConflict), a vote cast after the round
// was decided (CodeConflict) and an unknown outcome (CodeValidation). Invalid rules are CodeValidation.
func Tally(rules BoardRules, proposerID string, votes []Vote) (TallyResult, error) {
	return tally(rules, proposerID, votes, false)
}

// TallyClosed counts the votes of a round that is over — the votes taken at a board meeting, where members who
// did not vote are absent. The same quorum and decision rules apply; a round that is not quorate is not decided.
// It refuses the same votes as Tally, except that order does not matter: a meeting's votes count together.
func TallyClosed(rules BoardRules, proposerID string, votes []Vote) (TallyResult, error) {
	return tally(rules, proposerID, votes, true)
}

// CheckVote says whether v may be added to the open round in which cast have already been counted. It is the
// validator for casting a vote: the reason it gives is the one the member sees.
func CheckVote(rules BoardRules, proposerID string, cast []Vote, v Vote) error {
	all := make([]Vote, 0, len(cast)+1)
	_, err := Tally(rules, proposerID, append(append(all, cast...), v))
	return err
}

type ballotBox struct {
	members   map[string]bool
	recused   map[string]string // member -> why they may not vote
	recusedIn []string
	chair     string // empty when there is no chair or the chair may not vote
	entitled  int
}

func newBallotBox(rules BoardRules, proposerID string) (*ballotBox, error) {
	if rules.Quorum != "" && rules.Quorum != QuorumMajorityOfEntitled {
		return nil, Refuse(CodeValidation, "Ukendt regel for beslutningsdygtighed: %q.", rules.Quorum)
	}
	if rules.Decision != "" && rules.Decision != DecisionMajorityChairCasts {
		return nil, Refuse(CodeValidation, "Ukendt beslutningsregel: %q.", rules.Decision)
	}
	if len(rules.Members) == 0 {
		return nil, Refuse(CodeValidation, "Bestyrelsen har ingen medlemmer.")
	}
	b := &ballotBox{members: map[string]bool{}, recused: map[string]string{}}
	for _, m := range rules.Members {
		if strings.TrimSpace(m) == "" {
			return nil, Refuse(CodeValidation, "Et bestyrelsesmedlem mangler bruger-id.")
		}
		if b.members[m] {
			return nil, Refuse(CodeValidation, "%s står to gange på listen over bestyrelsesmedlemmer.", m)
		}
		b.members[m] = true
	}
	if rules.Chair != "" && !b.members[rules.Chair] {
		return nil, Refuse(CodeValidation, "Formanden %s er ikke medlem af bestyrelsen.", rules.Chair)
	}
	for _, c := range rules.Conflicts {
		if b.members[c] {
			b.recused[c] = fmt.Sprintf("%s har erklæret sig inhabil i sagen og kan ikke stemme.", c)
		}
	}
	if b.members[proposerID] {
		b.recused[proposerID] = fmt.Sprintf("%s har stillet forslaget og kan ikke stemme om det.", proposerID)
	}
	for _, m := range rules.Members {
		if _, ok := b.recused[m]; ok {
			b.recusedIn = append(b.recusedIn, m)
		}
	}
	b.entitled = len(rules.Members) - len(b.recusedIn)
	if _, ok := b.recused[rules.Chair]; !ok {
		b.chair = rules.Chair
	}
	return b, nil
}

// round is the counted state of a round.
type round struct {
	counts    [3]int
	voted     int
	chairVote Outcome // empty while the chair has not voted
}

func tally(rules BoardRules, proposerID string, votes []Vote, closed bool) (TallyResult, error) {
	box, err := newBallotBox(rules, proposerID)
	if err != nil {
		return TallyResult{}, err
	}
	var r round
	seen := map[string]bool{}
	decided, outcome := false, Outcome("")
	for _, v := range votes {
		switch {
		case !box.members[v.MemberID]:
			return TallyResult{}, Refuse(CodeForbidden, "%s er ikke medlem af bestyrelsen og kan ikke stemme.",
				v.MemberID)
		case box.recused[v.MemberID] != "":
			return TallyResult{}, Refuse(CodeForbidden, "%s", box.recused[v.MemberID])
		case seen[v.MemberID]:
			return TallyResult{}, Refuse(CodeConflict, "%s har allerede stemt i denne runde.", v.MemberID)
		case decided && !closed:
			return TallyResult{}, Refuse(CodeConflict,
				"Afstemningen er allerede afgjort (%s); stemmen fra %s kan ikke registreres.", outcomeDanish(outcome), v.MemberID)
		case outcomeIndex(v.Outcome) < 0:
			return TallyResult{}, Refuse(CodeValidation, "Ukendt stemme %q; brug approve, reject eller request_changes.",
				v.Outcome)
		}
		seen[v.MemberID] = true
		r.counts[outcomeIndex(v.Outcome)]++
		r.voted++
		if v.MemberID == box.chair {
			r.chairVote = v.Outcome
		}
		if !closed {
			decided, outcome = box.settled(r)
		}
	}
	return box.result(r, closed), nil
}

// decide applies the quorum and decision rules to a round nobody else will vote in.
func (b *ballotBox) decide(r round) (bool, Outcome, DecisionBasis) {
	if b.entitled == 0 || 2*r.voted <= b.entitled {
		return false, "", ""
	}
	top := 0
	for i, n := range r.counts {
		if 2*n > r.voted {
			return true, outcomes[i], BasisMajority
		}
		top = max(top, n)
	}
	tied := 0
	for _, n := range r.counts {
		if n == top {
			tied++
		}
	}
	if c := outcomeIndex(r.chairVote); tied >= 2 && c >= 0 && r.counts[c] == top {
		return true, r.chairVote, BasisChairCastingVote
	}
	return true, OutcomeRequestChanges, BasisNoMajority
}

// settled reports whether every way the entitled members who have not voted could still vote or abstain leads to
// the same decision. Only the counts and the chair's vote matter, so it enumerates counts, not members: a board of
// n has O(n³) cases.
func (b *ballotBox) settled(r round) (bool, Outcome) {
	remaining := b.entitled - r.voted
	chairOpen := b.chair != "" && r.chairVote == ""
	chairChoices := []Outcome{r.chairVote}
	if chairOpen {
		chairChoices = []Outcome{"", OutcomeApprove, OutcomeReject, OutcomeRequestChanges}
		remaining-- // the chair is one of them, enumerated separately
	}
	var first Outcome
	for _, cv := range chairChoices {
		base := r
		if chairOpen && cv != "" {
			base.counts[outcomeIndex(cv)]++
			base.voted++
			base.chairVote = cv
		}
		for a := 0; a <= remaining; a++ {
			for j := 0; a+j <= remaining; j++ {
				for k := 0; a+j+k <= remaining; k++ {
					c := base
					c.counts[0] += a
					c.counts[1] += j
					c.counts[2] += k
					c.voted += a + j + k
					ok, o, _ := b.decide(c)
					if !ok || (first != "" && o != first) {
						return false, ""
					}
					first = o
				}
			}
		}
	}
	return true, first
}

func (b *ballotBox) result(r round, closed bool) TallyResult {
	res := TallyResult{
		Counts:       map[Outcome]int{},
		Entitled:     b.entitled,
		Voted:        r.voted,
		QuorumNeeded: b.entitled/2 + 1,
		Recused:      b.recusedIn,
	}
	for i, o := range outcomes {
		res.Counts[o] = r.counts[i]
	}
	counts := fmt.Sprintf("%d for godkendelse, %d for afvisning, %d for ændringer", r.counts[0], r.counts[1], r.counts[2])
	if b.entitled == 0 {
		res.Explanation = "Ingen bestyrelsesmedlemmer kan stemme i sagen (inhabilitet eller forslagsstiller); " +
			"den kan ikke afgøres ved afstemning."
		return res
	}
	decided := true
	if !closed {
		decided, _ = b.settled(r)
	}
	ok, outcome, basis := b.decide(r)
	if !decided || !ok {
		if closed {
			res.Explanation = fmt.Sprintf("Bestyrelsen er ikke beslutningsdygtig: %d af %d stemmeberettigede har stemt, "+
				"og der kræves mindst %d.", r.voted, b.entitled, res.QuorumNeeded)
		} else {
			res.Explanation = fmt.Sprintf("Afstemningen er åben: %d af %d stemmeberettigede har stemt (%s); "+
				"der kræves mindst %d stemmer for at være beslutningsdygtig.", r.voted, b.entitled, counts, res.QuorumNeeded)
		}
		return res
	}
	// An early decision is the decision of the round as it stands: that case is among those settled() checked.
	res.Decided, res.Outcome, res.Basis = true, outcome, basis
	res.Early = r.voted < b.entitled && !closed
	switch basis {
	case BasisMajority:
		res.Explanation = fmt.Sprintf("%s med %d af %d afgivne stemmer (%s).",
			capitalize(outcomeDanish(outcome)), r.counts[outcomeIndex(outcome)], r.voted, counts)
	case BasisChairCastingVote:
		res.Explanation = fmt.Sprintf("Stemmelighed (%s); formandens stemme er afgørende: %s.",
			counts, outcomeDanish(outcome))
	case BasisNoMajority:
		res.Explanation = fmt.Sprintf("Intet udfald fik flertal af de afgivne stemmer (%s), og formandens stemme "+
			"kunne ikke afgøre det; forslaget sendes derfor tilbage med ønske om ændringer.", counts)
	}
	switch missing := b.entitled - r.voted; {
	case res.Early && missing == 1:
		res.Explanation += " Den manglende stemme kan ikke ændre udfaldet."
	case res.Early:
		res.Explanation += fmt.Sprintf(" De %d manglende stemmer kan ikke ændre udfaldet.", missing)
	}
	return res
}

func outcomeDanish(o Outcome) string {
	switch o {
	case OutcomeApprove:
		return "godkendt"
	case OutcomeReject:
		return "afvist"
	case OutcomeRequestChanges:
		return "sendt tilbage med ønske om ændringer"
	}
	return string(o)
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
