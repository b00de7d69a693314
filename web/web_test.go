package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/seed"
	"github.com/helhedsplan/helhedsplan/service"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/store/dbtest"
	"github.com/helhedsplan/helhedsplan/web"
)

const planID = "viborg-2021-2025"

// app is the web application on a fresh database with the Viborg seed, served over HTTP.
type app struct {
	t   *testing.T
	st  *store.Store
	srv *httptest.Server
}

func newApp(t *testing.T, cfg web.Config) *app {
	t.Helper()
	st := dbtest.New(t)
	w, err := web.New(cfg, st, service.New(st, nil, nil), st.DB().DB)
	if err != nil {
		t.Fatalf("web.New: %v", err)
	}
	t.Cleanup(w.Close)
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	return &app{t: t, st: st, srv: srv}
}

// browser is one person's browser: a cookie jar, and redirects are not followed so tests see them.
type browser struct {
	a *app
	c *http.Client
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{a: a, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type page struct {
	status int
	body   string
	header http.Header
}

func (b *browser) do(req *http.Request) page {
	b.a.t.Helper()
	resp, err := b.c.Do(req)
	if err != nil {
		b.a.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return page{resp.StatusCode, string(body), resp.Header}
}

func (b *browser) get(path string) page {
	req, _ := http.NewRequest(http.MethodGet, b.a.srv.URL+path, nil)
	return b.do(req)
}

func (b *browser) post(path string, form url.Values, header ...string) page {
	req, _ := http.NewRequest(http.MethodPost, b.a.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.do(req)
}

var csrfRe = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// csrf reads the synchronizer token from the sign-in page or any signed-in page.
func (b *browser) csrf(path string) string {
	b.a.t.Helper()
	p := b.get(path)
	m := csrfRe.FindStringSubmatch(p.body)
	if m == nil {
		b.a.t.Fatalf("no CSRF token on %s (%d): %s", path, p.status, p.body)
	}
	return m[1]
}

// signInAs signs in with dev sign-in.
func (b *browser) signInAs(userID string) {
	b.a.t.Helper()
	p := b.post("/log-ind/dev", url.Values{"csrf_token": {b.csrf("/log-ind")}, "user_id": {userID}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
		b.a.t.Fatalf("dev sign-in as %s: %d %s: %s", userID, p.status, p.header.Get("Location"), p.body)
	}
}

func mustContain(t *testing.T, p page, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(p.body, w) {
			t.Errorf("page does not contain %q:\n%s", w, p.body)
		}
	}
}

func TestSignedOutPagesRedirectToSignIn(t *testing.T) {
	a := newApp(t, web.Config{})
	for _, path := range []string{"/", "/indsatser", "/indsatser/x", "/planen", "/oekonomi"} {
		p := a.browser().get(path)
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/log-ind" {
			t.Errorf("GET %s signed out: %d to %q, want 303 to /log-ind", path, p.status, p.header.Get("Location"))
		}
	}
}

func TestDevSignInListsUsersAndSignsIn(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	p := b.get("/log-ind")
	if p.status != http.StatusOK {
		t.Fatalf("sign-in page: %d", p.status)
	}
	mustContain(t, p, `<html lang="da">`, "Hanne Mortensen", "formand", "bestyrelse", "Mette Kjær", "operationel gruppe",
		"Log ind som Hanne Mortensen", "API-nøgle")
	b.signInAs("bs-hanne")
	home := b.get("/")
	if home.status != http.StatusOK {
		t.Fatalf("start page: %d", home.status)
	}
	mustContain(t, home, "Mit arbejde", "Hanne Mortensen", "bestyrelse", `data-testid="plan-name"`, `href="#main-content"`,
		`aria-label="Hovedmenu"`, "Planen", "Indsatser", "Økonomi")

	// The session cookie is HttpOnly and SameSite=Lax; over plain HTTP it is not Secure.
	var cookie string
	for _, c := range strings.Split(signInSetCookie(t, a), "\n") {
		if strings.HasPrefix(c, "helhedsplan_session=") {
			cookie = c
		}
	}
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") || strings.Contains(cookie, "Secure") {
		t.Errorf("session cookie %q: want HttpOnly, SameSite=Lax, not Secure over HTTP", cookie)
	}
}

// signInSetCookie signs in as Hanne in a new browser and returns the Set-Cookie headers of the answer.
func signInSetCookie(t *testing.T, a *app) string {
	t.Helper()
	b := a.browser()
	p := b.post("/log-ind/dev", url.Values{"csrf_token": {b.csrf("/log-ind")}, "user_id": {"bs-hanne"}})
	return strings.Join(p.header.Values("Set-Cookie"), "\n")
}

func TestSignInRenewsTheSessionToken(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.get("/log-ind")
	u, _ := url.Parse(a.srv.URL)
	before := sessionCookie(b, u)
	if before == "" {
		t.Fatal("no session cookie before sign-in (the sign-in page has a CSRF token, so it has a session)")
	}
	b.signInAs("og-mette")
	if after := sessionCookie(b, u); after == "" || after == before {
		t.Fatalf("session token not renewed on sign-in: before %q after %q", before, after)
	}
}

func sessionCookie(b *browser, u *url.URL) string {
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == "helhedsplan_session" {
			return c.Value
		}
	}
	return ""
}

func TestDevSignInIsOffOutsideDev(t *testing.T) {
	a := newApp(t, web.Config{})
	b := a.browser()
	p := b.get("/log-ind")
	if strings.Contains(p.body, "Log ind som") {
		t.Error("the sign-in page lists users without DevSignIn")
	}
	if p := b.post("/log-ind/dev", url.Values{"csrf_token": {b.csrf("/log-ind")}, "user_id": {"adm-karen"}}); p.status != http.StatusNotFound {
		t.Errorf("dev sign-in without DevSignIn: %d, want 404", p.status)
	}
}

func TestTokenSignIn(t *testing.T) {
	a := newApp(t, web.Config{})
	token := "hp_test_web_token_for_peter"
	h := sha256.Sum256([]byte(token))
	if err := a.st.UpsertToken(context.Background(), "fin-peter", h[:], "test"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		status      int
		want        string
	}{
		{"empty_token_422", "", http.StatusUnprocessableEntity, "Indtast din API-nøgle."},
		{"unknown_token_422", "hp_nope", http.StatusUnprocessableEntity, "API-nøglen er ukendt eller spærret."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := a.browser()
			p := b.post("/log-ind/token", url.Values{"csrf_token": {b.csrf("/log-ind")}, "token": {tt.token}})
			if p.status != tt.status {
				t.Fatalf("status %d, want %d", p.status, tt.status)
			}
			// The message is next to the field (and in the error summary), and the field is marked invalid.
			mustContain(t, p, `id="token-error"`, tt.want, `aria-invalid="true"`, "<title>Fejl: Log ind")
			if strings.Contains(p.body, "hp_nope") {
				t.Error("the typed token is echoed back")
			}
		})
	}
	t.Run("good_token_signs_in", func(t *testing.T) {
		b := a.browser()
		p := b.post("/log-ind/token", url.Values{"csrf_token": {b.csrf("/log-ind")}, "token": {" " + token + " "}})
		if p.status != http.StatusSeeOther || p.header.Get("Location") != "/" {
			t.Fatalf("%d to %q", p.status, p.header.Get("Location"))
		}
		mustContain(t, b.get("/"), "Peter Holm", "økonomi")
	})
}

func TestSignOut(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	b.signInAs("bs-hanne")
	if n := countSessions(t, a); n != 1 {
		t.Fatalf("%d sessions in the database after sign-in, want 1 (the pre-sign-in one is replaced)", n)
	}
	p := b.post("/log-ud", url.Values{"csrf_token": {b.csrf("/")}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/log-ind" {
		t.Fatalf("sign-out: %d to %q", p.status, p.header.Get("Location"))
	}
	if p := b.get("/"); p.status != http.StatusSeeOther {
		t.Fatalf("after sign-out GET /: %d, want 303", p.status)
	}
	if n := countSessions(t, a); n != 0 {
		t.Errorf("%d sessions left in the database after sign-out, want 0", n)
	}
}

func countSessions(t *testing.T, a *app) int {
	t.Helper()
	var n int
	if err := a.st.DB().Get(&n, `SELECT count(*) FROM sessions`); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestCSRF(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	t.Run("post_without_token_403", func(t *testing.T) {
		b := a.browser()
		b.signInAs("bs-hanne")
		p := b.post("/log-ud", url.Values{})
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
		mustContain(t, p, "Handlingen blev afvist", `lang="da"`)
		if home := b.get("/"); home.status != http.StatusOK {
			t.Errorf("the refused sign-out signed out anyway: GET / %d", home.status)
		}
	})
	t.Run("post_with_another_sessions_token_403", func(t *testing.T) {
		other := a.browser().csrf("/log-ind")
		b := a.browser()
		b.get("/log-ind")
		p := b.post("/log-ind/dev", url.Values{"csrf_token": {other}, "user_id": {"bs-hanne"}})
		if p.status != http.StatusForbidden {
			t.Fatalf("status %d, want 403", p.status)
		}
	})
	t.Run("cross_origin_post_403", func(t *testing.T) {
		b := a.browser()
		tok := b.csrf("/log-ind")
		p := b.post("/log-ind/dev", url.Values{"csrf_token": {tok}, "user_id": {"bs-hanne"}}, "Sec-Fetch-Site", "cross-site")
		if p.status != http.StatusForbidden {
			t.Fatalf("Sec-Fetch-Site cross-site: %d, want 403", p.status)
		}
		p = b.post("/log-ind/dev", url.Values{"csrf_token": {tok}, "user_id": {"bs-hanne"}}, "Origin", "https://evil.example")
		if p.status != http.StatusForbidden {
			t.Fatalf("foreign Origin: %d, want 403", p.status)
		}
		mustContain(t, p, "Handlingen blev afvist")
	})
}

// record writes an initiative's transitions to the read model as the workflow's activities would.
func record(t *testing.T, st *store.Store, in *domain.Initiative, typ string, actor domain.Actor, phase domain.Phase, at time.Time) {
	t.Helper()
	before := in.Phase
	in.Version++
	in.Phase = phase
	in.UpdatedAt = at
	b, _ := json.Marshal(in)
	var snap domain.Initiative
	_ = json.Unmarshal(b, &snap)
	ev := store.Event{InitiativeID: in.ID, Seq: in.Version, Type: typ, ActorID: actor.UserID, ActorName: actor.Name,
		ActorRole: actor.Role, At: at, PhaseBefore: before, PhaseAfter: phase, Payload: json.RawMessage(`{}`)}
	if err := st.RecordTransition(context.Background(), store.Transition{Event: ev, Snapshot: snap}); err != nil {
		t.Fatalf("record %s %s: %v", in.ID, typ, err)
	}
}

var (
	mette = domain.Actor{UserID: "og-mette", Name: "Mette Kjær", Role: domain.RoleOperationalGroup}
	hanne = domain.Actor{UserID: "bs-hanne", Name: "Hanne Mortensen", Role: domain.RoleBoard}
	peter = domain.Actor{UserID: "fin-peter", Name: "Peter Holm", Role: domain.RoleFinance}
)

// lektiecafe is an initiative of 1.234.567 kr. in plan, executing with milestone 1 (due 31.12.2022) paid.
func lektiecafe(t *testing.T, st *store.Store, id, plan string) *domain.Initiative {
	t.Helper()
	p := domain.Proposal{
		Title: "Lektiecafé i Houlkærvænget", Description: "Lektiehjælp to gange om ugen.",
		DelaftaleID: "uddannelse-og-livschancer", HousingAreaIDs: []string{"houlkaervaenget"},
		TargetGroup: "Børn i 4.-9. klasse",
		Goals:       []domain.Goal{{ID: "g1", Description: "Bedre karakterer", SuccessCriterion: "Gennemsnit 0,5 højere"}},
		Budget: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(1_000_000)},
			{SourceID: "viborg-kommune", AmountØre: domain.Kroner(234_567)}},
		Milestones: []domain.MilestonePlan{
			{Title: "Opstart", DueDate: domain.NewDate(2022, 12, 31), Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: 123450}}},
			{Title: "Første skoleår", DueDate: domain.NewDate(2023, 8, 31), Tranche: []domain.SourceAmount{{SourceID: "lbf", AmountØre: domain.Kroner(500_000)}}},
		},
	}
	t0 := time.Date(2022, 3, 1, 9, 0, 0, 0, time.UTC)
	in := &domain.Initiative{ID: id, PlanID: plan, Revision: 1, Proposer: mette, Proposal: p, Decisions: []domain.Decision{},
		Milestones: domain.MilestonesFromPlan(p.Milestones), CreatedAt: t0}
	record(t, st, in, "submitted", mette, domain.PhaseBoardReview, t0)
	at := t0.Add(time.Hour)
	in.Decisions = []domain.Decision{{Revision: 1, Outcome: domain.OutcomeApprove, Comment: "Godkendt på mødet", At: at,
		Ballots: []domain.Ballot{{Revision: 1, Actor: hanne, Outcome: domain.OutcomeApprove, Comment: "Godkendt på mødet", At: at}}}}
	in.Milestones[0].TrancheStatus, in.Milestones[0].ReleasedAt = domain.TrancheReleased, &at
	record(t, st, in, "approved", hanne, domain.PhaseFunding, at)
	paid := t0.Add(2 * time.Hour)
	in.Milestones[0].TrancheStatus, in.Milestones[0].PaidAt, in.Milestones[0].PaymentReference = domain.TranchePaid, &paid, "NETS-2022-0042"
	record(t, st, in, "payment_confirmed", peter, domain.PhaseExecuting, paid)
	return in
}

func TestPages(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true, TemporalUIURL: "http://localhost:8233"})
	lektiecafe(t, a.st, "lektiecafe", planID)
	review := lektiecafe(t, a.st, "andet", planID) // a second one, in board review for the board's work list
	_ = review
	// Another plan with an initiative nobody in Viborg may see.
	other, err := seed.Viborg()
	if err != nil {
		t.Fatal(err)
	}
	other.Plan.ID, other.Plan.Name, other.Users = "anden-plan", "En anden plan", nil
	if _, err := a.st.SeedPlan(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	lektiecafe(t, a.st, "fremmed", "anden-plan")

	mette := a.browser()
	mette.signInAs("og-mette")
	admin := a.browser()
	admin.signInAs("adm-karen")
	board := a.browser()
	board.signInAs("bs-hanne")

	t.Run("work_lists_the_report_to_write_with_due_date", func(t *testing.T) {
		p := mette.get("/")
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		// The report's deadline is the milestone's due date, 31.12.2022 (nytårsaftensdag, a Saturday), moved to the
		// next business day; long past, so overdue.
		mustContain(t, p, "<h1>Mit arbejde</h1>", "Skriv statusrapport for milepæl 1: Opstart", "02.01.2023",
			"Overskredet siden 03.01.2023", `data-testid="work-overdue"`,
			`href="/indsatser/lektiecafe"`, "dit forslag", `aria-current="page"`)
	})
	t.Run("work_of_finance_is_empty_in_danish", func(t *testing.T) {
		f := a.browser()
		f.signInAs("fin-peter")
		mustContain(t, f.get("/"), "Der venter ikke noget på dig lige nu.")
	})
	t.Run("initiatives_list_and_filters", func(t *testing.T) {
		p := mette.get("/indsatser")
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		mustContain(t, p, "Lektiecafé i Houlkærvænget", "1.234.567 kr.", "i gang", "Uddannelse og livschancer", "Houlkærvænget",
			"01.03.2022", `<label class="form-label" for="fase">Fase</label>`)
		if strings.Contains(p.body, "fremmed") {
			t.Error("another plan's initiative is listed")
		}
		if p := mette.get("/indsatser?fase=completed"); strings.Contains(p.body, "Lektiecafé") || p.status != http.StatusOK {
			t.Errorf("filter fase=completed: %d, shows the executing initiative", p.status)
		}
		if p := mette.get("/indsatser?fase=nope"); p.status != http.StatusBadRequest {
			t.Errorf("unknown phase: %d, want 400", p.status)
		}
		if p := mette.get("/indsatser?efter=%21%21"); p.status != http.StatusBadRequest {
			t.Errorf("bad cursor: %d, want 400", p.status)
		}
	})
	t.Run("initiatives_next_page", func(t *testing.T) {
		for i := 0; i < 50; i++ {
			lektiecafe(t, a.st, "mange-"+string(rune('a'+i/26))+string(rune('a'+i%26)), planID)
		}
		p := mette.get("/indsatser")
		m := regexp.MustCompile(`href="(/indsatser\?efter=[^"]+)" rel="next">Næste side`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no Næste side link with 52 initiatives:\n%s", p.body)
		}
		next := mette.get(strings.ReplaceAll(m[1], "&amp;", "&"))
		if next.status != http.StatusOK || !strings.Contains(next.body, `href="/indsatser/lektiecafe"`) {
			t.Errorf("second page: %d, want the oldest initiative on it", next.status)
		}
	})
	t.Run("initiative_detail", func(t *testing.T) {
		p := mette.get("/indsatser/lektiecafe")
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		mustContain(t, p, "<h1>Lektiecafé i Houlkærvænget</h1>", "Bedre karakterer", "Gennemsnit 0,5 højere",
			"1.234.567 kr.", "1.234,50 kr.", "31.12.2022", "udbetalt", "NETS-2022-0042", "godkendt", "Godkendt på mødet",
			"Forslag indsendt", "Forslag godkendt", "Udbetaling bekræftet", "Peter Holm (økonomi)", "01.03.2022 kl. 10.00",
			"Landsbyggefonden")
		if strings.Contains(p.body, "Temporal Web UI") {
			t.Error("a non-admin gets the Temporal link")
		}
	})
	t.Run("admin_gets_the_temporal_link", func(t *testing.T) {
		mustContain(t, admin.get("/indsatser/lektiecafe"),
			`href="http://localhost:8233/namespaces/default/workflows/initiative%2Flektiecafe"`)
	})
	t.Run("another_plans_initiative_404", func(t *testing.T) {
		p := board.get("/indsatser/fremmed")
		if p.status != http.StatusNotFound {
			t.Fatalf("status %d, want 404", p.status)
		}
		mustContain(t, p, "Siden findes ikke")
		if strings.Contains(p.body, "Lektiecafé") {
			t.Error("the 404 shows the initiative")
		}
		if p := board.get("/indsatser/findes-ikke"); p.status != http.StatusNotFound {
			t.Errorf("unknown initiative: %d", p.status)
		}
	})
	t.Run("plan_budget", func(t *testing.T) {
		p := board.get("/planen")
		if p.status != http.StatusOK {
			t.Fatalf("status %d", p.status)
		}
		mustContain(t, p, "Budget pr. finansieringskilde", "Budget pr. delaftale", "Landsbyggefonden", "13.709.000 kr.",
			"25.689.000 kr.", "<svg", `role="img"`, "<desc", "Houlkærvænget")
	})
	t.Run("finance_page", func(t *testing.T) {
		if p := board.get("/oekonomi"); p.status != http.StatusOK || !strings.Contains(p.body, "<h1>Økonomi</h1>") {
			t.Errorf("status %d", p.status)
		}
	})
	t.Run("unknown_page_404_in_danish", func(t *testing.T) {
		p := board.get("/findes/ikke")
		if p.status != http.StatusNotFound {
			t.Fatalf("status %d", p.status)
		}
		mustContain(t, p, "Siden findes ikke", `<html lang="da">`)
	})
}

func TestStaticFilesAreServedWithCacheHeaders(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	b := a.browser()
	p := b.get("/log-ind")
	m := regexp.MustCompile(`href="(/static/[0-9a-f]+/vendor/dkfds/css/dkfds.min.css)"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no versioned stylesheet link:\n%s", p.body)
	}
	css := b.get(m[1])
	if css.status != http.StatusOK || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Fatalf("stylesheet: %d %s", css.status, css.header.Get("Content-Type"))
	}
	if cc := css.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") || !strings.Contains(cc, "max-age=31536000") {
		t.Errorf("Cache-Control %q, want a year, immutable", cc)
	}
	if css.header.Get("Set-Cookie") != "" {
		t.Error("a static file sets a cookie")
	}
	// A font the stylesheet refers to, relative to it, is there too.
	font := b.get(strings.Replace(m[1], "css/dkfds.min.css", "fonts/IBMPlexSans/complete/woff2/IBMPlexSans-Regular.woff2", 1))
	if font.status != http.StatusOK {
		t.Errorf("font: %d", font.status)
	}
	if old := b.get("/static/0000/app.css"); old.status != http.StatusOK || old.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("old version: %d %q, want 200 no-cache", old.status, old.header.Get("Cache-Control"))
	}
	for _, path := range []string{"/static/x/vendor/", "/static/x/vendor", "/static/x/nope.css"} {
		if p := b.get(path); p.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, p.status)
		}
	}
}
