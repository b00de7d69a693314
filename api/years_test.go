package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

const (
	commitmentsPath = "/api/v1/plans/" + planViborg + "/commitments"
	budgetYearsPath = "/api/v1/plans/" + planViborg + "/budget/years"
)

func TestCommitmentsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)

	var c commitmentsOut
	a.want(a.do(http.MethodGet, commitmentsPath, bTokMette, ""), http.StatusOK, &c)
	if fmt.Sprint(c.Years) != "[2021 2022 2023 2024 2025]" || len(c.Sources) != 3 || c.Sources[0].Version != 1 {
		t.Fatalf("commitments = %+v", c)
	}
	lbf := c.Sources[0]
	if lbf.SourceID != "lbf" || lbf.Years[4].AmountOre != 274_180_000 {
		t.Fatalf("lbf = %+v", lbf)
	}

	body := func(based int, first int64) string {
		return fmt.Sprintf(`{"sources":[{"source_id":"lbf","based_on_version":%d,"years":[{"year":2021,"amount_ore":%d},{"year":2025,"amount_ore":%d}]}],"note":"Forskudt"}`,
			based, first, lbf.CommittedOre-first)
	}
	// Only admin changes it.
	a.refused(a.do(http.MethodPut, commitmentsPath, bTokHanne, body(1, 5)), http.StatusForbidden, "forbidden")
	// One øre too many: 422 at the source's field.
	bad := `{"sources":[{"source_id":"lbf","years":[{"year":2021,"amount_ore":1370900001}]},{"source_id":"boligselskaberne","years":[{"year":2030,"amount_ore":1}]}]}`
	a.refused(a.do(http.MethodPut, commitmentsPath, bTokKaren, bad), http.StatusUnprocessableEntity, "validation_failed",
		"commitments[lbf]:sum_mismatch", "commitments[boligselskaberne][2030]:outside_period", "commitments[boligselskaberne]:sum_mismatch")
	a.refused(a.do(http.MethodPut, commitmentsPath, bTokKaren, `{"note":"x"}`), http.StatusUnprocessableEntity,
		"validation_failed", "sources:required")

	var saved commitmentsOut
	a.want(a.do(http.MethodPut, commitmentsPath, bTokKaren, body(1, 5)), http.StatusOK, &saved)
	if got := saved.Sources[0]; got.Version != 2 || got.Years[0].AmountOre != 5 || got.Years[1].AmountOre != 0 {
		t.Errorf("saved lbf = %+v", got)
	}
	// The same again: nothing written, still version 2.
	a.want(a.do(http.MethodPut, commitmentsPath, bTokKaren, body(1, 5)), http.StatusOK, &saved)
	if saved.Sources[0].Version != 2 {
		t.Errorf("repeat wrote version %d", saved.Sources[0].Version)
	}
	// A form made from version 1 that says something else is stale.
	p := a.refused(a.do(http.MethodPut, commitmentsPath, bTokKaren, body(1, 6)), http.StatusConflict, "conflict")
	if !strings.Contains(p.Detail, "version 2") {
		t.Errorf("conflict detail %q", p.Detail)
	}

	var hist struct {
		Items []commitmentVersionOut `json:"items"`
	}
	a.want(a.do(http.MethodGet, commitmentsPath+"/history", bTokMette, ""), http.StatusOK, &hist)
	if len(hist.Items) != 4 || hist.Items[0].Version != 2 || hist.Items[0].ChangedBy == nil ||
		*hist.Items[0].ChangedBy != "adm-karen" || hist.Items[0].Note != "Forskudt" || hist.Items[1].ChangedBy != nil {
		t.Errorf("history = %+v", hist.Items)
	}
	a.refused(a.do(http.MethodGet, "/api/v1/plans/ukendt/commitments", bTokKaren, ""), http.StatusNotFound, "not_found")
}

func TestBudgetYearsAndCSVAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	var b budgetYearsOut
	a.want(a.do(http.MethodGet, budgetYearsPath, bTokMette, ""), http.StatusOK, &b)
	if len(b.Sources) != 3 || len(b.Total) != 5 || b.Sources[0].Total.CommittedOre != 1_370_900_000 ||
		b.Sources[0].Years[0].ReleasedOre != 0 {
		t.Errorf("budget years = %+v", b)
	}
	rec := a.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget.csv", bTokMette, "")
	a.want(rec, http.StatusOK, nil)
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("content type %q", ct)
	}
	lines := strings.Split(strings.TrimPrefix(rec.Body.String(), "\uFEFF"), "\r\n")
	if lines[0] != "År;Finansieringskilde;Kilde-id;Delaftale;Delaftale-id;Frigivet (kr.);Heraf betalt (kr.);Frigivet, ikke betalt (kr.)" {
		t.Errorf("header %q", lines[0])
	}
	if len(lines) != 1+5*3*3+1 || !strings.HasPrefix(lines[1], "2021;") || !strings.HasSuffix(lines[1], ";0,00;0,00;0,00") {
		t.Errorf("%d lines, first row %q", len(lines), lines[1])
	}
}

func TestDelaftaleFrameAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	path := "/api/v1/plans/" + planViborg + "/delaftaler/beskaeftigelse/frame"
	a.refused(a.do(http.MethodPut, path, bTokHanne, `{"frame_ore":100}`), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPut, path, bTokKaren, `{"frame_ore":-1}`), http.StatusUnprocessableEntity,
		"validation_failed", "frame_ore:out_of_range")
	a.refused(a.do(http.MethodPut, "/api/v1/plans/"+planViborg+"/delaftaler/ukendt/frame", bTokKaren, `{"frame_ore":1}`),
		http.StatusNotFound, "not_found")
	var out delaftaleFrameOut
	a.want(a.do(http.MethodPut, path, bTokKaren, `{"frame_ore":100000000,"note":"Bestyrelsen 5.3."}`), http.StatusOK, &out)
	if out.FrameOre == nil || *out.FrameOre != 100_000_000 {
		t.Errorf("frame = %+v", out)
	}
	rec := a.do(http.MethodGet, "/api/v1/plans/"+planViborg+"/budget", bTokMette, "")
	var budget map[string]any
	a.want(rec, http.StatusOK, &budget)
	raw, _ := json.Marshal(budget["delaftaler"])
	if !strings.Contains(string(raw), "100000000") {
		t.Errorf("budget delaftaler do not show the frame: %s", raw)
	}
	a.want(a.do(http.MethodPut, path, bTokKaren, `{"frame_ore":null}`), http.StatusOK, &out)
	if out.FrameOre != nil {
		t.Errorf("frame after null = %v", *out.FrameOre)
	}
	h, err := a.st.FrameHistory(t.Context(), planViborg)
	if err != nil || len(h) != 2 {
		t.Errorf("frame history = %+v, %v", h, err)
	}
}
