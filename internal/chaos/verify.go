package chaos

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/jmoiron/sqlx"

	"github.com/helhedsplan/helhedsplan/internal/lifecycle"
	"github.com/helhedsplan/helhedsplan/store"
)

// tally counts one kind of thing the suite expects exactly once each.
type tally struct {
	Expected, Found, Duplicates, Missing int
}

func (t tally) ok() bool { return t.Duplicates == 0 && t.Missing == 0 && t.Found == t.Expected }

// verification is what the suite found in the database, the API and the receiver after the drive.
type verification struct {
	Expected map[string]int // runs per expected final phase
	Reached  map[string]int // runs that reached their expected final phase, per phase
	Actual   map[string]int // runs per actual final phase (the read model's)
	Stuck    []string

	InitiativesInDB      int
	DuplicateInitiatives int // initiatives created twice for one run (same title)
	UnknownInitiatives   int // initiatives no run created

	Disbursements tally // one per released milestone
	Payments      tally // one paid disbursement per paid milestone, with the suite's reference
	ReleaseLines  tally // ledger 'release' entries, one per disbursement line
	PayLines      tally // ledger 'pay' entries, one per line of a paid disbursement
	Reservations  tally // initiatives whose reserved minus unreserved money equals what their phase implies
	OutboxRows    tally // one per disbursement released, one per disbursement paid
	Undelivered   int   // outbox rows not marked delivered
	Webhooks      tally // receiver: each outbox row accepted exactly once
	Unexpected    int   // deliveries of keys that are not in the outbox
	Differed      int   // keys delivered again with another payload
	BadSignatures int
	NoKey         int

	Details []string
}

func (v *verification) detail(format string, args ...any) {
	v.Details = append(v.Details, fmt.Sprintf(format, args...))
}

type disbRow struct {
	ID           string `db:"id"`
	InitiativeID string `db:"initiative_id"`
	MilestoneNo  int    `db:"milestone_no"`
	Status       string `db:"status"`
	Reference    string `db:"reference"`
}

type lineRow struct {
	DisbursementID string `db:"disbursement_id"`
	SourceID       string `db:"source_id"`
	AmountØre      int64  `db:"amount_ore"`
}

type entryRow struct {
	InitiativeID string `db:"initiative_id"`
	Kind         string `db:"kind"`
	SourceID     string `db:"source_id"`
	MilestoneNo  int    `db:"milestone_no"`
	AmountØre    int64  `db:"amount_ore"`
}

type outboxRow struct {
	Key       string `db:"key"`
	Delivered bool   `db:"delivered"`
}

type initiativeRow struct {
	ID    string `db:"id"`
	Phase string `db:"phase"`
	Title string `db:"title"`
}

// verify compares what the runs did with the database, the API's view of each initiative (reads, keyed by
// initiative ID) and what the receiver got.
func verify(ctx context.Context, db *sqlx.DB, runs []*initiativeRun, reads map[string]lifecycle.Initiative, rs ReceiverStats) (*verification, error) {
	v := &verification{Expected: map[string]int{}, Reached: map[string]int{}, Actual: map[string]int{}}
	var inits []initiativeRow
	var disbs []disbRow
	var lines []lineRow
	var entries []entryRow
	var outbox []outboxRow
	for _, q := range []struct {
		dest any
		sql  string
	}{
		{&inits, `SELECT id, phase, title FROM initiatives`},
		{&disbs, `SELECT id, initiative_id, milestone_no, status, COALESCE(reference, '') AS reference FROM disbursements`},
		{&lines, `SELECT disbursement_id, source_id, amount_ore FROM disbursement_lines`},
		{&entries, `SELECT initiative_id, kind, source_id, COALESCE(milestone_no, 0) AS milestone_no, amount_ore FROM ledger_entries`},
		// The finance webhook's messages; notification e-mails (reminders and escalations of the scenario's
		// overdue reports) are settled by the dispatcher without SMTP and are not the webhook's.
		{&outbox, `SELECT key, delivered_at IS NOT NULL AS delivered FROM outbox WHERE topic LIKE 'disbursement.%'`},
	} {
		if err := db.SelectContext(ctx, q.dest, q.sql); err != nil {
			return nil, fmt.Errorf("verify: %s: %w", q.sql, err)
		}
	}

	// Initiatives: each run's, by ID or (if the create was never answered) by its unique title.
	v.InitiativesInDB = len(inits)
	byTitle := map[string][]initiativeRow{}
	phaseOf := map[string]string{}
	for _, in := range inits {
		byTitle[in.Title] = append(byTitle[in.Title], in)
		phaseOf[in.ID] = in.Phase
	}
	mine := map[string]bool{}
	for _, r := range runs {
		rows := byTitle[r.Title]
		for _, row := range rows {
			mine[row.ID] = true
		}
		if len(rows) > 1 {
			v.DuplicateInitiatives += len(rows) - 1
			v.detail("run %d (%s): %d initiatives with its title", r.Index, r.Title, len(rows))
		}
		if r.ID == "" && len(rows) > 0 {
			r.ID = rows[0].ID
		}
		want := r.expectedPhase()
		v.Expected[want]++
		phase, ok := phaseOf[r.ID]
		if !ok {
			phase = "(none)"
		}
		v.Actual[phase]++
		if phase == want {
			v.Reached[want]++
			continue
		}
		why := r.Failure
		if why == "" {
			why = r.Stalled
		}
		v.Stuck = append(v.Stuck, fmt.Sprintf("#%d %s %s: expected %s, is %s (%s)", r.Index, r.Scenario, r.ID, want, phase, why))
	}
	for _, in := range inits {
		if !mine[in.ID] {
			v.UnknownInitiatives++
			v.detail("initiative %s (%q) was created by no run", in.ID, in.Title)
		}
	}

	// What should exist: a disbursement per released milestone and a payment per paid one, by the read model
	// (the API's answer), and for a completed initiative every milestone released and paid.
	type ms struct {
		id string
		no int
	}
	released, paid := map[ms]bool{}, map[ms]string{} // paid: the suite's reference, "" if it did not confirm
	runByID := map[string]*initiativeRun{}
	for _, r := range runs {
		if r.ID == "" {
			continue
		}
		runByID[r.ID] = r
		in := reads[r.ID]
		for i, m := range in.Milestones {
			k := ms{r.ID, i + 1}
			if m.TrancheStatus == "released" || m.TrancheStatus == "paid" {
				released[k] = true
			}
			if m.TrancheStatus == "paid" {
				paid[k] = ""
			}
		}
		if phaseOf[r.ID] == "completed" {
			for no := 1; no <= milestones; no++ {
				released[ms{r.ID, no}] = true
				paid[ms{r.ID, no}] = ""
			}
		}
		for i, ref := range r.Reference {
			if ref != "" {
				released[ms{r.ID, i + 1}] = true
				paid[ms{r.ID, i + 1}] = ref
			}
		}
	}

	rowsAt := map[ms][]disbRow{}
	for _, d := range disbs {
		k := ms{d.InitiativeID, d.MilestoneNo}
		rowsAt[k] = append(rowsAt[k], d)
	}
	v.Disbursements.Expected = len(released)
	v.Payments.Expected = len(paid)
	for k, rows := range rowsAt {
		if !released[k] {
			v.Disbursements.Duplicates += len(rows)
			v.detail("disbursement of %s milestone %d exists, but the milestone is not released", k.id, k.no)
			continue
		}
		v.Disbursements.Found++
		if len(rows) > 1 {
			v.Disbursements.Duplicates += len(rows) - 1
			v.detail("%d disbursements for %s milestone %d", len(rows), k.id, k.no)
		}
	}
	for k := range released {
		if len(rowsAt[k]) == 0 {
			v.Disbursements.Missing++
			v.detail("no disbursement for released milestone %d of %s", k.no, k.id)
		}
	}
	for k, ref := range paid {
		rows := rowsAt[k]
		if len(rows) == 0 {
			v.Payments.Missing++
			continue
		}
		d := rows[0]
		switch {
		case d.Status != "paid":
			v.Payments.Missing++
			v.detail("disbursement %s is %s, but milestone %d of %s is paid", d.ID, d.Status, k.no, k.id)
		case ref != "" && d.Reference != ref:
			v.Payments.Duplicates++
			v.detail("disbursement %s paid with reference %q, the suite confirmed %q", d.ID, d.Reference, ref)
		default:
			v.Payments.Found++
		}
	}
	for k, rows := range rowsAt {
		if _, ok := paid[k]; !ok && len(rows) > 0 && rows[0].Status == "paid" {
			v.Payments.Duplicates++
			v.detail("disbursement %s is paid, but the suite never confirmed it and the read model does not show it paid", rows[0].ID)
		}
	}

	// Ledger: per disbursement line exactly one release entry, and one pay entry if paid.
	disbByID := map[string]disbRow{}
	for _, d := range disbs {
		disbByID[d.ID] = d
	}
	type lk struct {
		initiative string
		no         int
		source     string
	}
	entryCount := map[string]map[lk][]int64{"release": {}, "pay": {}}
	reserved := map[string]map[string]int64{}
	for _, e := range entries {
		switch e.Kind {
		case "release", "pay":
			k := lk{e.InitiativeID, e.MilestoneNo, e.SourceID}
			entryCount[e.Kind][k] = append(entryCount[e.Kind][k], e.AmountØre)
		case "reserve", "unreserve":
			if reserved[e.InitiativeID] == nil {
				reserved[e.InitiativeID] = map[string]int64{}
			}
			if e.Kind == "reserve" {
				reserved[e.InitiativeID][e.SourceID] += e.AmountØre
			} else {
				reserved[e.InitiativeID][e.SourceID] -= e.AmountØre
			}
		}
	}
	lineKeys := map[string]map[lk]int64{"release": {}, "pay": {}}
	for _, l := range lines {
		d, ok := disbByID[l.DisbursementID]
		if !ok {
			continue
		}
		k := lk{d.InitiativeID, d.MilestoneNo, l.SourceID}
		lineKeys["release"][k] = l.AmountØre
		if d.Status == "paid" {
			lineKeys["pay"][k] = l.AmountØre
		}
	}
	for kind, t := range map[string]*tally{"release": &v.ReleaseLines, "pay": &v.PayLines} {
		for k, amount := range lineKeys[kind] {
			t.Expected++
			got := entryCount[kind][k]
			switch {
			case len(got) == 0:
				t.Missing++
				v.detail("no %s entry for %s milestone %d source %s", kind, k.initiative, k.no, k.source)
			case got[0] != amount:
				t.Missing++
				v.detail("%s entry for %s milestone %d source %s is %d øre, the line %d", kind, k.initiative, k.no, k.source, got[0], amount)
			default:
				t.Found++
			}
			if len(got) > 1 {
				t.Duplicates += len(got) - 1
				v.detail("%d %s entries for %s milestone %d source %s", len(got), kind, k.initiative, k.no, k.source)
			}
		}
		for k, got := range entryCount[kind] {
			if _, ok := lineKeys[kind][k]; !ok {
				t.Duplicates += len(got)
				v.detail("%s entry for %s milestone %d source %s has no disbursement line", kind, k.initiative, k.no, k.source)
			}
		}
	}

	// Reservations: an approved initiative has its whole budget reserved (net of unreserve), any other none.
	budget := map[string]int64{"lbf": lbfPerMilestone * milestones, "viborg-kommune": kommunePerMilestone * milestones}
	for id := range runByID {
		v.Reservations.Expected++
		approved := slices.Contains([]string{"funding", "executing", "evaluation", "completed"}, phaseOf[id])
		ok := true
		for _, src := range []string{"lbf", "viborg-kommune"} {
			want := int64(0)
			if approved {
				want = budget[src]
			}
			if got := reserved[id][src]; got != want {
				ok = false
				v.detail("initiative %s (%s): %d øre reserved from %s, want %d", id, phaseOf[id], got, src, want)
			}
		}
		if ok {
			v.Reservations.Found++
		} else {
			v.Reservations.Missing++
		}
	}

	// Outbox and webhooks: a message per released and per paid disbursement, each delivered exactly once.
	inOutbox := map[string]bool{}
	for _, o := range outbox {
		inOutbox[o.Key] = true
		if !o.Delivered {
			v.Undelivered++
			v.detail("outbox message %s is not delivered", o.Key)
		}
	}
	var wantKeys []string
	for _, d := range disbs {
		wantKeys = append(wantKeys, store.TopicDisbursementReleased+"/"+d.ID)
		if d.Status == "paid" {
			wantKeys = append(wantKeys, store.TopicDisbursementPaid+"/"+d.ID)
		}
	}
	sort.Strings(wantKeys)
	v.OutboxRows.Expected = len(wantKeys)
	for _, k := range wantKeys {
		if inOutbox[k] {
			v.OutboxRows.Found++
		} else {
			v.OutboxRows.Missing++
			v.detail("no outbox message %s", k)
		}
	}
	if extra := len(outbox) - v.OutboxRows.Found; extra > 0 {
		v.OutboxRows.Duplicates = extra
		v.detail("%d outbox messages for no disbursement", extra)
	}
	v.Webhooks.Expected = len(outbox)
	for _, o := range outbox {
		n := rs.AcceptedKey[o.Key]
		switch {
		case n == 0:
			v.Webhooks.Missing++
			v.detail("webhook %s never reached the receiver", o.Key)
		default:
			v.Webhooks.Found++
			if n > 1 {
				v.Webhooks.Duplicates += n - 1
				v.detail("webhook %s delivered %d times", o.Key, n)
			}
		}
	}
	for k := range rs.AcceptedKey {
		if !inOutbox[k] {
			v.Unexpected++
			v.detail("the receiver got %s, which is not in the outbox", k)
		}
	}
	v.Differed, v.BadSignatures, v.NoKey = len(rs.Differed), rs.BadSig, rs.NoKey
	for _, k := range rs.Differed {
		v.detail("webhook %s was delivered again with another payload", k)
	}
	sort.Strings(v.Stuck)
	sort.Strings(v.Details)
	return v, nil
}

// ok reports whether everything the verification counts is as it must be.
func (v *verification) ok() bool {
	reached := 0
	for _, n := range v.Reached {
		reached += n
	}
	expected := 0
	for _, n := range v.Expected {
		expected += n
	}
	return reached == expected && v.DuplicateInitiatives == 0 && v.UnknownInitiatives == 0 &&
		v.Disbursements.ok() && v.Payments.ok() && v.ReleaseLines.ok() && v.PayLines.ok() && v.Reservations.ok() &&
		v.OutboxRows.ok() && v.Undelivered == 0 && v.Webhooks.ok() && v.Unexpected == 0 && v.Differed == 0 &&
		v.BadSignatures == 0 && v.NoKey == 0
}
