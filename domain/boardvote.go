package domain

import (
	"fmt"
	"slices"
	"strings"
)

// The board's matters on an initiative: which one is open, who may vote on it, and how its round is counted.
// The workflow calls these; so do the pages, to show the same answer before anyone clicks.

// MaxReasonLen bounds a reason (for a conflict of interest or a cancellation).
const MaxReasonLen = MaxCommentLen

// OpenMatter returns the key of the open round of matter kind (for a milestone, milestone no), or why there is
// none to vote on.
func OpenMatter(in *Initiative, kind MatterKind, no int) (string, error) {
	switch kind {
	case "", MatterProposal:
		if err := requirePhase(in, "træffe beslutning om forslaget", PhaseBoardReview); err != nil {
			return "", err
		}
		return "", nil
	case MatterMilestone:
		if err := requirePhase(in, "behandle en milepælsrapport", PhaseExecuting); err != nil {
			return "", err
		}
		m, ok := in.Milestone(no)
		if !ok {
			return "", Refuse(CodeUnknownMilestone, "Indsatsen har ingen milepæl %d (den har %d).", no, len(in.Milestones))
		}
		if m.AcceptedAt != nil {
			return "", Refuse(CodeConflict, "Milepæl %d er allerede godkendt.", no)
		}
		if m.Report == nil {
			return "", Refuse(CodeConflict, "Milepæl %d er ikke rapporteret endnu.", no)
		}
		return MatterKey(MatterMilestone, no, len(m.Returned)+1), nil
	case MatterEvaluation:
		if err := requirePhase(in, "behandle evalueringen", PhaseEvaluation); err != nil {
			return "", err
		}
		if in.Evaluation == nil {
			return "", Refuse(CodeConflict, "Evalueringen er ikke indsendt endnu.")
		}
		if in.Evaluation.AcceptedAt != nil {
			return "", Refuse(CodeConflict, "Evalueringen er allerede godkendt.")
		}
		return MatterKey(MatterEvaluation, 0, len(in.EvaluationsReturned)+1), nil
	case MatterChange:
		c := in.OpenChange()
		if c == nil || c.Status != ChangeVoting {
			return "", Refuse(CodeConflict, "Der er ingen ændring, der venter på bestyrelsen.")
		}
		return MatterKey(MatterChange, 0, c.No), nil
	case MatterCancellation:
		if !in.Phase.Approved() {
			return "", Refuse(CodeWrongPhase, "Indsatsen er %s; kun en godkendt indsats kan annulleres.", in.Phase.DanishName())
		}
		if in.Cancellation == nil || in.Cancellation.Decided {
			return "", Refuse(CodeConflict, "Der er ingen åben afstemning om at annullere indsatsen.")
		}
		return MatterKey(MatterCancellation, 0, in.Cancellation.Round), nil
	}
	return "", &RuleError{Code: CodeValidation, Message: "Ukendt sag.", Problems: []FieldProblem{{
		Field: "matter", Code: "unknown", Message: "Brug proposal, milestone, evaluation, change eller cancellation."}}}
}

// ChairAlone reports whether the chair decides matter kind alone on this initiative: where the board's rules say
// so, and for a change that moves less than the plan's reallocation threshold.
func ChairAlone(in *Initiative, plan Plan, kind MatterKind) bool {
	b := plan.Board
	if b == nil || b.Chair == "" {
		return false
	}
	if kind == MatterChange {
		if c := in.OpenChange(); c != nil && c.ChairAlone {
			return true
		}
	}
	return b.ChairDecidesAlone(kind)
}

// RoundBallots are the ballots cast so far in the round key.
func (in *Initiative) RoundBallots(key string) []Ballot {
	var out []Ballot
	for _, b := range in.Ballots {
		if b.Matter == key {
			out = append(out, b)
		}
	}
	return out
}

// ConflictIDs are the members who declared a conflict of interest on the initiative.
func (in *Initiative) ConflictIDs() []string {
	out := make([]string, len(in.Conflicts))
	for i, c := range in.Conflicts {
		out[i] = c.UserID
	}
	return out
}

func votesOf(ballots []Ballot) []Vote {
	out := make([]Vote, len(ballots))
	for i, b := range ballots {
		out[i] = Vote{MemberID: b.Actor.UserID, Outcome: b.Outcome}
	}
	return out
}

// CheckBoardVote says whether actor a may cast this vote on matter kind (milestone no) now. It checks the matter
// is open, the outcome and comment, and who may vote under the plan's board: the chair alone where the rules say
// so; otherwise a member entitled to vote (not the proposer, no conflict of interest) who has not voted in this
// round, while the round is undecided. A plan without a board keeps the legacy rule: any board member, once.
func CheckBoardVote(in *Initiative, plan Plan, a Actor, kind MatterKind, no int, outcome Outcome, comment string) error {
	if kind == "" {
		kind = MatterProposal
	}
	if err := requireRole(a, RoleBoard, "stemme i bestyrelsen"); err != nil {
		return err
	}
	key, err := OpenMatter(in, kind, no)
	if err != nil {
		return err
	}
	if !outcome.Valid() {
		return &RuleError{Code: CodeValidation, Message: "Ukendt stemme.", Problems: []FieldProblem{{
			Field: "outcome", Code: "unknown", Message: "Brug approve, reject eller request_changes."}}}
	}
	if outcome == OutcomeRequestChanges && (kind == MatterChange || kind == MatterCancellation) {
		return &RuleError{Code: CodeValidation, Message: "Stem for eller imod.",
			Problems: []FieldProblem{{Field: "outcome", Code: "not_allowed",
				Message: "Brug approve (for) eller reject (imod)."}}}
	}
	if outcome == OutcomeReject && (kind == MatterMilestone || kind == MatterEvaluation) {
		return &RuleError{Code: CodeValidation, Message: "En rapport kan godkendes eller sendes tilbage, ikke afvises.",
			Problems: []FieldProblem{{Field: "outcome", Code: "not_allowed",
				Message: "Brug approve (godkend) eller request_changes (send tilbage)."}}}
	}
	var ps problems
	if outcome != OutcomeApprove && strings.TrimSpace(comment) == "" {
		ps.add("comment", "required", "Begrund din stemme, når du ikke godkender.")
	}
	text(&ps, "comment", comment, MaxCommentLen, false)
	if err := ps.err("Stemmen kan ikke registreres."); err != nil {
		return err
	}
	cast := in.RoundBallots(key)
	b := plan.Board
	if !b.Voting() {
		for _, prev := range cast {
			if prev.Actor.UserID == a.UserID {
				return Refuse(CodeConflict, "Du har allerede stemt i denne runde.")
			}
		}
		return nil
	}
	if ChairAlone(in, plan, kind) {
		if a.UserID != b.Chair {
			return Refuse(CodeForbidden, "Formanden træffer beslutning om %s alene efter bestyrelsens regler.",
				kind.DanishName())
		}
		return nil
	}
	return CheckVote(b.Rules(in.ConflictIDs()), in.Proposer.UserID, votesOf(cast), Vote{MemberID: a.UserID, Outcome: outcome})
}

// RoundResult is how a round stands after a vote: decided with an outcome and its tally, or open.
type RoundResult struct {
	Decided bool           `json:"decided,omitempty"`
	Outcome Outcome        `json:"outcome,omitempty"`
	Tally   *DecisionTally `json:"tally,omitempty"`
}

// CountRound counts the ballots of round key of matter kind under the plan's board. The caller has checked each
// ballot with CheckBoardVote when it was cast.
func CountRound(in *Initiative, plan Plan, kind MatterKind, ballots []Ballot) (RoundResult, error) {
	if kind == "" {
		kind = MatterProposal
	}
	b := plan.Board
	if !b.Voting() {
		outcome, decided := Resolve(ballots, plan.Settings.BoardQuorum)
		if !decided {
			return RoundResult{}, nil
		}
		counts := map[Outcome]int{}
		for _, x := range ballots {
			counts[x.Outcome]++
		}
		q := max(plan.Settings.BoardQuorum, 1)
		return RoundResult{Decided: true, Outcome: outcome, Tally: &DecisionTally{Counts: counts, Voted: len(ballots),
			QuorumNeeded: q, Basis: BasisMajority,
			Explanation: fmt.Sprintf("%s: %d stemme(r) for udfaldet, som er det antal planen kræver.",
				capitalize(outcomeDanish(outcome)), q)}}, nil
	}
	if ChairAlone(in, plan, kind) {
		for _, x := range ballots {
			if x.Actor.UserID == b.Chair {
				return RoundResult{Decided: true, Outcome: x.Outcome, Tally: &DecisionTally{ChairAlone: true,
					Counts: map[Outcome]int{x.Outcome: 1}, Voted: 1, Entitled: 1, QuorumNeeded: 1,
					BoardVersion: b.Version,
					Explanation: fmt.Sprintf("Formanden har truffet beslutning alene efter bestyrelsens regler: %s.",
						outcomeDanish(x.Outcome))}}, nil
			}
		}
		return RoundResult{}, nil
	}
	res, err := Tally(b.Rules(in.ConflictIDs()), in.Proposer.UserID, votesOf(ballots))
	if err != nil {
		return RoundResult{}, err
	}
	t := tallyRecord(res, b)
	if !res.Decided {
		return RoundResult{Tally: t}, nil
	}
	return RoundResult{Decided: true, Outcome: res.Outcome, Tally: t}, nil
}

func tallyRecord(res TallyResult, b *Board) *DecisionTally {
	return &DecisionTally{Basis: res.Basis, Early: res.Early, Counts: res.Counts, Entitled: res.Entitled,
		Voted: res.Voted, QuorumNeeded: res.QuorumNeeded, Recused: res.Recused, Explanation: res.Explanation,
		BoardVersion: b.Version}
}

// CheckDeclareConflict says whether a may declare a conflict of interest on the initiative.
func CheckDeclareConflict(in *Initiative, plan Plan, a Actor, reason string) error {
	if err := requireRole(a, RoleBoard, "erklære sig inhabil"); err != nil {
		return err
	}
	if in.Phase.Terminal() {
		return Refuse(CodeWrongPhase, "Indsatsen er %s; der er intet at være inhabil i.", in.Phase.DanishName())
	}
	if plan.Board.Voting() && !plan.Board.IsMember(a.UserID) {
		return Refuse(CodeForbidden, "Du er ikke medlem af bestyrelsen.")
	}
	if slices.Contains(in.ConflictIDs(), a.UserID) {
		return Refuse(CodeConflict, "Du har allerede erklæret dig inhabil i denne indsats.")
	}
	var ps problems
	text(&ps, "reason", reason, MaxReasonLen, true)
	return ps.err("Inhabiliteten kan ikke registreres.")
}

// CheckProposeCancel says whether a may open a vote on cancelling the initiative.
func CheckProposeCancel(in *Initiative, a Actor, reason string) error {
	if a.Role != RoleBoard && a.Role != RoleAdmin {
		return Refuse(CodeForbidden, "Kun bestyrelsen eller sekretariatet kan foreslå at annullere en indsats; du er "+
			"logget ind som %s.", a.Role.DanishName())
	}
	if !in.Phase.Approved() {
		return Refuse(CodeWrongPhase, "Indsatsen er %s; kun en godkendt indsats kan annulleres.", in.Phase.DanishName())
	}
	if in.Cancellation != nil && !in.Cancellation.Decided {
		return Refuse(CodeConflict, "Der er allerede en åben afstemning om at annullere indsatsen.")
	}
	var ps problems
	text(&ps, "reason", reason, MaxReasonLen, true)
	return ps.err("Forslaget om annullering kan ikke registreres.")
}

// CheckMeetingDecision checks the votes recorded for the board at a meeting and counts them as a closed round:
// members who did not vote were absent or abstained. Only the chair or admin may record them; voters must be
// present members entitled to vote. A meeting that was not quorate decides nothing and is refused with why.
func CheckMeetingDecision(in *Initiative, plan Plan, a Actor, kind MatterKind, no int, present []string,
	votes []Vote, comment string) (RoundResult, error) {
	if kind == "" {
		kind = MatterProposal
	}
	b := plan.Board
	if !b.Voting() {
		return RoundResult{}, Refuse(CodeConflict, "Planen har ingen bestyrelse registreret; mødebeslutninger kræver "+
			"bestyrelsens medlemmer og regler.")
	}
	if a.Role != RoleAdmin && !(a.Role == RoleBoard && a.UserID == b.Chair) {
		return RoundResult{}, Refuse(CodeForbidden, "Kun formanden eller sekretariatet kan registrere bestyrelsens "+
			"beslutning fra et møde.")
	}
	if _, err := OpenMatter(in, kind, no); err != nil {
		return RoundResult{}, err
	}
	var ps problems
	text(&ps, "comment", comment, MaxCommentLen, false)
	here := map[string]bool{}
	for i, m := range present {
		if !b.IsMember(m) {
			ps.add(fmt.Sprintf("present[%d]", i), "not_member", "%s er ikke medlem af bestyrelsen.", short(m))
		}
		here[m] = true
	}
	for i, v := range votes {
		if !here[v.MemberID] {
			ps.add(fmt.Sprintf("votes[%d].member_id", i), "not_present", "%s stemmer, men er ikke anført som til stede.",
				short(v.MemberID))
		}
		if v.Outcome == OutcomeReject && (kind == MatterMilestone || kind == MatterEvaluation) {
			ps.add(fmt.Sprintf("votes[%d].outcome", i), "not_allowed", "En rapport kan godkendes eller sendes tilbage.")
		}
	}
	if err := ps.err("Mødets beslutning kan ikke registreres."); err != nil {
		return RoundResult{}, err
	}
	rules := b.Rules(in.ConflictIDs())
	if ChairAlone(in, plan, kind) {
		rules.Members = []string{b.Chair}
	}
	res, err := TallyClosed(rules, in.Proposer.UserID, votes)
	if err != nil {
		return RoundResult{}, err
	}
	t := tallyRecord(res, b)
	if !res.Decided {
		return RoundResult{Tally: t}, Refuse(CodeConflict, "%s", res.Explanation)
	}
	if strings.TrimSpace(comment) == "" && res.Outcome != OutcomeApprove {
		return RoundResult{}, &RuleError{Code: CodeValidation, Message: "Mødets beslutning kan ikke registreres.",
			Problems: []FieldProblem{{Field: "comment", Code: "required",
				Message: "Begrund beslutningen, når bestyrelsen ikke godkender."}}}
	}
	t.Present = append([]string(nil), present...)
	return RoundResult{Decided: true, Outcome: res.Outcome, Tally: t}, nil
}
