// Package doctor compares what the initiative workflows hold with what PostgreSQL holds — the read model, the
// event log, the ledger, the disbursements and the outbox — and lists every difference. `helhedsplan doctor`, the
// admin endpoint and the chaos suite run it.
//
// # What is compared
//
// Every initiative that has a running workflow, and every initiative whose read-model phase is not terminal, is
// checked. For a running workflow the doctor queries its state (the truth) and compares:
//
//   - the read model: the row's version and phase and the stored snapshot, field by field;
//   - the event log: seqs 1..version without a gap, each event starting in the phase the previous one ended in,
//     the last one ending in the workflow's phase;
//   - the ledger: per funding source, a reservation equal to the approved budget once the initiative is approved
//     (what was paid, once cancelled), a release equal to the tranche of every released or paid milestone (net of
//     withdrawals: a withdrawn tranche nets to nothing), a payment for every paid one, and nothing else;
//   - the disbursements: one per released, paid or withdrawn milestone, named domain.DisbursementID, pending, paid
//     or withdrawn as the workflow says, with the payment reference and the tranche's lines, and its finance
//     messages in the outbox.
//
// An initiative whose read-model phase is not terminal but whose workflow is closed is stuck; one whose workflow
// does not exist at all is reported too. (Initiatives in a terminal phase are not looked up: Temporal deletes
// closed workflows after the namespace's retention period, and the read model and event log are then the record.)
// Outbox messages not delivered for longer than Options.OutboxGrace are listed with their age.
//
// Live traffic moves workflows while the doctor reads: a step is written to PostgreSQL before the workflow adopts
// it, so for a moment the read model is one step ahead. A check that finds a difference is therefore repeated a
// few times over a couple of seconds, and only a difference that stays is reported.
//
// # What is repaired (Options.Repair) and what is not
//
//   - A read model behind its running workflow is reported, not repaired. The workflow adopts a state only after
//     its write committed, so this happens only when the database was restored from a backup older than the
//     workflows; the steps since are in the workflow's history, not in the read model, and rebuilding them is a
//     decision for an operator.
//   - A read model ahead of its running workflow (a step committed but the workflow lost it, e.g. its answer was
//     lost when the database died): the workflow adopts the stored state through the reconcile update
//     (workflows.UpdateReconcile), and only when everything else in PostgreSQL — the event log, the ledger and the
//     disbursements — agrees with that stored state, so the workflow never adopts a tampered or half-written row.
//     No money moves: the ledger already holds the step.
//   - Undelivered outbox messages are the dispatcher's to deliver, with its backoff; they are reported (with
//     age, attempts and last error), never sent or rewritten by the doctor.
//   - Anything else — a ledger entry, a disbursement, a payment reference, an event-log gap, a stuck or missing
//     workflow — is reported only. These involve money or the audit trail, and the right correction (a
//     compensating entry, a workflow reset, asking finance) needs a person who knows what happened.
package doctor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/lib/pq"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"golang.org/x/sync/errgroup"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// Kinds of finding. They are stable: scripts and the chaos suite match on them.
const (
	// KindWorkflowUnreadable: the workflow is running but did not answer the state query (no worker polling, or
	// the query failed).
	KindWorkflowUnreadable = "workflow_unreadable"
	// KindReadModelMissing: a running workflow has no read-model row.
	KindReadModelMissing = "read_model_missing"
	// KindReadModelBehind: the read model's version is lower than the workflow's.
	KindReadModelBehind = "read_model_behind"
	// KindReadModelAhead: the read model's version is higher than the workflow's: the workflow lost a step.
	KindReadModelAhead = "read_model_ahead"
	// KindPhaseMismatch: same version, but the read model's phase (column or snapshot) is not the workflow's.
	KindPhaseMismatch = "phase_mismatch"
	// KindTrancheMismatch: same version, but a milestone's tranche status differs.
	KindTrancheMismatch = "tranche_status_mismatch"
	// KindSnapshotMismatch: same version, but other fields of the read model differ from the workflow's state.
	KindSnapshotMismatch = "snapshot_mismatch"
	// KindEventGap: the event log's seqs do not run 1, 2, 3, … without a gap.
	KindEventGap = "event_gap"
	// KindEventLogMismatch: the event log does not end at the workflow's version and phase, or an event does not
	// start in the phase the previous one ended in.
	KindEventLogMismatch = "event_log_mismatch"
	// KindLedgerMismatch: the initiative's ledger entries are not what its state implies.
	KindLedgerMismatch = "ledger_mismatch"
	// KindDisbursementMissing: a released, paid or withdrawn milestone has no disbursement.
	KindDisbursementMissing = "disbursement_missing"
	// KindDisbursementUnexpected: a disbursement exists for a milestone whose tranche was not released.
	KindDisbursementUnexpected = "disbursement_unexpected"
	// KindDisbursementMismatch: a disbursement's status, reference, lines or ID differ from the workflow's.
	KindDisbursementMismatch = "disbursement_mismatch"
	// KindOutboxMissing: a disbursement has no finance message in the outbox.
	KindOutboxMissing = "outbox_missing"
	// KindOutboxUndelivered: a finance message has not been delivered for longer than the grace period.
	KindOutboxUndelivered = "outbox_undelivered"
	// KindStuck: the read-model phase is not terminal, but the workflow is closed (terminated, failed, timed out,
	// or completed without recording its last step).
	KindStuck = "stuck"
	// KindWorkflowMissing: the read-model phase is not terminal and there is no workflow at all.
	KindWorkflowMissing = "workflow_missing"
)

// Defaults and bounds.
const (
	DefaultConcurrency = 4
	// DefaultOutboxGrace is how long a message may wait undelivered before it is reported: longer than the
	// dispatcher's first few backoffs, so a receiver that blinks is not an alarm.
	DefaultOutboxGrace = 2 * time.Minute
	// rpcTimeout bounds one query or describe; a workflow without a worker would otherwise hold a check forever.
	rpcTimeout = 15 * time.Second
	// updateTimeout bounds a repair update: it waits for the workflow's mutex, i.e. for a write in flight.
	updateTimeout = 60 * time.Second
	listPageSize  = 500
)

// settleDelays are the pauses before a check that found differences is repeated, so that a step in flight
// (written to PostgreSQL, not yet adopted by the workflow) is not reported.
var settleDelays = []time.Duration{200 * time.Millisecond, 800 * time.Millisecond, 2 * time.Second}

// Deps are what the doctor reads.
type Deps struct {
	Client client.Client
	Store  *store.Store
	Log    *slog.Logger
}

// Options change what Check does.
type Options struct {
	// Repair makes the safe repairs described in the package documentation.
	Repair bool
	// Concurrency is how many initiatives are checked at once; default DefaultConcurrency.
	Concurrency int
	// OutboxGrace is how long an undelivered outbox message may wait before it is reported; 0 means
	// DefaultOutboxGrace, a negative value skips the outbox check (no finance webhook is configured, so nothing
	// delivers messages).
	OutboxGrace time.Duration
	// PlanID, when set, checks only that plan's initiatives (those the read model places in it) and leaves out the
	// outbox check, which spans plans. The admin endpoint sets it to the plan its caller administers.
	PlanID string
}

// Finding is one difference.
type Finding struct {
	InitiativeID string `json:"initiative_id"` // "" for a finding about no initiative in particular
	Kind         string `json:"kind"`
	Detail       string `json:"detail"`
	Repaired     bool   `json:"repaired"`
}

// Report is the outcome of Check.
type Report struct {
	Checked  int       `json:"checked"` // initiatives checked
	Findings []Finding `json:"findings"`
}

// Unrepaired counts the findings that still need attention.
func (r Report) Unrepaired() int {
	n := 0
	for _, f := range r.Findings {
		if !f.Repaired {
			n++
		}
	}
	return n
}

// Check compares every open initiative workflow with PostgreSQL and, with opts.Repair, repairs what is safe. It
// returns an error only when it could not check (PostgreSQL or Temporal did not answer); differences are findings.
func Check(ctx context.Context, d Deps, opts Options) (Report, error) {
	if d.Client == nil || d.Store == nil {
		return Report{}, errors.New("doctor: a Temporal client and a store are required")
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.OutboxGrace == 0 {
		opts.OutboxGrace = DefaultOutboxGrace
	}
	c := &checker{d: d, opts: opts}

	ids, err := c.candidates(ctx)
	if err != nil {
		return Report{}, err
	}
	if opts.PlanID != "" {
		if ids, err = c.inPlan(ctx, ids, opts.PlanID); err != nil {
			return Report{}, err
		}
		opts.OutboxGrace, c.opts.OutboxGrace = -1, -1
	}
	results := make([][]Finding, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Concurrency)
	for i, id := range ids {
		g.Go(func() error {
			fs, err := c.initiative(gctx, id)
			if err != nil {
				return fmt.Errorf("doctor: initiative %s: %w", id, err)
			}
			results[i] = fs
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Report{}, err
	}
	rep := Report{Checked: len(ids), Findings: []Finding{}}
	for _, fs := range results {
		rep.Findings = append(rep.Findings, fs...)
	}
	if opts.OutboxGrace > 0 {
		fs, err := c.undelivered(ctx)
		if err != nil {
			return Report{}, err
		}
		rep.Findings = append(rep.Findings, fs...)
	}
	slices.SortStableFunc(rep.Findings, func(a, b Finding) int {
		return strings.Compare(a.InitiativeID, b.InitiativeID)
	})
	d.Log.Info("doctor: checked", "initiatives", rep.Checked, "findings", len(rep.Findings),
		"unrepaired", rep.Unrepaired(), "repair", opts.Repair)
	return rep, nil
}

type checker struct {
	d    Deps
	opts Options
}

// inPlan keeps the IDs the read model places in planID.
func (c *checker) inPlan(ctx context.Context, ids []string, planID string) ([]string, error) {
	const q = `SELECT id FROM initiatives WHERE plan_id = $1 AND id = ANY($2) ORDER BY id`
	var out []string
	if err := c.d.Store.DB().SelectContext(ctx, &out, q, planID, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("doctor: initiatives of plan %s: %w", planID, err)
	}
	return out, nil
}

// candidates are the initiatives to check: those with a running workflow and those the read model has in a
// phase that is not terminal, sorted and without repeats.
func (c *checker) candidates(ctx context.Context) ([]string, error) {
	seen := map[string]bool{}
	prefix := workflows.InitiativeWorkflowID("")
	query := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.InitiativeWorkflowName)
	var token []byte
	for {
		resp, err := c.d.Client.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: listPageSize, NextPageToken: token, Query: query})
		if err != nil {
			return nil, fmt.Errorf("doctor: list running workflows: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			wfID := e.GetExecution().GetWorkflowId()
			id, ok := strings.CutPrefix(wfID, prefix)
			if !ok || id == "" {
				c.d.Log.Warn("doctor: an Initiative workflow with an unexpected ID", "workflow_id", wfID)
				continue
			}
			seen[id] = true
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			break
		}
	}
	for _, p := range domain.Phases {
		if p.Terminal() {
			continue
		}
		after := ""
		for {
			items, next, err := c.d.Store.ListInitiatives(ctx, store.InitiativeFilter{Phase: p, After: after,
				Limit: store.MaxPageSize})
			if err != nil {
				return nil, fmt.Errorf("doctor: list initiatives in %s: %w", p, err)
			}
			for _, it := range items {
				seen[it.ID] = true
			}
			if next == "" {
				break
			}
			after = next
		}
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids, nil
}

// initiative checks one initiative until its findings settle, then repairs what it may.
func (c *checker) initiative(ctx context.Context, id string) ([]Finding, error) {
	var o outcome
	var err error
	for attempt := 0; ; attempt++ {
		if o, err = c.checkOnce(ctx, id); err != nil {
			return nil, err
		}
		if len(o.findings) == 0 || attempt == len(settleDelays) {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(settleDelays[attempt]):
		}
	}
	if !c.opts.Repair {
		return o.findings, nil
	}
	if o.has(KindReadModelAhead) && o.aheadConsistent {
		return c.repair(ctx, id, o, KindReadModelAhead, workflows.UpdateReconcile)
	}
	return o.findings, nil
}

// repair sends the workflow an update that brings it and the read model together, and checks again. The finding
// of kind is repaired when the new check no longer has it; the new check's other findings are reported as they are.
func (c *checker) repair(ctx context.Context, id string, before outcome, kind, update string) ([]Finding, error) {
	detail := before.detail(kind)
	uctx, cancel := context.WithTimeout(ctx, updateTimeout)
	defer cancel()
	h, err := c.d.Client.UpdateWorkflow(uctx, client.UpdateWorkflowOptions{
		WorkflowID:   workflows.InitiativeWorkflowID(id),
		UpdateID:     "doctor/" + update + "/" + uuid.NewString(),
		UpdateName:   update,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		err = h.Get(uctx, nil) // the answer is not needed: the check below reads what matters
	}
	if err != nil {
		c.d.Log.Warn("doctor: repair update failed", "initiative_id", id, "update", update, "error", err)
		return before.withDetail(kind, fmt.Sprintf("%s; the %s update failed: %v", detail, update, err)), nil
	}
	after, err := c.checkOnce(ctx, id)
	if err != nil {
		return nil, err
	}
	if after.has(kind) {
		return after.withDetail(kind, fmt.Sprintf("%s; still so after the %s update", after.detail(kind), update)), nil
	}
	c.d.Log.Info("doctor: repaired", "initiative_id", id, "kind", kind, "update", update)
	return append([]Finding{{InitiativeID: id, Kind: kind, Detail: detail + "; repaired by the " + update + " update",
		Repaired: true}}, after.findings...), nil
}

// outcome is one check of one initiative.
type outcome struct {
	findings []Finding
	// aheadConsistent is set when the read model is ahead of the workflow and the event log, the ledger and the
	// disbursements all agree with the read model's state: a step that committed whole and that the workflow lost.
	aheadConsistent bool
}

func (o *outcome) add(id, kind, format string, args ...any) {
	o.findings = append(o.findings, Finding{InitiativeID: id, Kind: kind, Detail: fmt.Sprintf(format, args...)})
}

func (o outcome) has(kind string) bool {
	return slices.ContainsFunc(o.findings, func(f Finding) bool { return f.Kind == kind })
}

func (o outcome) detail(kind string) string {
	for _, f := range o.findings {
		if f.Kind == kind {
			return f.Detail
		}
	}
	return ""
}

func (o outcome) withDetail(kind, detail string) []Finding {
	out := slices.Clone(o.findings)
	for i := range out {
		if out[i].Kind == kind {
			out[i].Detail = detail
		}
	}
	return out
}

// checkOnce compares one initiative's workflow with PostgreSQL.
func (c *checker) checkOnce(ctx context.Context, id string) (outcome, error) {
	var o outcome
	row, err := c.loadRow(ctx, id)
	if err != nil {
		return o, err
	}
	wfID := workflows.InitiativeWorkflowID(id)
	dctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	desc, err := c.d.Client.DescribeWorkflowExecution(dctx, wfID, "")
	cancel()
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		if row != nil && !row.Phase.Terminal() {
			o.add(id, KindWorkflowMissing, "read model: phase %s (%s), version %d; workflow %s does not exist",
				row.Phase, row.Phase.DanishName(), row.Version, wfID)
		}
		return o, nil
	case err != nil:
		return o, fmt.Errorf("describe workflow %s: %w", wfID, err)
	}
	if status := desc.GetWorkflowExecutionInfo().GetStatus(); status != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		if row != nil && !row.Phase.Terminal() {
			o.add(id, KindStuck, "read model: phase %s (%s), version %d; workflow %s is %s",
				row.Phase, row.Phase.DanishName(), row.Version, wfID, statusName(status))
		}
		return o, nil
	}

	qctx, cancel := context.WithTimeout(ctx, rpcTimeout)
	v, err := c.d.Client.QueryWorkflow(qctx, wfID, "", workflows.QueryState)
	var wf domain.Initiative
	if err == nil {
		err = v.Get(&wf)
	}
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return o, ctx.Err()
		}
		o.add(id, KindWorkflowUnreadable, "query %s of %s: %v", workflows.QueryState, wfID, err)
		return o, nil
	}
	if wf.Version == 0 {
		return o, nil // started, first step not yet recorded: nothing to compare
	}
	if row == nil {
		o.add(id, KindReadModelMissing, "workflow at version %d, phase %s; no read-model row", wf.Version, wf.Phase)
		return o, nil
	}

	var rm *domain.Initiative
	if snap, err := c.d.Store.GetInitiative(ctx, id); err == nil {
		rm = &snap
	} else if !errors.Is(err, store.ErrNotFound) {
		return o, err
	}
	compareReadModel(&o, id, wf, *row, rm)

	db, err := c.loadMoney(ctx, id)
	if err != nil {
		return o, err
	}
	events, err := c.loadEvents(ctx, id)
	if err != nil {
		return o, err
	}
	compareEvents(&o, id, wf, events)
	compareMoney(&o, id, wf, db)

	if rm != nil && row.Version > wf.Version && rm.Version == row.Version {
		// Would the read model's state pass the same checks the workflow's state just failed?
		var alt outcome
		compareEvents(&alt, id, *rm, events)
		compareMoney(&alt, id, *rm, db)
		o.aheadConsistent = len(alt.findings) == 0
	}
	return o, nil
}

func statusName(s enumspb.WorkflowExecutionStatus) string {
	return strings.TrimPrefix(s.String(), "WorkflowExecutionStatus")
}

// readModelRow is the read model's columns, which lists and filters use; the snapshot is read with GetInitiative.
type readModelRow struct {
	ID          string       `db:"id"`
	PlanID      string       `db:"plan_id"`
	Title       string       `db:"title"`
	Phase       domain.Phase `db:"phase"`
	DelaftaleID string       `db:"delaftale_id"`
	ProposerID  string       `db:"proposer_id"`
	BudgetØre   int64        `db:"budget_ore"`
	Version     int64        `db:"version"`
}

func (c *checker) loadRow(ctx context.Context, id string) (*readModelRow, error) {
	const q = `
		SELECT id, plan_id, title, phase, delaftale_id, proposer_id, budget_ore, version
		FROM initiatives
		WHERE id = $1`
	var rows []readModelRow
	if err := c.d.Store.DB().SelectContext(ctx, &rows, q, id); err != nil {
		return nil, fmt.Errorf("read model row: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	return &rows[0], nil
}

func (c *checker) loadEvents(ctx context.Context, id string) ([]store.Event, error) {
	var all []store.Event
	var after int64
	for {
		page, err := c.d.Store.ListEvents(ctx, id, after, store.MaxEventPage)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < store.MaxEventPage {
			return all, nil
		}
		after = page[len(page)-1].Seq
	}
}

// ledgerRow is one ledger entry of an initiative.
type ledgerRow struct {
	SourceID    string `db:"source_id"`
	Kind        string `db:"kind"`
	MilestoneNo *int   `db:"milestone_no"`
	AmountØre   int64  `db:"amount_ore"`
}

// moneyRows are an initiative's ledger entries, disbursements and finance outbox keys.
type moneyRows struct {
	ledger        []ledgerRow
	disbursements []store.Disbursement
	outboxKeys    map[string]bool
}

func (c *checker) loadMoney(ctx context.Context, id string) (moneyRows, error) {
	var m moneyRows
	db := c.d.Store.DB()
	const qLedger = `
		SELECT source_id, kind, milestone_no, amount_ore
		FROM ledger_entries
		WHERE initiative_id = $1
		ORDER BY id`
	if err := db.SelectContext(ctx, &m.ledger, qLedger, id); err != nil {
		return m, fmt.Errorf("ledger entries: %w", err)
	}
	const qDisbursements = `
		SELECT id
		FROM disbursements
		WHERE initiative_id = $1
		ORDER BY milestone_no, id`
	var ids []string
	if err := db.SelectContext(ctx, &ids, qDisbursements, id); err != nil {
		return m, fmt.Errorf("disbursements: %w", err)
	}
	keys := make([]string, 0, 3*len(ids))
	for _, did := range ids {
		d, err := c.d.Store.GetDisbursement(ctx, did)
		if err != nil {
			return m, err
		}
		m.disbursements = append(m.disbursements, d)
		keys = append(keys, store.TopicDisbursementReleased+"/"+did, store.TopicDisbursementPaid+"/"+did,
			store.TopicDisbursementWithdrawn+"/"+did)
	}
	m.outboxKeys = map[string]bool{}
	if len(keys) > 0 {
		const qOutbox = `
			SELECT key
			FROM outbox
			WHERE key = ANY($1)`
		var found []string
		if err := db.SelectContext(ctx, &found, qOutbox, pq.Array(keys)); err != nil {
			return m, fmt.Errorf("outbox keys: %w", err)
		}
		for _, k := range found {
			m.outboxKeys[k] = true
		}
	}
	return m, nil
}

// outboxRow is an undelivered message with its age in the database's clock.
type outboxRow struct {
	ID            int64     `db:"id"`
	Topic         string    `db:"topic"`
	Key           string    `db:"key"`
	InitiativeID  string    `db:"initiative_id"`
	Attempts      int       `db:"attempts"`
	LastError     *string   `db:"last_error"`
	NextAttemptAt time.Time `db:"next_attempt_at"`
	AgeSeconds    float64   `db:"age_seconds"`
	Due           bool      `db:"due"`
}

// undelivered lists outbox messages older than the grace period that no receiver has accepted.
func (c *checker) undelivered(ctx context.Context) ([]Finding, error) {
	const q = `
		SELECT id, topic, key, COALESCE(payload->>'initiative_id', '') AS initiative_id, attempts, last_error,
		       next_attempt_at, EXTRACT(EPOCH FROM now() - created_at)::float8 AS age_seconds,
		       next_attempt_at <= now() AS due
		FROM outbox
		WHERE delivered_at IS NULL AND created_at <= now() - $1::bigint * interval '1 microsecond'
		ORDER BY id`
	var rows []outboxRow
	if err := c.d.Store.DB().SelectContext(ctx, &rows, q, c.opts.OutboxGrace.Microseconds()); err != nil {
		return nil, fmt.Errorf("doctor: undelivered outbox messages: %w", err)
	}
	out := make([]Finding, 0, len(rows))
	for _, r := range rows {
		age := (time.Duration(r.AgeSeconds) * time.Second).Truncate(time.Second)
		var b strings.Builder
		fmt.Fprintf(&b, "%s not delivered after %s, %d attempt(s)", r.Key, age, r.Attempts)
		if r.Due {
			b.WriteString("; due now, left to the dispatcher")
		} else {
			fmt.Fprintf(&b, "; next attempt %s", r.NextAttemptAt.UTC().Format(time.RFC3339))
		}
		if r.LastError != nil {
			fmt.Fprintf(&b, "; last error: %s", *r.LastError)
		}
		out = append(out, Finding{InitiativeID: r.InitiativeID, Kind: KindOutboxUndelivered, Detail: b.String()})
	}
	return out, nil
}

// jsonValue decodes v's JSON into generic values, so two states compare the way they are stored.
func jsonValue(v any) (any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var out any
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	return out, nil
}
