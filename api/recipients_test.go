package api

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
)

// The recipient routes and the payment files run on the real store, like the board's (board_test.go).

const recipientsPath = "/api/v1/plans/" + planViborg + "/recipients"

// releasedInitiative writes an approved initiative proposed by Mette with its first tranche (amount, from
// Landsbyggefonden) released and waiting for finance, as the workflow's activities would.
func releasedInitiative(t *testing.T, st *store.Store, id, title string, amount domain.Money) domain.Initiative {
	t.Helper()
	ctx := context.Background()
	mette := domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	hanne := domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}
	lines := []domain.SourceAmount{{SourceID: "lbf", AmountØre: amount}}
	plan := []domain.MilestonePlan{{Title: "Opstart", DueDate: domain.NewDate(2023, 6, 1), Tranche: lines}}
	at := time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)
	in := domain.Initiative{ID: id, PlanID: planViborg, Revision: 1, Proposer: mette,
		Proposal: domain.Proposal{Title: title, Description: "Beskrivelse.", DelaftaleID: "uddannelse-og-livschancer",
			HousingAreaIDs: []string{"ringparken"}, TargetGroup: "Børn", Budget: lines, Milestones: plan,
			Goals: []domain.Goal{{ID: "g1", Description: "Mål", SuccessCriterion: "Kriterium"}}},
		Decisions: []domain.Decision{}, Milestones: domain.MilestonesFromPlan(plan), CreatedAt: at}
	tr := func(typ string, actor domain.Actor, phase domain.Phase) store.Transition {
		before := in.Phase
		in.Version++
		in.Phase = phase
		at = at.Add(time.Hour)
		in.UpdatedAt = at
		snap := in
		snap.Milestones = append([]domain.Milestone(nil), in.Milestones...)
		return store.Transition{Snapshot: snap, Event: store.Event{InitiativeID: id, Seq: in.Version, Type: typ,
			ActorID: actor.UserID, ActorName: actor.Name, ActorRole: actor.Role, At: at, PhaseBefore: before,
			PhaseAfter: phase, Payload: json.RawMessage(`{}`)}}
	}
	if err := st.RecordTransition(ctx, tr("submitted", mette, domain.PhaseBoardReview)); err != nil {
		t.Fatal(err)
	}
	if err := st.Reserve(ctx, store.ReserveInput{PlanID: planViborg, InitiativeID: id,
		DelaftaleID: in.Proposal.DelaftaleID, Lines: lines, Transition: tr("approved", hanne, domain.PhaseExecuting)}); err != nil {
		t.Fatal(err)
	}
	m := &in.Milestones[0]
	released := at.Add(time.Hour)
	m.TrancheStatus, m.DisbursementID, m.ReleasedAt = domain.TrancheReleased, domain.DisbursementID(id, 1), &released
	if err := st.Release(ctx, store.ReleaseInput{PlanID: planViborg, InitiativeID: id, DelaftaleID: in.Proposal.DelaftaleID,
		DisbursementID: m.DisbursementID, MilestoneNo: 1, MilestoneTitle: m.Title, Lines: lines,
		Transition: tr("tranche_released", hanne, domain.PhaseFunding)}); err != nil {
		t.Fatal(err)
	}
	return in
}

func TestRecipientsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)

	var list struct{ Items []recipientOut }
	a.want(a.do(http.MethodGet, recipientsPath, bTokMette, ""), http.StatusOK, &list)
	if len(list.Items) != 3 || list.Items[0].Name != "Boligselskabet Sct. Jørgen" || list.Items[0].PaymentIBAN == nil ||
		*list.Items[0].PaymentIBAN != "DK1476810004567890" || list.Items[0].ChangedBy != nil {
		t.Fatalf("seeded recipients %+v", list.Items)
	}

	body := `{"name": "Viborg Kommune – Beskæftigelse", "kind": "municipality", "cvr": "29189846",
		"iban": "DK90 0760 0003 3344 45", "note": "Jobcentret"}`
	// Only admin adds recipients; a broken account is refused field by field, in Danish.
	a.refused(a.do(http.MethodPost, recipientsPath, bTokHanne, body), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPost, recipientsPath, bTokKaren,
		`{"name": "X", "kind": "municipality", "cvr": "123", "iban": "DK9007600003334446"}`),
		http.StatusUnprocessableEntity, "validation_failed", "cvr:invalid", "iban:invalid")
	a.refused(a.do(http.MethodPost, recipientsPath, bTokKaren,
		`{"name": "X", "kind": "other", "reg_no": "76", "account_no": "12345678901"}`),
		http.StatusUnprocessableEntity, "validation_failed", "reg_no:invalid", "account_no:invalid")
	a.refused(a.do(http.MethodPost, recipientsPath, bTokKaren, `{"name": "X", "kind": "other", "iban": 5}`),
		http.StatusBadRequest, "bad_request", "iban:wrong_type")

	rec := a.do(http.MethodPost, recipientsPath, bTokKaren, body, "Idempotency-Key", "rec-1")
	var created recipientOut
	a.want(rec, http.StatusCreated, &created)
	if created.ID != "viborg-kommune-beskaeftigelse" || created.IBAN != "DK9007600003334445" || created.Version != 1 ||
		created.ChangedByName != "Karen Iversen" || rec.Header().Get("Location") != recipientsPath+"/"+created.ID {
		t.Fatalf("created %+v, Location %s", created, rec.Header().Get("Location"))
	}
	a.refused(a.do(http.MethodPost, recipientsPath, bTokKaren, body), http.StatusConflict, "conflict", "id:exists")

	one := recipientsPath + "/" + created.ID
	put := `{"name": "Viborg Kommune – Jobcenter", "kind": "municipality", "reg_no": "0760", "account_no": "3334445",
		"based_on_version": 1, "note": "Nyt navn"}`
	var detail recipientDetailOut
	a.want(a.do(http.MethodPut, one, bTokKaren, put), http.StatusOK, &detail)
	if detail.Version != 2 || len(detail.History) != 2 || detail.History[1].IBAN != "DK9007600003334445" ||
		detail.RegNo != "0760" || detail.PaymentIBAN == nil || *detail.PaymentIBAN != "DK9007600003334445" {
		t.Fatalf("after PUT %+v", detail)
	}
	a.want(a.do(http.MethodPut, one, bTokKaren, put), http.StatusOK, &detail) // the same again: no new version
	if detail.Version != 2 {
		t.Fatalf("repeated PUT wrote version %d", detail.Version)
	}
	a.refused(a.do(http.MethodPut, one, bTokKaren, strings.Replace(put, "Jobcenter", "Jobcentret", 1)),
		http.StatusConflict, "conflict")
	a.refused(a.do(http.MethodPut, recipientsPath+"/findes-ikke", bTokKaren, put), http.StatusNotFound, "not_found")
	a.refused(a.do(http.MethodGet, recipientsPath+"/findes-ikke", bTokMette, ""), http.StatusNotFound, "not_found")
}

func TestInitiativeRecipientAndPaymentFilesAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	const id = "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9d"
	releasedInitiative(t, a.st, id, "Lektiecafé i Houlkærvænget", 15_000_050)
	releasedInitiative(t, a.st, "ini-uden-modtager", "Sommerlejr", 7_500_000)
	path := "/api/v1/initiatives/" + id + "/recipient"

	var ir initiativeRecipientOut
	a.want(a.do(http.MethodGet, path, bTokHanne, ""), http.StatusOK, &ir)
	if ir.Recipient != nil || ir.SetBy != nil {
		t.Fatalf("before: %+v", ir)
	}
	// Nothing can be paid by file yet: 409 with why.
	a.refused(a.do(http.MethodGet, "/api/v1/finance/disbursements/pain001", bTokHanne, ""), http.StatusConflict, "conflict")

	// The proposer (Mette) names the recipient; another board member may not.
	a.refused(a.do(http.MethodPut, path, bTokLars, `{"recipient_id": "boligselskabet-viborg"}`), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPut, path, bTokMette, `{"recipient_id": "findes-ikke"}`),
		http.StatusUnprocessableEntity, "validation_failed", "recipient_id:unknown")
	a.refused(a.do(http.MethodPut, path, bTokMette, `{}`), http.StatusUnprocessableEntity, "validation_failed", "recipient_id:required")
	a.want(a.do(http.MethodPut, path, bTokMette, `{"recipient_id": "boligselskabet-sct-joergen"}`), http.StatusOK, &ir)
	if ir.Recipient == nil || ir.Recipient.ID != "boligselskabet-sct-joergen" || ir.SetByName != "Mette Kjær" {
		t.Fatalf("after PUT: %+v", ir)
	}

	// The operational group does not see payments.
	a.refused(a.do(http.MethodGet, "/api/v1/finance/disbursements/pain001", bTokMette, ""), http.StatusForbidden, "forbidden")

	var payable payableOut
	a.want(a.do(http.MethodGet, "/api/v1/finance/disbursements/payable", bTokHanne, ""), http.StatusOK, &payable)
	if len(payable.Exportable) != 1 || len(payable.NotExportable) != 1 ||
		payable.NotExportable[0].DisbursementID != "ini-uden-modtager-t1" || payable.NotExportable[0].Reason == "" ||
		payable.Exportable[0].EndToEndID != "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1" ||
		payable.Exportable[0].IBAN != "DK1476810004567890" || payable.DebtorIBAN != "DK1915510002219876" {
		t.Fatalf("payable %+v", payable)
	}

	rec := a.do(http.MethodGet, "/api/v1/finance/disbursements/pain001", bTokHanne, "")
	a.want(rec, http.StatusOK, nil)
	if rec.Header().Get("X-Payments") != "1" || rec.Header().Get("X-Not-Exportable") != "1" ||
		!strings.HasPrefix(rec.Header().Get("Content-Type"), "application/xml") {
		t.Fatalf("headers %v", rec.Header())
	}
	var doc struct {
		XMLName xml.Name
		Tx      []struct {
			E2E    string `xml:"PmtId>EndToEndId"`
			Amount string `xml:"Amt>InstdAmt"`
			IBAN   string `xml:"CdtrAcct>Id>IBAN"`
			Name   string `xml:"Cdtr>Nm"`
			Ustrd  string `xml:"RmtInf>Ustrd"`
		} `xml:"CstmrCdtTrfInitn>PmtInf>CdtTrfTxInf"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.XMLName.Space != "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09" || len(doc.Tx) != 1 ||
		doc.Tx[0].E2E != "0192f4c87a1e7c3d9b2a4e5f6a7b8c9dt1" || doc.Tx[0].Amount != "150000.50" ||
		doc.Tx[0].IBAN != "DK1476810004567890" || doc.Tx[0].Name != "Boligselskabet Sct. Jørgen" ||
		doc.Tx[0].Ustrd != "Lektiecafé i Houlkærvænget, milepæl 1: Opstart" {
		t.Fatalf("pain.001 %+v\n%s", doc, rec.Body)
	}
	if got, err := a.st.DisbursementByEndToEndID(context.Background(), doc.Tx[0].E2E); err != nil || got != id+"-t1" {
		t.Fatalf("the file's reference maps to %q, %v", got, err)
	}

	rec = a.do(http.MethodGet, "/api/v1/finance/disbursements/export?format=xlsx", bTokHanne, "")
	a.want(rec, http.StatusOK, nil)
	f, err := excelize.OpenReader(bytes.NewReader(rec.Body.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := f.GetRows("Udbetalinger", excelize.Options{RawCellValue: true})
	if err != nil || len(rows) != 3 || rows[1][0] != id+"-t1" || rows[1][5] != "150000.5" || rows[2][10] == "" {
		t.Fatalf("xlsx rows %q, %v", rows, err)
	}
	rec = a.do(http.MethodGet, "/api/v1/finance/disbursements/export?format=csv", bTokHanne, "")
	a.want(rec, http.StatusOK, nil)
	if !strings.Contains(rec.Body.String(), ";150000,50;") {
		t.Fatalf("csv %s", rec.Body)
	}
	a.refused(a.do(http.MethodGet, "/api/v1/finance/disbursements/export?format=pdf", bTokHanne, ""),
		http.StatusBadRequest, "bad_request", "format:unknown")
}
