package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Close-out (afslutning): when the board accepts an initiative's final evaluation, its money is settled per
// funding source. The evaluation states the final spend per source (Evaluation.Spend; absent, everything paid
// counts as spent). Then, per source of the approved budget:
//
//	paid       = the paid tranches' lines from the source
//	spent      = the stated final spend (at most paid)
//	return     = paid - spent: a receivable from the initiative's holder, which finance marks received (then the
//	             money is back with the source, available to new proposals)
//	unreserved = budget - paid: reserved but never paid out, back to the source at once
//
// so budget = spent + return + unreserved to the øre. A tranche that is released and not yet paid blocks the
// close-out: what finance is about to pay must be known first.

// CloseoutLine is one funding source's settlement.
type CloseoutLine struct {
	SourceID      string `json:"source_id"`
	PaidØre       Money  `json:"paid_ore"`
	SpentØre      Money  `json:"spent_ore"`
	ReturnØre     Money  `json:"return_ore"`
	UnreservedØre Money  `json:"unreserved_ore"`
}

// Closeout is the settlement of a completed initiative's money.
type Closeout struct {
	Lines []CloseoutLine `json:"lines"`
	At    time.Time      `json:"at"`
}

// ReturnTotal is what the holder must pay back in all. Lines are bounded by the budget, so the sum fits.
func (c *Closeout) ReturnTotal() Money {
	var t Money
	for _, l := range c.Lines {
		t += l.ReturnØre
	}
	return t
}

// ReturnID is the ID of the receivable for source's return of initiative's money.
func ReturnID(initiativeID, sourceID string) string {
	return "ret-" + initiativeID + "-" + sourceID
}

// ReturnReference is the payment reference the holder pays a return back with: "TB" and 16 hex digits of the
// return ID's SHA-256, 18 characters, short enough for an end-to-end reference (35) and a Danish bank's message
// field. A bank statement's incoming payment with this reference and the return's amount settles it.
func ReturnReference(returnID string) string {
	sum := sha256.Sum256([]byte(returnID))
	return "TB" + strings.ToUpper(hex.EncodeToString(sum[:8]))
}

// PaidBySource is what was paid from each source (the paid tranches' lines), every amount and sum within
// [0, MaxMoney], or an error.
func (in *Initiative) PaidBySource() (map[string]Money, error) { return in.paidBySource() }

// paidBySource sums the paid tranches per source, bounded like paidSum.
func (in *Initiative) paidBySource() (map[string]Money, error) {
	out := map[string]Money{}
	for _, m := range in.Milestones {
		if m.TrancheStatus != TranchePaid {
			continue
		}
		for _, l := range m.Tranche {
			s := out[l.SourceID] + l.AmountØre
			if !l.AmountØre.InRange() || !s.InRange() {
				return nil, fmt.Errorf("paid from %s is out of range", l.SourceID)
			}
			out[l.SourceID] = s
		}
	}
	return out, nil
}

// checkSpend checks an evaluation's final spend per source: sources of the budget, each once, each from 0 up to
// what was paid from it, and every source something was paid from stated.
func checkSpend(ps *problems, in *Initiative, spend []SourceAmount) {
	if len(spend) == 0 {
		return
	}
	paid, err := in.paidBySource()
	if err != nil {
		ps.add("spend", "invalid_state", "Indsatsens udbetalinger kan ikke opgøres. Kontakt sekretariatet.")
		return
	}
	inBudget := map[string]bool{}
	for _, l := range in.Proposal.Budget {
		inBudget[l.SourceID] = true
	}
	seen := map[string]bool{}
	for i, l := range spend {
		f := fmt.Sprintf("spend[%d]", i)
		switch {
		case !inBudget[l.SourceID]:
			ps.add(f+".source_id", "unknown", "Indsatsens budget har ingen finansieringskilde %q.", short(l.SourceID))
		case seen[l.SourceID]:
			ps.add(f+".source_id", "duplicate", "Forbruget fra %q er angivet to gange.", l.SourceID)
		case l.AmountØre < 0:
			ps.add(f+".amount_ore", "negative", "Forbruget må ikke være negativt.")
		case l.AmountØre > paid[l.SourceID]:
			ps.add(f+".amount_ore", "exceeds_paid", "Forbruget fra %s på %s er mere end de %s, der er udbetalt fra kilden.",
				l.SourceID, l.AmountØre, paid[l.SourceID])
		}
		seen[l.SourceID] = true
	}
	for _, l := range in.Proposal.Budget {
		if !seen[l.SourceID] && paid[l.SourceID] > 0 {
			ps.add("spend", "source_missing", "Forbruget fra %s mangler (der er udbetalt %s).", l.SourceID, paid[l.SourceID])
		}
	}
}

// ComputeCloseout settles in's money as of its evaluation (see the top of this file). The evaluation must be
// submitted; a released, unpaid tranche is an error.
func ComputeCloseout(in *Initiative) ([]CloseoutLine, error) {
	if in.Evaluation == nil {
		return nil, Refuse(CodeConflict, "Evalueringen er ikke indsendt endnu.")
	}
	for _, m := range in.Milestones {
		if m.TrancheStatus == TrancheReleased {
			return nil, Refuse(CodeConflict, "Raten for milepæl %d er frigivet, men ikke udbetalt. Indsatsen kan afsluttes, "+
				"når økonomi har bekræftet udbetalingen.", m.No)
		}
	}
	paid, err := in.paidBySource()
	if err != nil {
		return nil, Refuse(CodeConflict, "Indsatsens udbetalinger kan ikke opgøres. Kontakt sekretariatet.")
	}
	spent := map[string]Money{}
	stated := len(in.Evaluation.Spend) > 0
	for _, l := range in.Evaluation.Spend {
		spent[l.SourceID] = l.AmountØre
	}
	budget := map[string]Money{}
	for _, l := range in.Proposal.Budget {
		budget[l.SourceID] += l.AmountØre // bounded: the budget was checked at submission
	}
	ids := make([]string, 0, len(budget))
	for id := range budget {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, strings.Compare)
	var out []CloseoutLine
	for _, id := range ids {
		p := paid[id]
		s := p
		if stated {
			s = spent[id]
		}
		if s < 0 || s > p {
			return nil, Refuse(CodeValidation, "Forbruget fra %s på %s ligger ikke mellem 0 og de udbetalte %s.", id, s, p)
		}
		if p > budget[id] {
			return nil, Refuse(CodeConflict, "Der er udbetalt %s fra %s, mere end budgettets %s. Kontakt sekretariatet.",
				p, id, budget[id])
		}
		out = append(out, CloseoutLine{SourceID: id, PaidØre: p, SpentØre: s, ReturnØre: p - s,
			UnreservedØre: budget[id] - p})
	}
	return out, nil
}

// ComputeSettlement settles a cancelled initiative's paid money: per source something was paid from, paid = spent +
// return, with spend stated for each of them (0 up to what was paid). What was never paid went back at the
// cancellation, so nothing is unreserved here. Any other phase, or nothing paid, is refused.
func ComputeSettlement(in *Initiative, spend []SourceAmount) ([]CloseoutLine, error) {
	if in.Phase != PhaseCancelled {
		return nil, Refuse(CodeWrongPhase, "Kun en annulleret indsats afregnes sådan; indsatsen er %s.",
			strings.ToLower(in.Phase.DanishName()))
	}
	paid, err := in.paidBySource()
	if err != nil {
		return nil, Refuse(CodeConflict, "Indsatsens udbetalinger kan ikke opgøres. Kontakt sekretariatet.")
	}
	if len(paid) == 0 {
		return nil, Refuse(CodeConflict, "Der blev ikke udbetalt noget til indsatsen, så der er intet at afregne.")
	}
	var ps problems
	if len(spend) == 0 {
		ps.add("spend", "required", "Angiv forbruget fra hver finansieringskilde, der er udbetalt fra.")
	} else if len(spend) > MaxResults {
		ps.add("spend", "too_many", "Der kan højst angives forbrug fra %d kilder.", MaxResults)
	} else {
		checkSpend(&ps, in, spend)
	}
	if err := ps.err("Afregningen kan ikke modtages."); err != nil {
		return nil, err
	}
	spent := map[string]Money{}
	for _, l := range spend {
		spent[l.SourceID] = l.AmountØre
	}
	ids := make([]string, 0, len(paid))
	for id, p := range paid {
		if p > 0 {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, strings.Compare)
	out := make([]CloseoutLine, 0, len(ids))
	for _, id := range ids {
		out = append(out, CloseoutLine{SourceID: id, PaidØre: paid[id], SpentØre: spent[id], ReturnØre: paid[id] - spent[id]})
	}
	return out, nil
}
