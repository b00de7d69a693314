package service

import (
	"errors"
	"fmt"
	"slices"

	"github.com/helhedsplan/helhedsplan/domain"
)

// calendar is the Danish business calendar deadlines are counted in. It is built once: it is immutable and safe
// for concurrent use.
var calendar = domain.DanishBusinessCalendar()

// OpenSteps lists the initiative's steps that wait for someone, each with its deadline under the plan's settings
// and the Danish business calendar (domain.OpenSteps). Whether a step is overdue depends on the day:
// step.Overdue(domain.LocalDate(now)).
func OpenSteps(in domain.Initiative, plan domain.Plan) []domain.OpenStep {
	return domain.OpenSteps(&in, plan, calendar)
}

// MemberStatus is where a board member stands in an open round.
type MemberStatus string

// Member statuses.
const (
	MemberMayVote      MemberStatus = "may_vote"      // entitled to vote and has not voted yet
	MemberVoted        MemberStatus = "voted"         // has voted in this round (Ballot)
	MemberRecused      MemberStatus = "recused"       // not entitled: a declared conflict, or the proposer (Recused)
	MemberChairDecides MemberStatus = "chair_decides" // the chair decides this matter alone; the others do not vote
	MemberNotOnBoard   MemberStatus = "not_on_board"  // the user is not a member of the board
)

// Why a member is recused.
const (
	RecusedConflict = "conflict" // declared a conflict of interest (inhabilitet) on the initiative
	RecusedProposer = "proposer" // proposed the initiative
)

// RoundMember is one board member in an open round.
type RoundMember struct {
	UserID string
	// Name is the member's name as the initiative records it (from their ballot or conflict); "" when the
	// initiative does not name them yet (the pages look it up).
	Name   string
	Chair  bool
	Status MemberStatus
	// Ballot is the member's vote in the round (MemberVoted, or a vote cast before they declared a conflict).
	Ballot *domain.Ballot
	// Recused is RecusedConflict or RecusedProposer for MemberRecused, and ConflictReason the reason the member
	// gave for the conflict.
	Recused        string
	ConflictReason string
	// Reason says in Danish why the member does not vote (recused, or the chair decides alone); "" otherwise.
	Reason string
}

// Round is one open matter of the board: the proposal's current revision, a milestone report, the evaluation or
// a cancellation, with who may vote, who voted what, who is recused and why, and what is needed to decide it.
type Round struct {
	Matter domain.MatterKind // proposal, milestone, evaluation, change, cancellation
	No     int               // the milestone, for MatterMilestone
	Change int               // the change request's number, for MatterChange
	Key    string            // domain.MatterKey of the round; "" for the proposal
	Step   domain.OpenStep   // the open step: title, since when, deadline
	// Voting is true when the plan's board decides by its voting rules (domain.Board.Voting); false for a plan
	// without a board, where the first outcome to reach Settings.BoardQuorum ballots decides.
	Voting bool
	// ChairAlone is true when the board's rules let the chair decide this matter alone, or, for a change, when it
	// moves less than the plan's reallocation threshold (domain.ChairAlone); Chair is the chair's user ID ("" without
	// a chair).
	ChairAlone bool
	Chair      string
	// QuorumNeeded is the number of votes that make the board quorate (Voting), or the number of equal ballots
	// that decide (legacy); 1 when the chair decides alone. Entitled counts the members who may vote.
	QuorumNeeded int
	Entitled     int
	// Ballots are the votes cast in this round, in order.
	Ballots []domain.Ballot
	// Members are the board's members in the board's order (Voting); without a board, those who voted or
	// declared a conflict.
	Members []RoundMember
	// Tally is the count of the votes so far under the board's rules (Voting, not ChairAlone).
	Tally domain.TallyResult
	// Explanation says in Danish where the round stands.
	Explanation string
}

// Member returns the round's entry for the user: the member as listed, or, for a user the list does not name,
// MemberMayVote for a board member without a board list (legacy: any board member votes) and MemberNotOnBoard
// otherwise. role is the user's role in the plan.
func (r Round) Member(userID string, role domain.Role) RoundMember {
	for _, m := range r.Members {
		if m.UserID == userID {
			return m
		}
	}
	if !r.Voting && role == domain.RoleBoard {
		return RoundMember{UserID: userID, Status: MemberMayVote}
	}
	return RoundMember{UserID: userID, Status: MemberNotOnBoard,
		Reason: "Du er ikke medlem af bestyrelsen og stemmer ikke i sagen."}
}

// OpenRounds lists the board's open rounds on the initiative, in the order of its open steps (domain.OpenSteps):
// the proposal, a change, a cancellation, a milestone report, the evaluation.
func OpenRounds(in domain.Initiative, plan domain.Plan) []Round {
	var rounds []Round
	for _, s := range OpenSteps(in, plan) {
		if s.Kind != domain.StepBoardDecision {
			continue
		}
		rounds = append(rounds, openRound(in, plan, s))
	}
	return rounds
}

// RoundOf returns the open round on matter (and milestone no, for a milestone report).
func RoundOf(rounds []Round, matter domain.MatterKind, no int) (Round, bool) {
	if matter == "" {
		matter = domain.MatterProposal
	}
	for _, r := range rounds {
		if r.Matter == matter && (matter != domain.MatterMilestone || r.No == no) {
			return r, true
		}
	}
	return Round{}, false
}

func openRound(in domain.Initiative, plan domain.Plan, s domain.OpenStep) Round {
	kind := domain.MatterKindOf(s.Matter)
	r := Round{Matter: kind, No: s.MilestoneNo, Key: s.Matter, Step: s, Voting: plan.Board.Voting()}
	if c := in.OpenChange(); kind == domain.MatterChange && c != nil {
		r.Change = c.No
	}
	for _, b := range in.Ballots {
		if b.Matter == r.Key && (kind != domain.MatterProposal || b.Revision == in.Revision) {
			r.Ballots = append(r.Ballots, b)
		}
	}
	conflicts := map[string]domain.Conflict{}
	for _, c := range in.Conflicts {
		conflicts[c.UserID] = c
	}
	ballotOf := func(userID string) *domain.Ballot {
		for i := range r.Ballots {
			if r.Ballots[i].Actor.UserID == userID {
				b := r.Ballots[i]
				return &b
			}
		}
		return nil
	}
	recuse := func(m *RoundMember) bool {
		if c, ok := conflicts[m.UserID]; ok {
			m.Status, m.Recused, m.ConflictReason = MemberRecused, RecusedConflict, c.Reason
			if m.Name == "" {
				m.Name = c.Name
			}
			m.Reason = "Har erklæret sig inhabil i sagen og kan ikke stemme."
			if c.Reason != "" {
				m.Reason = fmt.Sprintf("Har erklæret sig inhabil i sagen (%s) og kan ikke stemme.", c.Reason)
			}
			return true
		}
		if m.UserID == in.Proposer.UserID {
			m.Status, m.Recused = MemberRecused, RecusedProposer
			m.Reason = "Har stillet forslaget og kan ikke stemme om det."
			return true
		}
		return false
	}

	if !r.Voting {
		// No board on record: any board member votes, once per round, and the first outcome to reach the
		// plan's quorum of ballots decides.
		r.QuorumNeeded = max(plan.Settings.BoardQuorum, 1)
		seen := map[string]bool{}
		for _, b := range r.Ballots {
			if seen[b.Actor.UserID] {
				continue
			}
			seen[b.Actor.UserID] = true
			m := RoundMember{UserID: b.Actor.UserID, Name: b.Actor.Name, Status: MemberVoted, Ballot: ballotOf(b.Actor.UserID)}
			recuse(&m)
			r.Members = append(r.Members, m)
		}
		for _, c := range in.Conflicts {
			if !seen[c.UserID] {
				seen[c.UserID] = true
				m := RoundMember{UserID: c.UserID, Name: c.Name}
				recuse(&m)
				r.Members = append(r.Members, m)
			}
		}
		voted := 0
		for _, m := range r.Members {
			if m.Ballot != nil {
				voted++
			}
		}
		r.Explanation = fmt.Sprintf("Sagen er afgjort, når %d %s har stemt ens; %d har stemt indtil videre.",
			r.QuorumNeeded, plural(r.QuorumNeeded, "medlem", "medlemmer"), voted)
		return r
	}

	board := plan.Board
	r.Chair = board.Chair
	r.ChairAlone = domain.ChairAlone(&in, plan, kind)
	var conflicted []string
	for _, c := range in.Conflicts {
		conflicted = append(conflicted, c.UserID)
	}
	for _, id := range board.Members {
		m := RoundMember{UserID: id, Chair: id == board.Chair, Ballot: ballotOf(id)}
		if m.Ballot != nil {
			m.Name = m.Ballot.Actor.Name
		}
		switch {
		case recuse(&m):
		case r.ChairAlone && !m.Chair:
			m.Status = MemberChairDecides
			m.Reason = "Formanden afgør denne sag alene efter bestyrelsens forretningsorden."
			if kind == domain.MatterChange && !board.ChairDecidesAlone(kind) {
				m.Reason = "Ændringen flytter mindre end planens grænse for omfordeling, så formanden afgør den alene."
			}
		case m.Ballot != nil:
			m.Status = MemberVoted
		default:
			m.Status = MemberMayVote
		}
		r.Members = append(r.Members, m)
	}
	if r.ChairAlone {
		r.QuorumNeeded = 1
		for _, m := range r.Members {
			if m.Chair && m.Status != MemberRecused {
				r.Entitled = 1
			}
		}
		r.Explanation = "Formanden afgør sagen alene efter bestyrelsens forretningsorden."
		if r.Entitled == 0 {
			r.Explanation = "Formanden afgør sagen alene efter bestyrelsens forretningsorden, men formanden er inhabil."
		}
		if c := in.OpenChange(); kind == domain.MatterChange && c != nil && !board.ChairDecidesAlone(kind) {
			r.Explanation = fmt.Sprintf("Ændringen flytter %s, mindre end planens grænse for omfordeling på %s, "+
				"så formanden afgør den alene.", c.MovedØre, plan.Settings.ReallocationThresholdØre)
			if r.Entitled == 0 {
				r.Explanation += " Formanden er dog inhabil i sagen."
			}
		}
		return r
	}
	// Count the votes the rules accept: a vote cast before its member declared a conflict does not count.
	var votes []domain.Vote
	for _, b := range r.Ballots {
		i := slices.IndexFunc(r.Members, func(m RoundMember) bool { return m.UserID == b.Actor.UserID })
		if i < 0 || r.Members[i].Status == MemberRecused {
			continue
		}
		votes = append(votes, domain.Vote{MemberID: b.Actor.UserID, Outcome: b.Outcome})
	}
	if res, err := domain.Tally(board.Rules(conflicted), in.Proposer.UserID, votes); err == nil {
		r.Tally = res
		r.QuorumNeeded, r.Entitled, r.Explanation = res.QuorumNeeded, res.Entitled, res.Explanation
	} else if re := (*domain.RuleError)(nil); errors.As(err, &re) {
		r.Explanation = re.Message // the board's rules are broken (no members, an unknown rule): say so
	}
	return r
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
