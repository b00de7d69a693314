package api

import (
	"net/http"
	"strconv"
	"testing"
)

// The in-kind routes run on the real store: segregation of duties and the statuses live in SQL as much as in Go.

func TestInKindAPI(t *testing.T) {
	t.Parallel()
	a, _ := statementAPI(t) // with Peter (finance)
	const id = "0192f4c8-7a1e-7c3d-9b2a-4e5f6a7b8c9d"
	releasedInitiative(t, a.st, id, "Lektiecafé i Houlkærvænget", 15_000_050)
	reg := "/api/v1/initiatives/" + id + "/inkind"
	list := "/api/v1/plans/" + planViborg + "/inkind"

	hours := `{"source_id": "viborg-kommune", "milestone_no": 1, "hours": 120, "rate_ore": 45000,
		"description": "Medarbejdertimer fra Jobcentret"}`
	// The board does not register; a cash-only source, an unknown milestone and hours × rate above 10^15 øre are
	// refused field by field; a float is a bad request.
	a.refused(a.do(http.MethodPost, reg, bTokHanne, hours), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPost, reg, bTokMette, `{"source_id": "lbf", "milestone_no": 2, "value_ore": 5,
		"description": "x"}`), http.StatusUnprocessableEntity, "validation_failed", "source_id:not_in_kind", "milestone_no:unknown")
	a.refused(a.do(http.MethodPost, reg, bTokMette, `{"source_id": "viborg-kommune", "milestone_no": 1,
		"hours": 100000, "rate_ore": 1000000000000000, "description": "x"}`),
		http.StatusUnprocessableEntity, "validation_failed", "rate_ore:too_large")
	a.refused(a.do(http.MethodPost, reg, bTokMette, `{"source_id": "viborg-kommune", "milestone_no": 1,
		"value_ore": 1.5, "description": "x"}`), http.StatusBadRequest, "bad_request", "value_ore:wrong_type")
	a.refused(a.do(http.MethodPost, reg, bTokMette, `{"milestone_no": 1, "value_ore": 5}`),
		http.StatusUnprocessableEntity, "validation_failed", "source_id:required", "description:required")

	var mettes inKindOut
	a.want(a.do(http.MethodPost, reg, bTokMette, hours, "Idempotency-Key", "ik-1"), http.StatusCreated, &mettes)
	if mettes.Status != "registered" || mettes.ValueOre != 5_400_000 || mettes.Value != "54.000,00 kr." ||
		mettes.Hours == nil || *mettes.Hours != 120 || mettes.RegisteredBy != "og-mette" || mettes.DecidedBy != nil {
		t.Fatalf("registered %+v", mettes)
	}
	var karens inKindOut
	a.want(a.do(http.MethodPost, reg, bTokKaren, `{"source_id": "viborg-kommune", "milestone_no": 1,
		"value_ore": 2500000, "description": "Lokaler i medborgerhuset"}`), http.StatusCreated, &karens)

	confirm := func(id int64) string { return "/api/v1/inkind/" + strconv.FormatInt(id, 10) + "/confirm" }
	reject := func(id int64) string { return "/api/v1/inkind/" + strconv.FormatInt(id, 10) + "/reject" }
	// Only finance or admin decides, never their own registration.
	a.refused(a.do(http.MethodPost, confirm(mettes.ID), bTokMette, ""), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPost, confirm(karens.ID), bTokKaren, ""), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPost, confirm(999999), bTokPeter, ""), http.StatusNotFound, "not_found")
	a.refused(a.do(http.MethodPost, "/api/v1/inkind/abc/confirm", bTokPeter, ""), http.StatusNotFound, "not_found")

	var got inKindOut
	a.want(a.do(http.MethodPost, confirm(karens.ID), bTokPeter, "{}"), http.StatusOK, &got)
	if got.Status != "confirmed" || got.StatusName != "Godkendt" || got.DecidedByName != "Peter Holm" {
		t.Fatalf("confirmed %+v", got)
	}
	a.refused(a.do(http.MethodPost, confirm(karens.ID), bTokPeter, ""), http.StatusConflict, "conflict")
	a.refused(a.do(http.MethodPost, reject(mettes.ID), bTokKaren, `{"reason": "  "}`),
		http.StatusUnprocessableEntity, "validation_failed", "reason:required")
	a.want(a.do(http.MethodPost, reject(mettes.ID), bTokKaren, `{"reason": "Timerne er ikke dokumenteret"}`),
		http.StatusOK, &got)
	if got.Status != "rejected" || got.Reason != "Timerne er ikke dokumenteret" {
		t.Fatalf("rejected %+v", got)
	}

	var items struct{ Items []inKindOut }
	a.want(a.do(http.MethodGet, list+"?status=confirmed", bTokHanne, ""), http.StatusOK, &items)
	if len(items.Items) != 1 || items.Items[0].ID != karens.ID {
		t.Fatalf("confirmed list %+v", items.Items)
	}
	a.want(a.do(http.MethodGet, list, bTokMette, ""), http.StatusOK, &items)
	if len(items.Items) != 2 {
		t.Fatalf("whole list %+v", items.Items)
	}
	a.refused(a.do(http.MethodGet, list+"?status=paid", bTokMette, ""), http.StatusUnprocessableEntity,
		"validation_failed", "status:unknown")

	// Confirmed in-kind is the source's contribution in the budget, never money moved.
	var b budgetOut
	a.want(a.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget", bTokKaren, ""), http.StatusOK, &b)
	for _, s := range b.Sources {
		if s.SourceID == "viborg-kommune" && (s.InKindConfirmedOre != 2_500_000 || s.PaidOre != 0 || s.ReleasedOre != 0) {
			t.Errorf("Viborg Kommune in the budget %+v", s)
		}
	}
	if b.Cofinancing.ApprovedOre != 15_000_050+2_500_000 || b.Cofinancing.LocalOre != 2_500_000 {
		t.Errorf("co-financing %+v", b.Cofinancing)
	}
}
