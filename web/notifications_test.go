package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/helhedsplan/helhedsplan/domain"
	"github.com/helhedsplan/helhedsplan/internal/browsertest"
	"github.com/helhedsplan/helhedsplan/store"
	"github.com/helhedsplan/helhedsplan/web"
)

// notifyOf records the initiative's next event and notifies audience of it, in one step as a workflow does.
func notifyOf(t *testing.T, st *store.Store, in *domain.Initiative, title string, audience store.Audience) {
	t.Helper()
	in.Version++
	at := time.Date(2022, 3, 14, 8, 0, 0, 0, time.UTC).Add(time.Duration(in.Version) * time.Minute)
	in.UpdatedAt = at
	b, _ := json.Marshal(in)
	var snap domain.Initiative
	_ = json.Unmarshal(b, &snap)
	ev := store.Event{InitiativeID: in.ID, Seq: in.Version, Type: "deadline_reminder", ActorID: hanne.UserID,
		ActorName: hanne.Name, ActorRole: hanne.Role, At: at, PhaseBefore: in.Phase, PhaseAfter: in.Phase,
		Payload: json.RawMessage(`{}`)}
	_, err := st.WriteStep(context.Background(), store.Step{
		Transitions: []store.Transition{{Event: ev, Snapshot: snap}},
		Notify: []store.NotifyInput{{PlanID: planID, InitiativeID: in.ID, Seq: in.Version, Kind: store.NotifyReminder,
			Title: title, Body: "Bestyrelsen har ikke besluttet forslaget endnu.\nFristen er fredag.", Audience: audience}},
	})
	if err != nil {
		t.Fatalf("notify %q: %v", title, err)
	}
}

var unreadBadgeRe = regexp.MustCompile(`data-testid="unread-count">(\d+)<`)

// unreadInHeader is the number in the header's badge ("" when there is none).
func unreadInHeader(p page) string {
	if m := unreadBadgeRe.FindStringSubmatch(p.body); m != nil {
		return m[1]
	}
	return ""
}

func TestNotificationsPage(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	in := initiativeAt(t, a.st, "lektiecafe", inBoardReview)
	notifyOf(t, a.st, in, "Påmindelse: «Lektiecafé lektiecafe» venter på beslutning", store.Audience{Roles: []domain.Role{domain.RoleBoard}})
	notifyOf(t, a.st, in, "Eskalering: fristen for beslutningen er overskredet", store.Audience{UserIDs: []string{"bs-hanne"}})
	notifyOf(t, a.st, in, "Kun til Mette", store.Audience{UserIDs: []string{"og-mette"}})

	b := a.browser()
	b.signInAs("bs-hanne")
	home := b.get("/")
	if got := unreadInHeader(home); got != "2" {
		t.Fatalf("the header's unread count on Mit arbejde = %q, want 2", got)
	}
	p := b.get("/notifikationer")
	if p.status != http.StatusOK {
		t.Fatalf("GET /notifikationer: %d\n%s", p.status, p.body)
	}
	mustContain(t, p, "<h1>Notifikationer</h1>", `aria-current="page"><span>Notifikationer`, "Du har 2 ulæste",
		"Bestyrelsen har ikke besluttet forslaget endnu.</p><p>Fristen er fredag.",
		`href="/indsatser/lektiecafe"`, "Markér alle som læst", "«Lektiecafé lektiecafe»")
	if !regexp.MustCompile(`Påmindelse · \d\d\.\d\d\.\d{4} kl\. \d\d\.\d\d`).MatchString(p.body) {
		t.Error("no kind and Danish time under a notification")
	}
	if strings.Contains(p.body, "Kun til Mette") {
		t.Error("Hanne sees Mette's notification")
	}
	first, second := strings.Index(p.body, "Eskalering: fristen"), strings.Index(p.body, "Påmindelse: ")
	if first < 0 || second < 0 || first > second {
		t.Errorf("not newest first: escalation at %d, reminder at %d", first, second)
	}
	if n := strings.Count(p.body, `data-testid="form-read"`); n != 2 {
		t.Fatalf("%d mark-read forms, want 2", n)
	}

	// Mark the newest read: back to the page, one fewer unread, its form gone.
	ids := regexp.MustCompile(`action="/notifikationer/(\d+)/laest"`).FindAllStringSubmatch(p.body, -1)
	newest := ids[0][1]
	token := b.csrf("/notifikationer")
	if r := b.post("/notifikationer/"+newest+"/laest", url.Values{}); r.status != http.StatusForbidden {
		t.Fatalf("mark read without the CSRF token: %d, want 403", r.status)
	}
	r := b.post("/notifikationer/"+newest+"/laest", url.Values{"csrf_token": {token}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/notifikationer#notifikation-"+newest {
		t.Fatalf("mark read: %d to %q", r.status, r.header.Get("Location"))
	}
	p = b.get("/notifikationer")
	if got := unreadInHeader(p); got != "1" {
		t.Fatalf("unread after marking one = %q, want 1", got)
	}
	if strings.Contains(p.body, `action="/notifikationer/`+newest+`/laest"`) {
		t.Error("the read notification still has its form")
	}
	unreadOnly := b.get("/notifikationer?ulaeste=1")
	if strings.Contains(unreadOnly.body, "Eskalering: fristen") || !strings.Contains(unreadOnly.body, "Påmindelse: ") {
		t.Errorf("only unread lists the wrong ones:\n%s", unreadOnly.body)
	}

	// Another user's notification does not exist for Hanne.
	var mettes int64
	if err := a.st.DB().GetContext(context.Background(), &mettes, `SELECT id FROM notifications WHERE user_id = 'og-mette'`); err != nil {
		t.Fatal(err)
	}
	if r := b.post(fmt.Sprintf("/notifikationer/%d/laest", mettes), url.Values{"csrf_token": {token}}); r.status != http.StatusNotFound {
		t.Fatalf("marking Mette's notification: %d, want 404", r.status)
	}

	// Mark all read: a message, and no number in the header any more.
	r = b.post("/notifikationer/laest", url.Values{"csrf_token": {token}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/notifikationer" {
		t.Fatalf("mark all read: %d to %q", r.status, r.header.Get("Location"))
	}
	p = b.get("/notifikationer")
	mustContain(t, p, "1 notifikation er markeret som læst.")
	if got := unreadInHeader(p); got != "" || strings.Contains(p.body, "Markér alle som læst") {
		t.Fatalf("after marking all: header count %q, read-all form shown %v", got, strings.Contains(p.body, "Markér alle som læst"))
	}

	// Mette's count is hers.
	m := a.browser()
	m.signInAs("og-mette")
	if got := unreadInHeader(m.get("/planen")); got != "1" {
		t.Fatalf("Mette's header count = %q, want 1", got)
	}
}

func TestNotificationsPageIsPaged(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	in := initiativeAt(t, a.st, "jobcafe", inBoardReview)
	for i := range 22 {
		notifyOf(t, a.st, in, fmt.Sprintf("Notifikation nr. %02d", i+1), store.Audience{UserIDs: []string{"og-mette"}})
	}
	b := a.browser()
	b.signInAs("og-mette")
	p := b.get("/notifikationer")
	if n := strings.Count(p.body, `data-testid="notification"`); n != 20 {
		t.Fatalf("first page: %d notifications, want 20", n)
	}
	mustContain(t, p, "Notifikation nr. 22", "Notifikation nr. 03")
	next := regexp.MustCompile(`href="([^"]+)" rel="next"`).FindStringSubmatch(p.body)
	if next == nil {
		t.Fatal("no link to the next page")
	}
	p2 := b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if n := strings.Count(p2.body, `data-testid="notification"`); n != 2 {
		t.Fatalf("second page: %d notifications, want 2", n)
	}
	mustContain(t, p2, "Notifikation nr. 02", "Notifikation nr. 01", "Første side")

	// Marking one read on page 2 goes back to page 2.
	id := regexp.MustCompile(`action="/notifikationer/(\d+)/laest"`).FindStringSubmatch(p2.body)[1]
	after := regexp.MustCompile(`name="efter" value="([^"]+)"`).FindStringSubmatch(p2.body)[1]
	r := b.post("/notifikationer/"+id+"/laest", url.Values{"csrf_token": {b.csrf("/notifikationer")}, "efter": {after}})
	if want := "/notifikationer?efter=" + url.QueryEscape(after) + "#notifikation-" + id; r.status != http.StatusSeeOther || r.header.Get("Location") != want {
		t.Fatalf("mark read on page 2: %d to %q, want %q", r.status, r.header.Get("Location"), want)
	}
	if p := b.get("/notifikationer?efter=ugyldig"); p.status != http.StatusBadRequest {
		t.Fatalf("a bad cursor: %d, want 400", p.status)
	}
}

// TestNotificationsInABrowser reads and marks notifications in headless chromium; every page is saved as a
// screenshot and checked with axe-core.
func TestNotificationsInABrowser(t *testing.T) {
	a := newApp(t, web.Config{DevSignIn: true})
	in := initiativeAt(t, a.st, "lektiecafe", inBoardReview)
	notifyOf(t, a.st, in, "Påmindelse: «Lektiecafé lektiecafe» venter på bestyrelsens beslutning", store.Audience{Roles: []domain.Role{domain.RoleBoard}})
	notifyOf(t, a.st, in, "Eskalering: fristen for beslutningen er overskredet", store.Audience{UserIDs: []string{"bs-hanne"}})
	b := browsertest.Start(t, browsertest.WithBaseURL(a.srv.URL))

	hanne := b.NewTab()
	hanne.Visit("/log-ind")
	hanne.Click("Log ind som Hanne Mortensen")
	if got := hanne.Text(`[data-testid="unread-count"]`); !strings.HasPrefix(got, "2") {
		t.Fatalf("the header's count reads %q, want 2 ulæste", got)
	}
	if status := hanne.Visit("/notifikationer"); status != http.StatusOK {
		t.Fatalf("/notifikationer: %d", status)
	}
	hanne.Page("notifikationer")
	hanne.ClickSelector(`[data-testid="form-read"] button`)
	if got := hanne.Text(`[data-testid="unread-count"]`); !strings.HasPrefix(got, "1") {
		t.Fatalf("after marking one read the header's count reads %q, want 1 ulæste", got)
	}
	hanne.Click("Markér alle som læst")
	if got := hanne.Text(`[data-testid="flash"]`); !strings.Contains(got, "1 notifikation er markeret som læst") {
		t.Errorf("flash %q", got)
	}
	hanne.Page("notifikationer-alle-laest")
	hanne.ClickSelector(`[data-testid="notification"] a[href="/indsatser/lektiecafe"]`)
	if got := hanne.Text("h1"); !strings.Contains(got, "Lektiecafé") {
		t.Fatalf("the link leads to %q, want the initiative", got)
	}
}
