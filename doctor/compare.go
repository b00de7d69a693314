package doctor

import (
	"fmt"
	"maps"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// maxDiffPaths bounds how many differing fields one snapshot finding names.
const maxDiffPaths = 8

// compareReadModel compares the read model's row and snapshot with the workflow's state.
func compareReadModel(o *outcome, id string, wf domain.Initiative, row readModelRow, rm *domain.Initiative) {
	if rm == nil {
		o.add(id, KindReadModelMissing, "workflow at version %d; the read-model row has no snapshot", wf.Version)
		return
	}
	switch {
	case row.Version < wf.Version:
		o.add(id, KindReadModelBehind, "read model at version %d (%s), workflow at version %d (%s)",
			row.Version, row.Phase, wf.Version, wf.Phase)
		return
	case row.Version > wf.Version:
		o.add(id, KindReadModelAhead, "read model at version %d (%s), workflow at version %d (%s)",
			row.Version, row.Phase, wf.Version, wf.Phase)
		return
	}

	var skip []string // fields reported by a more specific finding
	if row.Phase != wf.Phase || rm.Phase != wf.Phase {
		o.add(id, KindPhaseMismatch, "workflow: %s (%s); read model: column %s, snapshot %s",
			wf.Phase, wf.Phase.DanishName(), row.Phase, rm.Phase)
		skip = append(skip, "phase")
	}
	for i, m := range wf.Milestones {
		var got domain.TrancheStatus = "(none)"
		if i < len(rm.Milestones) {
			got = rm.Milestones[i].TrancheStatus
		}
		if got != m.TrancheStatus {
			o.add(id, KindTrancheMismatch, "milestone %d: workflow %s, read model %s", m.No, m.TrancheStatus, got)
			skip = append(skip, fmt.Sprintf("milestones[%d].tranche_status", i))
		}
	}

	var diffs []string
	if rm.Version != wf.Version {
		diffs = append(diffs, fmt.Sprintf("snapshot version %d, column %d", rm.Version, row.Version))
	}
	for _, col := range []struct {
		name      string
		got, want string
	}{
		{"plan_id", row.PlanID, wf.PlanID},
		{"title", row.Title, wf.Proposal.Title},
		{"delaftale_id", row.DelaftaleID, wf.Proposal.DelaftaleID},
		{"proposer_id", row.ProposerID, wf.Proposer.UserID},
	} {
		if col.got != col.want {
			diffs = append(diffs, fmt.Sprintf("column %s %q, workflow %q", col.name, col.got, col.want))
		}
	}
	if want, ok := budgetTotal(wf.Proposal.Budget); ok && row.BudgetØre != want {
		diffs = append(diffs, fmt.Sprintf("column budget_ore %s, workflow %s", domain.Money(row.BudgetØre), domain.Money(want)))
	}
	a, errA := jsonValue(wf)
	b, errB := jsonValue(*rm)
	if errA != nil || errB != nil {
		diffs = append(diffs, fmt.Sprintf("snapshot not comparable: %v", errorsOr(errA, errB)))
	} else {
		for _, p := range diffPaths("", a, b, nil) {
			if !slices.Contains(skip, p) {
				diffs = append(diffs, p)
			}
		}
	}
	if len(diffs) > 0 {
		more := ""
		if len(diffs) > maxDiffPaths {
			more = fmt.Sprintf(" and %d more", len(diffs)-maxDiffPaths)
			diffs = diffs[:maxDiffPaths]
		}
		o.add(id, KindSnapshotMismatch, "read model differs from the workflow at version %d: %s%s",
			wf.Version, strings.Join(diffs, "; "), more)
	}
}

func errorsOr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

// diffPaths lists the JSON paths at which a and b differ, in a stable order.
func diffPaths(path string, a, b any, out []string) []string {
	switch av := a.(type) {
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok {
			return append(out, orRoot(path))
		}
		keys := slices.Sorted(maps.Keys(av))
		for k := range bv {
			if _, ok := av[k]; !ok {
				keys = append(keys, k)
			}
		}
		for _, k := range keys {
			out = diffPaths(join(path, k), av[k], bv[k], out)
		}
		return out
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return append(out, orRoot(path))
		}
		for i := range av {
			out = diffPaths(path+"["+strconv.Itoa(i)+"]", av[i], bv[i], out)
		}
		return out
	}
	if !reflect.DeepEqual(a, b) {
		return append(out, orRoot(path))
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(whole snapshot)"
	}
	return path
}

// compareEvents checks the event log against the state: seqs 1..version, a closed chain of phases, and the last
// event in the state's phase.
func compareEvents(o *outcome, id string, st domain.Initiative, events []store.Event) {
	prev := domain.Phase("")
	for i, e := range events {
		if want := int64(i + 1); e.Seq != want {
			o.add(id, KindEventGap, "event log: seq %d is missing (the next event is seq %d)", want, e.Seq)
			return
		}
		if e.PhaseBefore != prev {
			o.add(id, KindEventLogMismatch, "event %d (%s) starts in phase %q, but event %d ended in %q",
				e.Seq, e.Type, e.PhaseBefore, e.Seq-1, prev)
		}
		prev = e.PhaseAfter
	}
	last := int64(len(events))
	switch {
	case last < st.Version:
		o.add(id, KindEventLogMismatch, "event log ends at seq %d, state at version %d", last, st.Version)
	case last > st.Version:
		o.add(id, KindEventLogMismatch, "event log goes on to seq %d, state at version %d", last, st.Version)
	case prev != st.Phase:
		o.add(id, KindEventLogMismatch, "last event (seq %d) ends in phase %s, state in %s", last, prev, st.Phase)
	}
}

// amounts are øre per funding source; zero amounts are left out, as the ledger holds only positive entries.
type amounts map[string]int64

func (a amounts) add(source string, v int64) bool {
	s, ok := addInt64(a[source], v)
	a[source] = s
	if s == 0 {
		delete(a, source)
	}
	return ok
}

func (a amounts) String() string {
	if len(a) == 0 {
		return "nothing"
	}
	parts := make([]string, 0, len(a))
	for _, k := range slices.Sorted(maps.Keys(a)) {
		parts = append(parts, k+" "+domain.Money(a[k]).String())
	}
	return strings.Join(parts, ", ")
}

func addInt64(a, b int64) (int64, bool) {
	if (b > 0 && a > math.MaxInt64-b) || (b < 0 && a < math.MinInt64-b) {
		return a, false
	}
	return a + b, true
}

func linesOf(lines []domain.SourceAmount) amounts {
	out := amounts{}
	for _, l := range lines {
		out.add(l.SourceID, int64(l.AmountØre))
	}
	return out
}

func budgetTotal(lines []domain.SourceAmount) (int64, bool) {
	var t int64
	for _, l := range lines {
		var ok bool
		if t, ok = addInt64(t, int64(l.AmountØre)); !ok {
			return 0, false
		}
	}
	return t, true
}

// approved reports whether a phase comes after the board's approval, when the budget is reserved.
func approved(p domain.Phase) bool {
	return p == domain.PhaseFunding || p == domain.PhaseExecuting || p == domain.PhaseEvaluation ||
		p == domain.PhaseCompleted
}

// paidLines is what the paid tranches took from each source: what stays reserved once an initiative is cancelled.
func paidLines(st domain.Initiative) amounts {
	out := amounts{}
	for _, m := range st.Milestones {
		if m.TrancheStatus == domain.TranchePaid {
			for _, l := range m.Tranche {
				out.add(l.SourceID, int64(l.AmountØre))
			}
		}
	}
	return out
}

// compareMoney checks the ledger, the disbursements and their outbox messages against the state.
func compareMoney(o *outcome, id string, st domain.Initiative, db moneyRows) {
	// The ledger, per kind (and milestone) and source.
	reserved := amounts{}
	released, paid := map[int]amounts{}, map[int]amounts{}
	for _, e := range db.ledger {
		switch e.Kind {
		case "reserve":
			reserved.add(e.SourceID, e.AmountØre)
		case "unreserve":
			reserved.add(e.SourceID, -e.AmountØre)
		case "release", "pay", "withdraw":
			no := 0
			if e.MilestoneNo != nil {
				no = *e.MilestoneNo
			}
			m, v := released, e.AmountØre
			switch e.Kind {
			case "pay":
				m = paid
			case "withdraw": // a released tranche taken back: released net of withdrawals
				v = -v
			}
			if m[no] == nil {
				m[no] = amounts{}
			}
			m[no].add(e.SourceID, v)
		default:
			o.add(id, KindLedgerMismatch, "ledger entry of unknown kind %q", e.Kind)
		}
	}
	wantReserved := amounts{}
	switch {
	case approved(st.Phase):
		wantReserved = linesOf(st.Proposal.Budget)
	case st.Phase == domain.PhaseCancelled:
		wantReserved = paidLines(st)
	}
	if !maps.Equal(reserved, wantReserved) {
		o.add(id, KindLedgerMismatch, "reserved (net of unreserve): ledger %s; phase %s implies %s",
			reserved, st.Phase, wantReserved)
	}
	nos := map[int]bool{}
	for no := range released {
		nos[no] = true
	}
	for no := range paid {
		nos[no] = true
	}
	for _, m := range st.Milestones {
		nos[m.No] = true
	}
	for _, no := range slices.Sorted(maps.Keys(nos)) {
		wantRel, wantPaid := amounts{}, amounts{}
		status := domain.TrancheStatus("(no such milestone)")
		if m, ok := st.Milestone(no); ok {
			status = m.TrancheStatus
			if status == domain.TrancheReleased || status == domain.TranchePaid {
				wantRel = linesOf(m.Tranche)
			}
			if status == domain.TranchePaid {
				wantPaid = linesOf(m.Tranche)
			}
		}
		if got := released[no]; !maps.Equal(got, wantRel) {
			o.add(id, KindLedgerMismatch, "milestone %d released: ledger %s; tranche %s implies %s",
				no, got, status, wantRel)
		}
		if got := paid[no]; !maps.Equal(got, wantPaid) {
			o.add(id, KindLedgerMismatch, "milestone %d paid: ledger %s; tranche %s implies %s",
				no, got, status, wantPaid)
		}
	}

	// The disbursements: one per released, paid or withdrawn milestone, under its derived ID.
	byID := map[string]store.Disbursement{}
	for _, d := range db.disbursements {
		byID[d.ID] = d
	}
	expected := map[string]bool{}
	for _, m := range st.Milestones {
		if m.TrancheStatus != domain.TrancheReleased && m.TrancheStatus != domain.TranchePaid &&
			m.TrancheStatus != domain.TrancheWithdrawn {
			continue
		}
		did := domain.DisbursementID(id, m.No)
		expected[did] = true
		if m.DisbursementID != did {
			o.add(id, KindDisbursementMismatch, "milestone %d: the state names disbursement %q, want %q",
				m.No, m.DisbursementID, did)
		}
		d, ok := byID[did]
		if !ok {
			o.add(id, KindDisbursementMissing, "milestone %d is %s, but disbursement %s does not exist",
				m.No, m.TrancheStatus, did)
			continue
		}
		var problems []string
		wantStatus := store.DisbursementPending
		switch m.TrancheStatus {
		case domain.TranchePaid:
			wantStatus = store.DisbursementPaid
		case domain.TrancheWithdrawn:
			wantStatus = store.DisbursementWithdrawn
		}
		if d.Status != wantStatus {
			problems = append(problems, fmt.Sprintf("status %s, tranche %s", d.Status, m.TrancheStatus))
		}
		if d.MilestoneNo != m.No {
			problems = append(problems, fmt.Sprintf("milestone_no %d", d.MilestoneNo))
		}
		if ref := deref(d.Reference); ref != m.PaymentReference {
			problems = append(problems, fmt.Sprintf("reference %q, state %q", ref, m.PaymentReference))
		}
		if got, want := linesOf(d.Lines), linesOf(m.Tranche); !maps.Equal(got, want) {
			problems = append(problems, fmt.Sprintf("lines %s, tranche %s", got, want))
		}
		if total, ok := budgetTotal(m.Tranche); ok && int64(d.TotalØre) != total {
			problems = append(problems, fmt.Sprintf("total %s, tranche %s", d.TotalØre, domain.Money(total)))
		}
		if len(problems) > 0 {
			o.add(id, KindDisbursementMismatch, "disbursement %s (milestone %d): %s", did, m.No,
				strings.Join(problems, "; "))
		}
	}
	for _, d := range db.disbursements {
		if !expected[d.ID] {
			status := "no such milestone"
			if m, ok := st.Milestone(d.MilestoneNo); ok {
				status = "tranche " + string(m.TrancheStatus)
			}
			o.add(id, KindDisbursementUnexpected, "disbursement %s (milestone %d, %s, %s) exists, but %s",
				d.ID, d.MilestoneNo, d.Status, d.TotalØre, status)
		}
		// Every disbursement announces its release, and its payment once paid (its withdrawal once withdrawn), to
		// finance.
		for _, topic := range []string{store.TopicDisbursementReleased, store.TopicDisbursementPaid,
			store.TopicDisbursementWithdrawn} {
			if topic == store.TopicDisbursementPaid && d.Status != store.DisbursementPaid ||
				topic == store.TopicDisbursementWithdrawn && d.Status != store.DisbursementWithdrawn {
				continue
			}
			if !db.outboxKeys[topic+"/"+d.ID] {
				o.add(id, KindOutboxMissing, "disbursement %s (%s) has no %s message in the outbox", d.ID, d.Status, topic)
			}
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
