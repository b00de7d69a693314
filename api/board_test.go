package api

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/labstack/echo/v4"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
)

// The board, settings and meeting routes run on the real store (a fresh database with the Viborg seed): their
// rules live in SQL and in the store as much as in the service.

// boardAPI is the router over a real store and fake workflows, with a token per seeded user.
type boardAPI struct {
	t  *testing.T
	st *store.Store
	e  *echo.Echo
}

// Tokens of the seeded users in boardAPI.
const (
	bTokHanne = "board-tok-hanne" // board, chair
	bTokLars  = "board-tok-lars"  // board
	bTokMette = "board-tok-mette" // operational group
	bTokKaren = "board-tok-karen" // admin
)

func newBoardAPI(t *testing.T) *boardAPI {
	t.Helper()
	st := dbtest.New(t)
	ctx := context.Background()
	for tok, user := range map[string]string{bTokHanne: "bs-hanne", bTokLars: "bs-lars", bTokMette: "og-mette", bTokKaren: "adm-karen"} {
		sum := sha256.Sum256([]byte(tok))
		if err := st.UpsertToken(ctx, user, sum[:], "test"); err != nil {
			t.Fatal(err)
		}
	}
	e := New(Config{AuthCacheTTL: -1}, st, &fakeWorkflows{}, nil, nil, nil)
	return &boardAPI{t: t, st: st, e: e}
}

func (a *boardAPI) do(method, path, token, body string, headers ...string) *httptest.ResponseRecorder {
	a.t.Helper()
	var req *http.Request
	if body != "" {
		req = httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	} else {
		req = httptest.NewRequest(method, path, nil)
	}
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+token)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return rec
}

// want checks the status and decodes the body into out (nil: not decoded).
func (a *boardAPI) want(rec *httptest.ResponseRecorder, status int, out any) {
	a.t.Helper()
	if rec.Code != status {
		a.t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			a.t.Fatalf("body: %v\n%s", err, rec.Body)
		}
	}
}

// refused checks a problem answer: status, code and the fields it names ("field:code").
func (a *boardAPI) refused(rec *httptest.ResponseRecorder, status int, code string, fields ...string) problem {
	a.t.Helper()
	var p problem
	a.want(rec, status, &p)
	if p.Code != code {
		a.t.Errorf("problem code %q, want %q: %s", p.Code, code, rec.Body)
	}
	var got []string
	for _, f := range p.Errors {
		got = append(got, f.Field+":"+f.Code)
	}
	if diff := cmp.Diff(fields, got); diff != "" {
		a.t.Errorf("problem fields (-want +got):\n%s", diff)
	}
	if p.Detail == "" {
		a.t.Error("problem without a Danish detail")
	}
	return p
}

const boardPath = "/api/v1/plans/" + planViborg + "/board"

func TestBoardAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)

	var b planBoardOut
	a.want(a.do(http.MethodGet, boardPath, bTokMette, ""), http.StatusOK, &b)
	if b.Version != 1 || len(b.Members) != 3 || b.Chair == nil || b.Chair.Name != "Hanne Mortensen" ||
		b.Members[1].Name != "Lars Bach" || !reflect.DeepEqual(b.ChairAlone, []string{"milestone"}) ||
		!reflect.DeepEqual(b.ChairAloneNames, []string{"milepælsrapporter"}) || b.QuorumText == "" || b.DecisionText == "" {
		t.Errorf("seeded board = %+v", b)
	}

	// Only the secretariat changes the board; the refusal comes before anything about the body.
	a.refused(a.do(http.MethodPut, boardPath, bTokHanne, `{"nope": 1}`), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPut, boardPath, bTokKaren, `{"members": ["bs-hanne"], "nope": 1}`),
		http.StatusBadRequest, "bad_request", "nope:unknown_field")
	a.refused(a.do(http.MethodPut, boardPath, bTokKaren, `{"chair": "bs-hanne"}`),
		http.StatusUnprocessableEntity, "validation_failed", "members:required")
	a.refused(a.do(http.MethodPut, boardPath, bTokKaren, `{"members": ["og-mette", "bs-lars"], "chair": "bs-hanne", "chair_alone": ["budget"]}`),
		http.StatusUnprocessableEntity, "validation_failed", "members[0]:not_board", "chair:not_member", "chair_alone[0]:unknown")
	a.refused(a.do(http.MethodPut, "/api/v1/plans/aarhus/board", bTokKaren, `{"members": ["bs-lars"]}`),
		http.StatusNotFound, "not_found")

	put := `{"members": ["bs-lars", "bs-sofie", "bs-hanne"], "chair": "bs-lars", "chair_alone": [], "note": "Lars er ny formand", "based_on_version": 1}`
	a.want(a.do(http.MethodPut, boardPath, bTokKaren, put), http.StatusOK, &b)
	if b.Version != 2 || b.Chair == nil || b.Chair.UserID != "bs-lars" || len(b.ChairAlone) != 0 {
		t.Errorf("after PUT = %+v, want version 2 chaired by Lars, no chair-alone matters", b)
	}
	// The same PUT again is no change (idempotent), although it was based on version 1.
	a.want(a.do(http.MethodPut, boardPath, bTokKaren, put), http.StatusOK, &b)
	if b.Version != 2 {
		t.Errorf("repeated PUT wrote version %d, want 2", b.Version)
	}
	// Another change based on version 1 would overwrite version 2 unseen: 409.
	a.refused(a.do(http.MethodPut, boardPath, bTokKaren, `{"members": ["bs-sofie"], "based_on_version": 1}`),
		http.StatusConflict, "conflict")

	var hist struct {
		Items []planBoardVersionOut `json:"items"`
	}
	a.want(a.do(http.MethodGet, boardPath+"/history", bTokLars, ""), http.StatusOK, &hist)
	if len(hist.Items) != 2 || hist.Items[0].Version != 2 || hist.Items[0].ChangedBy == nil ||
		*hist.Items[0].ChangedBy != "adm-karen" || hist.Items[0].ChangedByName != "Karen Iversen" ||
		hist.Items[0].Note != "Lars er ny formand" || hist.Items[1].ChangedBy != nil {
		t.Errorf("history = %+v", hist.Items)
	}

	// What workflows get from now on: the plan carries the new board.
	p, err := a.st.GetPlan(context.Background(), planViborg)
	if err != nil || p.Board == nil || p.Board.Chair != "bs-lars" {
		t.Errorf("plan board = %+v, %v", p.Board, err)
	}
}

func TestSettingsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	path := "/api/v1/plans/" + planViborg + "/settings"

	var s planSettingsFullOut
	a.want(a.do(http.MethodGet, path, bTokMette, ""), http.StatusOK, &s)
	if s.BoardDecisionDays != 15 || s.PaymentDays != 10 || s.EvaluationDays != 40 ||
		!reflect.DeepEqual(s.ReminderOffsets, []int{5, 1}) || s.FinanceLead != "fin-peter" ||
		s.FinanceLeadName != "Peter Holm" || s.Effective.BoardDecisionDays != 15 {
		t.Errorf("seeded settings = %+v", s)
	}

	a.refused(a.do(http.MethodPut, path, bTokHanne, `{}`), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPut, path, bTokKaren, `{"board_quorum": 1}`), http.StatusUnprocessableEntity,
		"validation_failed", "min_local_cofinancing_permille:required", "reallocation_threshold_ore:required",
		"board_decision_days:required", "payment_days:required", "evaluation_days:required")
	body := func(offsets, lead string) string {
		return `{"min_local_cofinancing_permille": 250, "board_quorum": 1, "reallocation_threshold_ore": 0,
			"board_decision_days": 0, "payment_days": 5, "evaluation_days": 30, "reminder_offsets": ` + offsets +
			`, "finance_lead": "` + lead + `", "note": "Kortere frister"}`
	}
	a.refused(a.do(http.MethodPut, path, bTokKaren, body("[0, 3]", "bs-hanne")), http.StatusUnprocessableEntity,
		"validation_failed", "reminder_offsets[0]:out_of_range", "finance_lead:not_finance")

	a.want(a.do(http.MethodPut, path, bTokKaren, body("null", "")), http.StatusOK, &s)
	if s.BoardDecisionDays != 0 || s.Effective.BoardDecisionDays != domain.DefaultBoardDecisionDays ||
		s.ReminderOffsets != nil || !reflect.DeepEqual(s.Effective.ReminderOffsets, domain.DefaultReminderOffsets) ||
		s.PaymentDays != 5 || s.FinanceLead != "" {
		t.Errorf("after PUT = %+v", s)
	}
	var hist struct {
		Items []planSettingsVersionOut `json:"items"`
	}
	a.want(a.do(http.MethodGet, path+"/history", bTokMette, ""), http.StatusOK, &hist)
	if len(hist.Items) != 2 || hist.Items[0].Version != 2 || hist.Items[0].Note != "Kortere frister" ||
		hist.Items[1].Settings.PaymentDays != 10 {
		t.Errorf("history = %+v", hist.Items)
	}
}

func TestMeetingsAPI(t *testing.T) {
	t.Parallel()
	a := newBoardAPI(t)
	path := "/api/v1/plans/" + planViborg + "/meetings"

	// A proposal in board review since 1 March 2022 waits for the board.
	in := domain.Initiative{ID: "ini-agenda", PlanID: planViborg, Phase: domain.PhaseBoardReview, Version: 1, Revision: 1,
		Proposer: domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup},
		Proposal: domain.Proposal{Title: "Lektiecafé", DelaftaleID: "uddannelse-og-livschancer",
			HousingAreaIDs: []string{"ringparken"}, Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(1000)}}},
		Decisions: []domain.Decision{}, CreatedAt: time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)}
	in.UpdatedAt = in.CreatedAt
	if err := a.st.RecordTransition(context.Background(), store.Transition{Snapshot: in, Event: store.Event{
		InitiativeID: in.ID, Seq: 1, Type: "submitted", ActorID: "og-mette", ActorName: "Mette Kjær",
		ActorRole: domain.RoleOperationalGroup, At: in.CreatedAt, PhaseAfter: domain.PhaseBoardReview}}); err != nil {
		t.Fatal(err)
	}

	meeting := `{"held_on": "2022-03-15", "starts_at": "16:30", "location": "Beboerhuset"}`
	// Board members other than the chair, and the operational group, may not schedule; the chair and admin may.
	a.refused(a.do(http.MethodPost, path, bTokLars, meeting), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPost, path, bTokMette, `{"nope": true}`), http.StatusForbidden, "forbidden")
	a.refused(a.do(http.MethodPost, path, bTokHanne, `{"held_on": "15-03-2022", "starts_at": "4pm"}`),
		http.StatusUnprocessableEntity, "validation_failed", "held_on:invalid_date", "starts_at:invalid")
	a.refused(a.do(http.MethodPost, path, bTokHanne, `{"location": "x"}`),
		http.StatusUnprocessableEntity, "validation_failed", "held_on:required")

	rec := a.do(http.MethodPost, path, bTokHanne, meeting, "Idempotency-Key", "mode-1")
	var m boardMeetingOut
	a.want(rec, http.StatusCreated, &m)
	if m.Title != store.DefaultMeetingTitle || m.HeldOn != "2022-03-15" || m.CreatedByName != "Hanne Mortensen" ||
		rec.Header().Get(echo.HeaderLocation) != path+"/"+m.ID {
		t.Errorf("scheduled = %+v (Location %q)", m, rec.Header().Get(echo.HeaderLocation))
	}
	// A retry with the same key is answered with the same meeting and schedules nothing.
	again := a.do(http.MethodPost, path, bTokHanne, meeting, "Idempotency-Key", "mode-1")
	if again.Code != http.StatusCreated || again.Header().Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d replayed=%q", again.Code, again.Header().Get("Idempotent-Replayed"))
	}
	var list struct {
		Items []boardMeetingOut `json:"items"`
	}
	a.want(a.do(http.MethodGet, path, bTokMette, ""), http.StatusOK, &list)
	if len(list.Items) != 1 || list.Items[0].ID != m.ID {
		t.Fatalf("meetings = %+v, want the one", list.Items)
	}

	var d boardMeetingDetailOut
	a.want(a.do(http.MethodGet, path+"/"+m.ID, bTokMette, ""), http.StatusOK, &d)
	want := []boardAgendaItemOut{{InitiativeID: "ini-agenda", Title: "Lektiecafé", Phase: "board_review",
		PhaseName: "til behandling i bestyrelsen", MatterKind: "proposal", StepKey: "proposal/r1",
		StepTitle: "Bestyrelsens beslutning om forslaget", Since: "2022-03-01", Deadline: "2022-03-22"}}
	if diff := cmp.Diff(want, d.Agenda); diff != "" {
		t.Errorf("agenda (-want +got):\n%s", diff)
	}
	a.refused(a.do(http.MethodGet, path+"/nope", bTokMette, ""), http.StatusNotFound, "not_found")
	a.refused(a.do(http.MethodGet, "/api/v1/plans/aarhus/meetings/"+m.ID, bTokMette, ""), http.StatusNotFound, "not_found")

	a.refused(a.do(http.MethodPost, path+"/"+m.ID+"/cancel", bTokMette, ""), http.StatusForbidden, "forbidden")
	a.want(a.do(http.MethodPost, path+"/"+m.ID+"/cancel", bTokKaren, ""), http.StatusOK, &m)
	if !m.Cancelled || m.CancelledBy == nil || *m.CancelledBy != "adm-karen" {
		t.Errorf("cancelled = %+v", m)
	}
	a.want(a.do(http.MethodGet, path+"/"+m.ID, bTokMette, ""), http.StatusOK, &d)
	if !d.Cancelled || len(d.Agenda) != 0 {
		t.Errorf("cancelled meeting = %+v, want no agenda", d)
	}
}

// TestOpenAPIBoardRequestsMatchTypes: the fields the spec marks required in the board, settings and meeting
// requests are those the decoder refuses to do without, and the spec knows every field the types accept.
func TestOpenAPIBoardRequestsMatchTypes(t *testing.T) {
	doc := loadSpec(t)
	for name, typ := range map[string]reflect.Type{
		"BoardRequest":        reflect.TypeFor[planBoardBody](),
		"SettingsRequest":     reflect.TypeFor[planSettingsBody](),
		"BoardMeetingRequest": reflect.TypeFor[boardMeetingBody](),
	} {
		schema, _ := doc.Components["schemas"][name].(map[string]any)
		if schema == nil {
			t.Errorf("%s: not in the spec", name)
			continue
		}
		var required, props []string
		if req, ok := schema["required"].([]any); ok {
			for _, r := range req {
				required = append(required, r.(string))
			}
		}
		for p := range schema["properties"].(map[string]any) {
			props = append(props, p)
		}
		var inCode, fields []string
		for _, f := range orderedFields(typ) {
			fields = append(fields, f.name)
			if f.required {
				inCode = append(inCode, f.name)
			}
		}
		for _, l := range [][]string{required, inCode, props, fields} {
			sort.Strings(l)
		}
		if diff := cmp.Diff(required, inCode); diff != "" {
			t.Errorf("%s: required in spec (-) and in %s (+):\n%s", name, typ, diff)
		}
		if diff := cmp.Diff(props, fields); diff != "" {
			t.Errorf("%s: properties in spec (-) and fields of %s (+):\n%s", name, typ, diff)
		}
	}
}
