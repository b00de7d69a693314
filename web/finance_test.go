package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
	"github.com/helhedsplan/helhedsplan/web"
	"github.com/helhedsplan/helhedsplan/workflows"
)

// paymentWorkflows stands in for Temporal behind service.New: it records every update and, like the initiative
// workflow, runs the update's validator (domain.CheckConfirmPayment on the initiative as stored) and writes an
// accepted payment through the store, so the pages show it.
type paymentWorkflows struct {
	st    *store.Store
	mu    sync.Mutex
	calls []paymentCall
	err   error // answered instead of carrying out the update, when set
}

type paymentCall struct {
	InitiativeID, Name, UpdateID string
	Input                        workflows.ConfirmPaymentInput
}

func (f *paymentWorkflows) Start(context.Context, workflows.StartInput) (workflows.UpdateResult, error) {
	return workflows.UpdateResult{}, errors.New("fake workflows: Start is not used by the finance pages")
}

func (f *paymentWorkflows) Update(ctx context.Context, initiativeID, name, updateID string, arg any) (workflows.UpdateResult, error) {
	in, _ := arg.(workflows.ConfirmPaymentInput)
	f.mu.Lock()
	f.calls = append(f.calls, paymentCall{initiativeID, name, updateID, in})
	failWith := f.err
	f.mu.Unlock()
	if failWith != nil {
		return workflows.UpdateResult{}, failWith
	}
	if name != workflows.UpdateConfirmPayment {
		return workflows.UpdateResult{}, fmt.Errorf("fake workflows: unexpected update %s", name)
	}
	cur, err := f.st.GetInitiative(ctx, initiativeID)
	if err != nil {
		return workflows.UpdateResult{}, err
	}
	if err := domain.CheckConfirmPayment(&cur, in.Actor, in.DisbursementID, in.Reference); err != nil {
		return workflows.UpdateResult{}, err
	}
	for i := range cur.Milestones {
		m := &cur.Milestones[i]
		if m.DisbursementID != in.DisbursementID || m.TrancheStatus != domain.TrancheReleased {
			continue
		}
		at := cur.UpdatedAt.Add(time.Hour)
		m.TrancheStatus, m.PaymentReference, m.PaidAt = domain.TranchePaid, in.Reference, &at
		tr := finTransition(&cur, "payment_confirmed", in.Actor, domain.PhaseExecuting, at)
		if err := f.st.ConfirmPayment(ctx, store.PayInput{DisbursementID: in.DisbursementID, Reference: in.Reference,
			Actor: in.Actor, Transition: tr}); err != nil {
			return workflows.UpdateResult{}, err
		}
	}
	return workflows.UpdateResult{InitiativeID: cur.ID, Phase: cur.Phase, Version: cur.Version}, nil
}

func (f *paymentWorkflows) recorded() []paymentCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]paymentCall(nil), f.calls...)
}

func (f *paymentWorkflows) failWith(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

// newPaymentApp is newApp with the service acting through a paymentWorkflows.
func newPaymentApp(t *testing.T, cfg web.Config) (*app, *paymentWorkflows) {
	t.Helper()
	st := dbtest.New(t)
	wf := &paymentWorkflows{st: st}
	w, err := web.New(cfg, st, service.New(st, wf, nil), st.DB().DB)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	t.Cleanup(w.Close)
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return &app{t: t, st: st, srv: srv}, wf
}

// finTransition moves in to phase by actor at at, as one transition with a deep copy of the initiative.
func finTransition(in *domain.Initiative, typ string, actor domain.Actor, phase domain.Phase, at time.Time) store.Transition {
	before := in.Phase
	in.Version++
	in.Phase = phase
	in.UpdatedAt = at
	b, _ := json.Marshal(in)
	var snap domain.Initiative
	_ = json.Unmarshal(b, &snap)
	return store.Transition{
		Event: store.Event{InitiativeID: in.ID, Seq: in.Version, Type: typ, ActorID: actor.UserID, ActorName: actor.Name,
			ActorRole: actor.Role, At: at, PhaseBefore: before, PhaseAfter: phase, Payload: json.RawMessage(`{}`)},
		Snapshot: snap,
	}
}

// tranche is one milestone's tranche in a funded fixture; paidWith, when set, is the reference it is paid with.
type tranche struct {
	lines    []domain.SourceAmount
	release  bool
	paidWith string
}

// funded writes an approved initiative of the Viborg plan to the store as the workflow's activities would:
// submitted, its whole budget reserved (store.Reserve), the tranches marked release released (store.Release),
// in order, and those with paidWith paid by Peter (store.ConfirmPayment). Steps are an hour apart from start.
func funded(t *testing.T, st *store.Store, id, title string, start time.Time, tranches ...tranche) *domain.Initiative {
	t.Helper()
	ctx := context.Background()
	var budget []domain.SourceAmount
	var milestones []domain.MilestonePlan
	for i, tr := range tranches {
		for _, l := range tr.lines {
			budget = append(budget, l)
		}
		milestones = append(milestones, domain.MilestonePlan{Title: fmt.Sprintf("Milepæl %d", i+1),
			DueDate: domain.NewDate(2023, 12, 31), Tranche: tr.lines})
	}
	merged := map[string]domain.Money{}
	var order []string
	for _, l := range budget {
		if _, ok := merged[l.SourceID]; !ok {
			order = append(order, l.SourceID)
		}
		merged[l.SourceID] += l.AmountØre
	}
	budget = budget[:0]
	for _, s := range order {
		budget = append(budget, domain.SourceAmount{SourceID: s, AmountØre: merged[s]})
	}
	if len(milestones) > 0 {
		milestones[0].Title = "Opstart"
	}
	p := domain.Proposal{Title: title, Description: "Beskrivelse.", DelaftaleID: "uddannelse-og-livschancer",
		HousingAreaIDs: []string{"houlkaervaenget"}, TargetGroup: "Børn", Budget: budget, Milestones: milestones,
		Goals: []domain.Goal{{ID: "g1", Description: "Mål", SuccessCriterion: "Kriterium"}}}
	in := &domain.Initiative{ID: id, PlanID: planID, Revision: 1, Proposer: mette, Proposal: p,
		Decisions: []domain.Decision{}, Milestones: domain.MilestonesFromPlan(milestones), CreatedAt: start}
	at := start
	if err := st.RecordTransition(ctx, finTransition(in, "submitted", mette, domain.PhaseBoardReview, at)); err != nil {
		t.Fatalf("submit %s: %v", id, err)
	}
	at = at.Add(time.Hour)
	if err := st.Reserve(ctx, store.ReserveInput{PlanID: planID, InitiativeID: id, DelaftaleID: p.DelaftaleID,
		Lines: budget, Transition: finTransition(in, "approved", hanne, domain.PhaseExecuting, at)}); err != nil {
		t.Fatalf("reserve %s: %v", id, err)
	}
	for i, tr := range tranches {
		if !tr.release {
			continue
		}
		m := &in.Milestones[i]
		at = at.Add(time.Hour)
		released := at
		m.TrancheStatus, m.DisbursementID, m.ReleasedAt = domain.TrancheReleased, domain.DisbursementID(id, m.No), &released
		if err := st.Release(ctx, store.ReleaseInput{PlanID: planID, InitiativeID: id, DelaftaleID: p.DelaftaleID,
			DisbursementID: m.DisbursementID, MilestoneNo: m.No, MilestoneTitle: m.Title, Lines: m.Tranche,
			Transition: finTransition(in, "tranche_released", hanne, domain.PhaseFunding, at)}); err != nil {
			t.Fatalf("release %s: %v", m.DisbursementID, err)
		}
		if tr.paidWith == "" {
			continue
		}
		at = at.Add(time.Hour)
		paid := at
		m.TrancheStatus, m.PaymentReference, m.PaidAt = domain.TranchePaid, tr.paidWith, &paid
		if err := st.ConfirmPayment(ctx, store.PayInput{DisbursementID: m.DisbursementID, Reference: tr.paidWith,
			Actor: peter, Transition: finTransition(in, "payment_confirmed", peter, domain.PhaseExecuting, at)}); err != nil {
			t.Fatalf("pay %s: %v", m.DisbursementID, err)
		}
	}
	return in
}

func lbf(ore domain.Money) domain.SourceAmount {
	return domain.SourceAmount{SourceID: "lbf", AmountØre: ore}
}
func kommune(ore domain.Money) domain.SourceAmount {
	return domain.SourceAmount{SourceID: "viborg-kommune", AmountØre: ore}
}

// financeFixture: the Lektiecafé's first tranche (1.234.567,50 kr.) paid on 01.03.2022 with NETS-2022-0042, its
// second (500.000 kr.) pending since then; the Sommerlejr's only tranche (75.000 kr.) pending since 02.04.2022.
func financeFixture(t *testing.T, st *store.Store) {
	t.Helper()
	// The Lektiecafé's third milestone, Viborg Kommune's money and never released, keeps the approved budget's
	// local share above 25 % (32,9 %), so the co-financing rule lets the Sommerlejr's and later tests'
	// Landsbyggefonden-only approvals through.
	funded(t, st, "lektiecafe", "Lektiecafé i Houlkærvænget", time.Date(2022, 3, 1, 8, 0, 0, 0, time.UTC),
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(1_000_000)), kommune(domain.Kroner(234_567) + 50)}, release: true, paidWith: "NETS-2022-0042"},
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(500_000))}, release: true},
		tranche{lines: []domain.SourceAmount{kommune(domain.Kroner(500_000))}})
	funded(t, st, "sommerlejr", "Sommerlejr i Vestervang", time.Date(2022, 4, 2, 8, 0, 0, 0, time.UTC),
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(75_000))}, release: true},
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(25_000))}})
}

// section is the part of the page between the heading with id and the next section.
func section(t *testing.T, p page, id string) string {
	t.Helper()
	i := strings.Index(p.body, `<h2 id="`+id+`">`)
	if i < 0 {
		t.Fatalf("no section %s:\n%s", id, p.body)
	}
	rest := p.body[i:]
	if j := strings.Index(rest, "</section>"); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

func TestFinancePage(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	finance := a.browser()
	finance.signInAs("fin-peter")

	t.Run("finance_sees_pending_and_paid_in_danish", func(t *testing.T) {
		p := finance.get("/oekonomi")
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		pending := section(t, p, "afventer-betaling")
		for _, want := range []string{`href="/indsatser/lektiecafe"`, "2. Milepæl 2", "500.000 kr.", "01.03.2022",
			`href="/indsatser/sommerlejr"`, "1. Opstart", "75.000 kr.", "02.04.2022", "Bekræft betaling",
			"Referencen fra bankens kontoudtog", `name="form_key"`, `name="csrf_token"`} {
			if !strings.Contains(pending, want) {
				t.Errorf("pending list lacks %q:\n%s", want, pending)
			}
		}
		// Oldest first: the Lektiecafé's tranche was released a month before the Sommerlejr's.
		if strings.Index(pending, "Lektiecafé") > strings.Index(pending, "Sommerlejr") {
			t.Error("pending list is not oldest first")
		}
		paid := section(t, p, "betalt")
		for _, want := range []string{"Lektiecafé i Houlkærvænget", "1. Opstart", "1.234.567,50 kr.",
			"Landsbyggefonden 1.000.000 kr.", "Viborg Kommune 234.567,50 kr.", "NETS-2022-0042", "01.03.2022", "Peter Holm"} {
			if !strings.Contains(paid, want) {
				t.Errorf("paid list lacks %q:\n%s", want, paid)
			}
		}
		if strings.Contains(paid, "Sommerlejr") || strings.Contains(paid, "<form") {
			t.Error("the paid list shows a pending tranche or a form")
		}
	})
	t.Run("board_sees_the_lists_without_the_form", func(t *testing.T) {
		board := a.browser()
		board.signInAs("bs-hanne")
		p := board.get("/oekonomi")
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		mustContain(t, p, "Sommerlejr i Vestervang", "NETS-2022-0042")
		if strings.Contains(p.body, "Bekræft betaling") || strings.Contains(p.body, `name="reference"`) {
			t.Error("the board is offered the confirm form")
		}
	})
	t.Run("operational_group_403", func(t *testing.T) {
		og := a.browser()
		og.signInAs("og-mette")
		for _, path := range []string{"/oekonomi", "/oekonomi/udbetalinger.csv"} {
			p := og.get(path)
			if p.status != http.StatusForbidden {
				t.Fatalf("GET %s: %d, want 403", path, p.status)
			}
			mustContain(t, p, "Du har ikke adgang", "se udbetalinger", `lang="da"`)
			if strings.Contains(p.body, "Sommerlejr") {
				t.Errorf("GET %s: the refusal shows a disbursement", path)
			}
		}
	})
}

// A disbursement taken back from finance because its initiative was cancelled is listed under "Trukket tilbage"
// with when and why, not under those waiting for payment, and in the CSV with its Danish status.
func TestFinanceWithdrawn(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	ctx := context.Background()
	in := funded(t, a.st, "sommerlejr", "Sommerlejr i Vestervang", time.Date(2022, 4, 2, 8, 0, 0, 0, time.UTC),
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(75_000))}, release: true},
		tranche{lines: []domain.SourceAmount{lbf(domain.Kroner(25_000))}})
	at := in.UpdatedAt.Add(24 * time.Hour)
	ci := store.CancelInput{PlanID: planID, InitiativeID: in.ID, DelaftaleID: in.Proposal.DelaftaleID,
		Withdraw:   []store.WithdrawInput{{DisbursementID: "sommerlejr-t1", MilestoneNo: 1, Lines: in.Milestones[0].Tranche}},
		Unreserve:  []domain.SourceAmount{lbf(domain.Kroner(100_000))},
		Transition: finTransition(in, "cancelled", hanne, domain.PhaseCancelled, at)}
	if _, err := a.st.WriteStep(ctx, store.Step{Cancel: &ci}); err != nil {
		t.Fatalf("cancel: %v", err)
	}
	d, err := a.st.GetDisbursement(ctx, "sommerlejr-t1")
	if err != nil || d.Status != store.DisbursementWithdrawn || d.WithdrawnReason == nil {
		t.Fatalf("disbursement %+v, %v: want it withdrawn with a reason", d, err)
	}
	finance := a.browser()
	finance.signInAs("fin-peter")
	p := finance.get("/oekonomi")
	if p.status != http.StatusOK {
		t.Fatalf("status %d", p.status)
	}
	withdrawn := section(t, p, "trukket-tilbage")
	for _, want := range []string{`data-testid="withdrawn"`, `href="/indsatser/sommerlejr"`, "1. Opstart", "75.000 kr.",
		"02.04.2022", "03.04.2022", *d.WithdrawnReason} {
		if !strings.Contains(withdrawn, want) {
			t.Errorf("the withdrawn list lacks %q:\n%s", want, withdrawn)
		}
	}
	if pending := section(t, p, "afventer-betaling"); strings.Contains(pending, "Sommerlejr") {
		t.Error("the withdrawn tranche is still waiting for payment")
	}
	csvPage := finance.get("/oekonomi/udbetalinger.csv?status=withdrawn")
	if csvPage.status != http.StatusOK || !strings.Contains(csvPage.body, ";trukket tilbage;02.04.2022;;;;03.04.2022;") ||
		!strings.Contains(csvPage.body, *d.WithdrawnReason) {
		t.Errorf("CSV of the withdrawn: %d\n%s", csvPage.status, csvPage.body)
	}
}

// confirm posts the confirm form of disbursement id with reference, as the browser sends it.
func confirm(b *browser, id, reference string) page {
	return b.post("/oekonomi/udbetalinger/"+id+"/bekraeft", url.Values{"csrf_token": {b.csrf("/oekonomi")},
		"form_key": {"nøgle-" + id}, "reference": {reference}})
}

func TestConfirmPayment(t *testing.T) {
	a, wf := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	finance := a.browser()
	finance.signInAs("fin-peter")

	t.Run("confirm_reaches_the_workflow_and_redirects", func(t *testing.T) {
		p := confirm(finance, "sommerlejr-t1", " NETS-2022-0107 ")
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/oekonomi" {
			t.Fatalf("%d to %q, want 303 to /oekonomi: %s", p.status, p.header.Get("Location"), p.body)
		}
		want := []paymentCall{{InitiativeID: "sommerlejr", Name: workflows.UpdateConfirmPayment,
			UpdateID: service.ConfirmUpdateID("sommerlejr-t1", "NETS-2022-0107"),
			Input:    workflows.ConfirmPaymentInput{Actor: peter, DisbursementID: "sommerlejr-t1", Reference: "NETS-2022-0107"}}}
		if diff := cmp.Diff(want, wf.recorded()); diff != "" {
			t.Errorf("workflow updates (-want +got):\n%s", diff)
		}
		after := finance.get("/oekonomi")
		mustContain(t, after, `data-testid="flash"`, "Udbetalingen til „Sommerlejr i Vestervang“, milepæl 1: Opstart (75.000 kr.), er bekræftet som betalt med referencen „NETS-2022-0107“.")
		if paid := section(t, after, "betalt"); !strings.Contains(paid, "Sommerlejr i Vestervang") || !strings.Contains(paid, "NETS-2022-0107") {
			t.Errorf("the confirmed payment is not in the paid list:\n%s", paid)
		}
		if pending := section(t, after, "afventer-betaling"); strings.Contains(pending, "Sommerlejr") {
			t.Error("the confirmed payment is still pending")
		}
		if again := finance.get("/oekonomi"); strings.Contains(again.body, `data-testid="flash"`) {
			t.Error("the success message is shown twice")
		}
	})
	t.Run("empty_reference_422_at_the_field", func(t *testing.T) {
		p := confirm(finance, "lektiecafe-t2", "   ")
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", p.status)
		}
		mustContain(t, p, "<title>Fejl: Økonomi", `id="error-summary-heading"`, `href="#reference-lektiecafe-t2"`,
			`id="reference-lektiecafe-t2-fejl"`, "Feltet skal udfyldes.", `aria-invalid="true"`)
	})
	t.Run("too_long_reference_422_keeps_what_was_typed", func(t *testing.T) {
		typed := strings.Repeat("R", domain.MaxTitleLen+1)
		p := confirm(finance, "lektiecafe-t2", typed)
		if p.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", p.status)
		}
		mustContain(t, p, fmt.Sprintf("Højst %d tegn.", domain.MaxTitleLen), `value="`+typed+`"`)
	})
	t.Run("already_paid_with_another_reference_409", func(t *testing.T) {
		p := confirm(finance, "lektiecafe-t1", "NETS-ANDEN")
		if p.status != http.StatusConflict {
			t.Fatalf("status %d, want 409", p.status)
		}
		mustContain(t, p, "Udbetalingen er allerede bekræftet med referencen", "NETS-2022-0042", `href="#udbetaling-lektiecafe-t1"`)
	})
	t.Run("board_may_not_confirm_403", func(t *testing.T) {
		board := a.browser()
		board.signInAs("bs-hanne")
		p := confirm(board, "lektiecafe-t2", "NETS-X")
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
		mustContain(t, p, "Kun økonomi kan bekræfte en udbetaling")
	})
	t.Run("operational_group_may_not_confirm_403", func(t *testing.T) {
		og := a.browser()
		og.signInAs("og-mette")
		p := og.post("/oekonomi/udbetalinger/lektiecafe-t2/bekraeft", url.Values{"csrf_token": {og.csrf("/")},
			"reference": {"NETS-X"}})
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
		mustContain(t, p, "Kun økonomi kan bekræfte en udbetaling")
	})
	t.Run("unknown_disbursement_404", func(t *testing.T) {
		if p := confirm(finance, "findes-ikke-t1", "NETS-X"); p.status != http.StatusNotFound {
			t.Errorf("status %d, want 404", p.status)
		}
	})
	t.Run("without_csrf_token_403", func(t *testing.T) {
		p := finance.post("/oekonomi/udbetalinger/lektiecafe-t2/bekraeft", url.Values{"reference": {"NETS-X"}})
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
	})
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"temporal_unavailable_503", fmt.Errorf("%w: connection refused", service.ErrUnavailable), "med samme reference"},
		{"update_still_running_503", fmt.Errorf("%w: %w", service.ErrStillRunning, service.ErrUnavailable), "tager længere tid end normalt"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wf.failWith(tt.err)
			defer wf.failWith(nil)
			p := confirm(finance, "lektiecafe-t2", "NETS-2022-0200")
			if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
				t.Fatalf("status %d, Retry-After %q; want 503 with Retry-After", p.status, p.header.Get("Retry-After"))
			}
			mustContain(t, p, "Prøv igen om lidt", tt.want)
		})
	}
}

func TestDisbursementsCSV(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	// 60 more pending tranches: more than one page of the list, both on the page and in the download.
	var many []tranche
	for range 60 {
		many = append(many, tranche{lines: []domain.SourceAmount{lbf(10050)}, release: true})
	}
	funded(t, a.st, "mange", "=Mange rater", time.Date(2022, 5, 1, 8, 0, 0, 0, time.UTC), many...)

	finance := a.browser()
	finance.signInAs("fin-peter")
	read := func(t *testing.T, query string) [][]string {
		t.Helper()
		p := finance.get("/oekonomi/udbetalinger.csv" + query)
		if p.status != http.StatusOK {
			t.Fatalf("status %d: %s", p.status, p.body)
		}
		if ct := p.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if cd := p.header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="udbetalinger`) {
			t.Errorf("Content-Disposition %q, want an attachment", cd)
		}
		body := []byte(p.body)
		if !bytes.HasPrefix(body, []byte("\xEF\xBB\xBF")) {
			t.Fatalf("no UTF-8 byte-order mark: %q", p.body[:min(20, len(p.body))])
		}
		r := csv.NewReader(bytes.NewReader(body[3:]))
		r.Comma = ';'
		recs, err := r.ReadAll()
		if err != nil {
			t.Fatalf("not semicolon-separated CSV: %v", err)
		}
		return recs
	}

	t.Run("pending_every_row_across_pages", func(t *testing.T) {
		recs := read(t, "?status=pending")
		wantHeader := []string{"Udbetaling", "Indsats", "Indsats-id", "Delaftale", "Milepæl nr.", "Milepæl",
			"Landsbyggefonden (kr.)", "Viborg Kommune (kr.)", "Boligselskaberne (Boligselskabet Viborg og Boligselskabet Sct. Jørgen) (kr.)",
			"I alt (kr.)", "Status", "Frigivet", "Reference", "Betalt", "Betalt af", "Trukket tilbage",
			"Begrundelse for tilbagetrækning"}
		if diff := cmp.Diff(wantHeader, recs[0]); diff != "" {
			t.Errorf("header (-want +got):\n%s", diff)
		}
		if got := len(recs) - 1; got != 62 {
			t.Fatalf("%d rows, want 62 (2 + 60 pending, more than one page of %d)", got, store.DefaultPageSize)
		}
		if diff := cmp.Diff([]string{"lektiecafe-t2", "Lektiecafé i Houlkærvænget", "lektiecafe", "Uddannelse og livschancer",
			"2", "Milepæl 2", "500000,00", "0,00", "0,00", "500000,00", "afventer betaling", "01.03.2022", "", "", "", "", ""}, recs[1]); diff != "" {
			t.Errorf("first row (-want +got):\n%s", diff)
		}
		last := recs[len(recs)-1]
		if last[0] != "mange-t60" || last[6] != "100,50" || last[1] != "'=Mange rater" {
			t.Errorf("last row %q: want mange-t60, 100,50 kr. and the formula-looking title defused", last)
		}
	})
	t.Run("paid_with_reference_date_and_who", func(t *testing.T) {
		recs := read(t, "?status=paid")
		if len(recs) != 2 {
			t.Fatalf("%d records, want header + 1", len(recs))
		}
		if diff := cmp.Diff([]string{"lektiecafe-t1", "Lektiecafé i Houlkærvænget", "lektiecafe", "Uddannelse og livschancer",
			"1", "Opstart", "1000000,00", "234567,50", "0,00", "1234567,50", "betalt", "01.03.2022", "NETS-2022-0042",
			"01.03.2022", "Peter Holm", "", ""}, recs[1]); diff != "" {
			t.Errorf("paid row (-want +got):\n%s", diff)
		}
	})
	t.Run("all", func(t *testing.T) {
		if recs := read(t, ""); len(recs) != 64 {
			t.Errorf("%d records, want header + 63", len(recs))
		}
	})
	t.Run("unknown_status_400", func(t *testing.T) {
		if p := finance.get("/oekonomi/udbetalinger.csv?status=nope"); p.status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", p.status)
		}
	})
	t.Run("page_has_next_page_link", func(t *testing.T) {
		p := finance.get("/oekonomi")
		m := regexp.MustCompile(`href="(/oekonomi\?afventer=[^"]+)" rel="next">Næste side`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no Næste side link for 62 pending:\n%s", section(t, p, "afventer-betaling"))
		}
		next := finance.get(strings.ReplaceAll(m[1], "&amp;", "&"))
		// Page one holds the 25 oldest: lektiecafe-t2, sommerlejr-t1 and mange-t1 to t23.
		if next.status != http.StatusOK || !strings.Contains(next.body, "mange-t24/bekraeft") || strings.Contains(next.body, "lektiecafe-t2/bekraeft") {
			t.Errorf("second page: %d, want it to start at mange-t24", next.status)
		}
		if !strings.Contains(next.body, "Første side") {
			t.Error("second page has no link back to the first")
		}
	})
}

// TestFinanceAndPlanInABrowser opens Økonomi as finance (also with a refused confirmation on it) and Planen in
// headless chromium: screenshots, and no serious or critical axe-core violation.
func TestFinanceAndPlanInABrowser(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	b := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))
	tab := b.NewTab()
	tab.Visit("/log-ind")
	tab.Click("Log ind som Peter Holm")
	tab.ClickLink("Økonomi")
	if !strings.Contains(tab.Text("main"), "NETS-2022-0042") {
		t.Errorf("the finance page does not show the paid tranche: %s", tab.Text("main"))
	}
	tab.Page("oekonomi")
	tab.ClickSelector(`form[action="/oekonomi/udbetalinger/sommerlejr-t1/bekraeft"] button[type="submit"]`)
	if got := tab.Text("#fejl"); !strings.Contains(got, "Feltet skal udfyldes.") {
		t.Errorf("error summary after an empty reference: %q", got)
	}
	tab.Page("oekonomi-fejl")
	tab.Visit("/planen")
	if !strings.Contains(tab.Text("main"), "46,6 % lokal medfinansiering (krav: mindst 25 %)") {
		t.Errorf("the plan page lacks the co-financing share: %s", tab.Text("main"))
	}
	tab.Page("planen")
}
