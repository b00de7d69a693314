package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/helhedsplan/helhedsplan/web"
)

var inKindIDRe = regexp.MustCompile(`data-testid="inkind-confirm-(\d+)"`)

// Mette registers in-kind on the initiative page (a refused form comes back with its errors at the fields and
// what she typed); Peter (finance) confirms it on Økonomi › Naturalydelser; the plan page shows it per source.
func TestInKindPages(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	mette := a.browser()
	mette.signInAs("og-mette")

	p := mette.get("/indsatser/lektiecafe")
	panel := section(t, p, "naturalydelser")
	if !strings.Contains(panel, "Der er ikke registreret naturalydelser") ||
		!strings.Contains(panel, `<option value="viborg-kommune">Viborg Kommune</option>`) ||
		strings.Contains(panel, `<option value="lbf">`) || !strings.Contains(panel, `<option value="3">3. Milepæl 3</option>`) {
		t.Fatalf("panel before:\n%s", panel)
	}
	values := mette.formValues("/indsatser/lektiecafe", "inkind-form", url.Values{"kilde": {"viborg-kommune"},
		"milepael": {"2"}, "timer": {"120"}, "timesats": {"abc"}, "beskrivelse": {""}})
	p = mette.post("/indsatser/lektiecafe/naturalydelser", values)
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("refused form: status %d\n%s", p.status, p.body)
	}
	for _, want := range []string{`href="#naturalydelse-timesats"`, `id="naturalydelse-timesats-fejl"`,
		"Skriv beløbet i kroner", `value="abc"`, `value="120"`, "<title>Fejl: "} {
		if !strings.Contains(p.body, want) {
			t.Errorf("refused form lacks %q", want)
		}
	}
	values.Set("timesats", "450,00")
	p = mette.post("/indsatser/lektiecafe/naturalydelser", values)
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `href="#naturalydelse-beskrivelse"`) ||
		!strings.Contains(p.body, "Beskriv, hvad bidraget består af.") {
		t.Fatalf("no description: status %d\n%s", p.status, section(t, p, "naturalydelser"))
	}
	values.Set("beskrivelse", "Medarbejdertimer fra Jobcentret")
	p = mette.post("/indsatser/lektiecafe/naturalydelser", values)
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/indsatser/lektiecafe#naturalydelser" {
		t.Fatalf("register: status %d\n%s", p.status, p.body)
	}
	p = mette.get("/indsatser/lektiecafe")
	panel = section(t, p, "naturalydelser")
	for _, want := range []string{"Medarbejdertimer fra Jobcentret", "120 timer à 450 kr.", "54.000 kr.", "Registreret",
		"Registreret af Mette Kjær"} {
		if !strings.Contains(panel, want) {
			t.Errorf("panel after lacks %q:\n%s", want, panel)
		}
	}
	// Lars (board) sees the list but no form; Mette sees no confirm button on her own registration.
	lars := a.browser()
	lars.signInAs("bs-lars")
	if p := lars.get("/indsatser/lektiecafe"); strings.Contains(section(t, p, "naturalydelser"), "<form") {
		t.Fatal("a board member may register in-kind")
	}
	if p := mette.get("/oekonomi/naturalydelser"); p.status != http.StatusOK || strings.Contains(p.body, "inkind-confirm-") {
		t.Fatalf("Mette's list: %d, with a confirm button", p.status)
	}

	peter := a.browser()
	peter.signInAs("fin-peter")
	p = peter.get("/oekonomi/naturalydelser?status=registered")
	m := inKindIDRe.FindStringSubmatch(p.body)
	if p.status != http.StatusOK || m == nil || !strings.Contains(p.body, "Lektiecafé i Houlkærvænget</a>, milepæl 2") {
		t.Fatalf("finance's list: %d\n%s", p.status, p.body)
	}
	csrf := peter.csrf("/oekonomi/naturalydelser")
	// A rejection needs a reason: the list comes back with the error at the field.
	p = peter.post("/oekonomi/naturalydelser/"+m[1]+"/afvis", url.Values{"csrf_token": {csrf}, "begrundelse": {" "}})
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, `href="#begrundelse-`+m[1]+`"`) ||
		!strings.Contains(p.body, `id="begrundelse-`+m[1]+`-fejl"`) {
		t.Fatalf("rejection without reason: %d\n%s", p.status, p.body)
	}
	p = peter.post("/oekonomi/naturalydelser/"+m[1]+"/godkend", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/oekonomi/naturalydelser" {
		t.Fatalf("confirm: %d\n%s", p.status, p.body)
	}
	p = peter.get("/oekonomi/naturalydelser")
	if !strings.Contains(p.body, "Naturalydelsen er godkendt") || !strings.Contains(p.body, "Godkendt af Peter Holm") ||
		strings.Contains(p.body, "inkind-confirm-") {
		t.Fatalf("after confirming:\n%s", p.body)
	}
	// Confirming again is refused with a message, not a second decision.
	p = peter.post("/oekonomi/naturalydelser/"+m[1]+"/godkend", url.Values{"csrf_token": {csrf}})
	if p.status != http.StatusConflict || !strings.Contains(p.body, "allerede godkendt") {
		t.Fatalf("second confirm: %d\n%s", p.status, p.body)
	}
	p = peter.get("/planen")
	if table := section(t, p, "naturalydelser"); !strings.Contains(table, `data-testid="inkind-per-source"`) ||
		!strings.Contains(table, "<th scope=\"row\">Viborg Kommune</th><td class=\"text-align-right\">54.000 kr.</td>") {
		t.Fatalf("plan page:\n%s", table)
	}
}

// The registration form sent twice (a double click) registers once: its form key is the request's key.
func TestInKindFormSentTwiceRegistersOnce(t *testing.T) {
	a, _ := newPaymentApp(t, web.Config{DevSignIn: true})
	financeFixture(t, a.st)
	mette := a.browser()
	mette.signInAs("og-mette")
	values := mette.formValues("/indsatser/lektiecafe", "inkind-form", url.Values{"kilde": {"viborg-kommune"},
		"milepael": {"2"}, "vaerdi": {"7.500"}, "beskrivelse": {"Mødelokaler i beboerhuset"}})
	for i := 0; i < 2; i++ {
		if p := mette.post("/indsatser/lektiecafe/naturalydelser", values); p.status != http.StatusSeeOther {
			t.Fatalf("post %d: status %d\n%s", i+1, p.status, p.body)
		}
	}
	panel := section(t, mette.get("/indsatser/lektiecafe"), "naturalydelser")
	if n := strings.Count(panel, "Mødelokaler i beboerhuset"); n != 1 {
		t.Fatalf("the contribution is listed %d times, want once:\n%s", n, panel)
	}
}
