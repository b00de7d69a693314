package browsertest

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// accessiblePage is what a page of the product should look like to axe-core:
// a language, a title, landmarks, a heading, labelled controls, enough
// contrast. Its strict CSP shows that the injected axe-core is not blocked by
// the product's policy.
const accessiblePage = `<!doctype html>
<html lang="da">
<head><meta charset="utf-8"><title>Nyt forslag – Helhedsplan</title>
<style>body{font-family:sans-serif;color:#1a1a1a;background:#fff} .hint{color:#444}</style></head>
<body>
<header><a href="/">Helhedsplan</a></header>
<nav aria-label="Hovedmenu"><ul><li><a href="/">Mit arbejde</a></li><li><a href="/planen">Planen</a></li></ul></nav>
<main>
<h1>Nyt forslag</h1>
<form method="post" action="/kvittering">
  <label for="titel">Titel</label>
  <input id="titel" name="titel" type="text" value="skal overskrives">
  <label for="omraade">Boligområde <span class="hint">(vælg ét)</span></label>
  <select id="omraade" name="omraade"><option value="">Vælg</option><option value="gellerup">Gellerup</option><option value="bispehaven">Bispehaven</option></select>
  <label for="start">Startdato</label>
  <input id="start" name="start" type="date">
  <input id="bekraeft" name="bekraeft" type="checkbox" value="ja"><label for="bekraeft">Jeg bekræfter</label>
  <button type="submit">Send forslag</button>
</form>
<button type="button" id="hjaelp-knap">Vis hjælp</button>
<p id="hjaelp" hidden>Udfyld alle felter.</p>
</main>
<script src="/app.js"></script>
</body></html>`

// appJS makes "Vis hjælp" a button that changes the page without navigating.
const appJS = `document.getElementById('hjaelp-knap').addEventListener('click', () => { document.getElementById('hjaelp').hidden = false; });`

// receiptPage echoes the submitted form.
const receiptPage = `<!doctype html><html lang="da"><head><meta charset="utf-8"><title>Kvittering</title></head>
<body><main><h1>Tak</h1><dl id="kvittering">
<dt>Titel</dt><dd id="titel">%s</dd><dt>Område</dt><dd id="omraade">%s</dd>
<dt>Start</dt><dd id="start">%s</dd><dt>Bekræftet</dt><dd id="bekraeft">%s</dd></dl></main></body></html>`

// inaccessiblePage breaks three rules a page of ours must not: an image without
// alt text, a field without a label and grey text on grey.
const inaccessiblePage = `<!doctype html>
<html lang="da"><head><meta charset="utf-8"><title>Dårlig side</title></head>
<body><main><h1>Dårlig side</h1>
<img id="logo" src="/logo.png">
<form><input id="beloeb" name="beloeb" type="text"></form>
<p id="graa" style="color:#bbbbbb;background:#ffffff">Næsten usynlig tekst</p>
</main></body></html>`

func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, accessiblePage)
	})
	mux.HandleFunc("GET /app.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		fmt.Fprint(w, appJS)
	})
	mux.HandleFunc("POST /kvittering", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(200 * time.Millisecond) // a server that takes its time; Click must wait for it
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, receiptPage, html.EscapeString(r.FormValue("titel")), html.EscapeString(r.FormValue("omraade")),
			html.EscapeString(r.FormValue("start")), html.EscapeString(r.FormValue("bekraeft")))
	})
	mux.HandleFunc("GET /daarlig", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, inaccessiblePage)
	})
	mux.HandleFunc("GET /logo.png", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	// A session: /login?as=NAME sets an HttpOnly cookie, /hvem shows it.
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "session", Value: r.URL.Query().Get("as"), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		http.Redirect(w, r, "/hvem", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /hvem", func(w http.ResponseWriter, r *http.Request) {
		who := "ingen"
		if c, err := r.Cookie("session"); err == nil {
			who = c.Value
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="da"><head><title>Hvem</title></head><body><main><p id="hvem">%s</p></main></body></html>`, html.EscapeString(who))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestPage_accessible_form_passes_axe_and_saves_screenshots(t *testing.T) {
	srv := testServer(t)
	b := Start(t, WithBaseURL(srv.URL))
	tab := b.NewTab()

	if status := tab.Visit("/"); status != http.StatusOK {
		t.Fatalf("Visit(/) = %d, want 200", status)
	}
	vs := tab.Page("Nyt forslag")
	for _, v := range vs {
		if v.Blocking() {
			t.Errorf("blocking violation on an accessible page: %s", v.ID)
		}
	}
	dir, err := ScreenshotDir()
	if err != nil {
		t.Fatal(err)
	}
	assertPNG(t, filepath.Join(dir, t.Name(), "01-Nyt_forslag.png"))

	// A button handled by a script: Click returns without a navigation.
	start := time.Now()
	tab.Click("Vis hjælp")
	if got := tab.Text("#hjaelp"); got != "Udfyld alle felter." {
		t.Errorf("after Click(Vis hjælp): help text %q", got)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Click on a button that does not navigate took %v", d)
	}

	tab.Fill("Titel", "Lektiecafé i Gellerup")
	tab.Fill("Boligområde", "Gellerup") // by the option's text; the label has a hint after it
	tab.Fill("start", "2025-12-31")     // by name
	tab.Check("Jeg bekræfter")
	tab.Click("Send forslag")

	if loc := tab.Location(); loc != srv.URL+"/kvittering" {
		t.Errorf("after Click(Send forslag): at %s", loc)
	}
	got := tab.Texts("#kvittering dd")
	want := []string{"Lektiecafé i Gellerup", "gellerup", "2025-12-31", "ja"}
	if !slices.Equal(got, want) {
		t.Errorf("submitted form: got %q, want %q", got, want)
	}
	tab.Page("Kvittering")
	assertPNG(t, filepath.Join(dir, t.Name(), "02-Kvittering.png"))
}

func TestAxe_inaccessible_page_is_reported_with_rule_ids(t *testing.T) {
	srv := testServer(t)
	tab := Start(t, WithBaseURL(srv.URL)).NewTab()
	tab.Visit("/daarlig")

	vs, err := tab.Axe()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]Violation{}
	for _, v := range vs {
		byID[v.ID] = v
	}
	for id, selector := range map[string]string{"image-alt": "#logo", "label": "#beloeb", "color-contrast": "#graa"} {
		v, ok := byID[id]
		if !ok {
			t.Errorf("axe did not report %s; got %v", id, ruleIDs(vs))
			continue
		}
		if !v.Blocking() {
			t.Errorf("%s has impact %q; want serious or critical", id, v.Impact)
		}
		if !slices.Contains(v.Selectors(), selector) {
			t.Errorf("%s: nodes %q, want %s among them", id, v.Selectors(), selector)
		}
	}

	// Page reports each of them as a test error naming rule, impact, help and node.
	rec := &recorder{TB: t}
	rec.run(func() { tab.page(rec, "Dårlig") })
	if rec.fatal || rec.skipped {
		t.Fatalf("Page stopped the test (fatal %v, skipped %v): %q", rec.fatal, rec.skipped, rec.errors)
	}
	for _, want := range []string{"image-alt (critical)", "label (critical)", "color-contrast (serious)"} {
		if !slices.ContainsFunc(rec.errors, func(e string) bool { return strings.Contains(e, want) }) {
			t.Errorf("Page did not report %q; it reported %q", want, rec.errors)
		}
	}
	for _, e := range rec.errors {
		if !strings.Contains(e, "dequeuniversity.com") || !strings.Contains(e, "nodes: #") {
			t.Errorf("report lacks the help URL or the node selectors: %q", e)
		}
	}
}

func TestTabs_keep_separate_cookies(t *testing.T) {
	srv := testServer(t)
	b := Start(t, WithBaseURL(srv.URL))
	member, board, stranger := b.NewTab(), b.NewTab(), b.NewTab()

	member.Visit("/login?as=medlem")
	board.Visit("/login?as=bestyrelse")
	stranger.Visit("/hvem")
	member.Visit("/hvem")

	for tab, want := range map[*Tab]string{member: "medlem", board: "bestyrelse", stranger: "ingen"} {
		if got := tab.Text("#hvem"); got != want {
			t.Errorf("signed in as %q, want %q", got, want)
		}
	}
}

func TestStart_without_chromium_fails_with_install_hint(t *testing.T) {
	t.Setenv(EnvChromium, filepath.Join(t.TempDir(), "no-such-chromium"))

	_, err := FindChromium()
	if !errors.Is(err, ErrNoChromium) {
		t.Fatalf("FindChromium() error = %v, want ErrNoChromium", err)
	}
	for _, want := range []string{"no-such-chromium", "apt-get install -y chromium", EnvChromium} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// Start fails the test; it never skips it.
	rec := &recorder{TB: t}
	rec.run(func() { Start(rec) })
	if rec.skipped || !rec.fatal {
		t.Fatalf("Start without chromium: fatal %v, skipped %v; want a fatal failure", rec.fatal, rec.skipped)
	}
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "apt-get install -y chromium") {
		t.Errorf("Start reported %q; want the install hint", rec.errors)
	}
}

func TestAxe_vendored_file_is_the_pinned_release(t *testing.T) {
	// The SRI hash npm's axe-core@4.14.1 publishes for axe.min.js in sri-history.json.
	const sri = "KTSJmUUM3yhJqOcLeRL8LahahJ2jnA0NU5T1HUqe2Vw="
	sum := sha256.Sum256([]byte(axeSource))
	if got := base64.StdEncoding.EncodeToString(sum[:]); got != sri {
		t.Errorf("axe/axe.min.js sha256 %s, want %s (axe-core %s); refresh it with axe/refresh.sh", got, sri, AxeVersion)
	}
	if !strings.HasPrefix(axeSource, "/*! axe v"+AxeVersion) {
		t.Errorf("axe/axe.min.js does not start with the axe v%s banner", AxeVersion)
	}
	if _, err := os.Stat(filepath.Join("axe", "LICENSE")); err != nil {
		t.Errorf("axe-core's licence must ship with it: %v", err)
	}
}

func TestScreenshotDir_follows_environment(t *testing.T) {
	abs := t.TempDir()
	for _, tc := range []struct {
		name, env, want string
	}{
		{"unset_is_artifacts_at_module_root", "", filepath.Join("main", DefaultScreenshotDir)},
		{"relative_counts_from_module_root", "out/shots", filepath.Join("main", "out", "shots")},
		{"absolute_is_kept", abs, abs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := screenshotDir(environment{screenshots: tc.env})
			if err != nil {
				t.Fatal(err)
			}
			root, _ := moduleRoot()
			if tc.env != abs {
				got = strings.TrimPrefix(got, filepath.Dir(root)+string(filepath.Separator))
				tc.want = strings.Replace(tc.want, "main", filepath.Base(root), 1)
			}
			if got != tc.want {
				t.Errorf("screenshotDir(%q) = %q, want %q", tc.env, got, tc.want)
			}
		})
	}
	// A sub-test is a sub-folder; no part of a name can climb out of the folder.
	if got, want := testDir("TestFlow/board approves/../x"), filepath.Join("TestFlow", "board_approves", "page", "x"); got != want {
		t.Errorf("testDir = %q, want %q", got, want)
	}
}

func assertPNG(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("screenshot: %v", err)
		return
	}
	if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) || len(b) < 1000 {
		t.Errorf("screenshot %s: %d bytes, not a PNG of a page", path, len(b))
	}
}

func ruleIDs(vs []Violation) []string {
	var ids []string
	for _, v := range vs {
		ids = append(ids, v.ID+"/"+v.Impact)
	}
	return ids
}

// recorder is a testing.TB that records failures and skips instead of acting
// on them, so a self-test can check what the package reports. Fatal and Skip
// end the goroutine as the real ones do; run calls f on its own goroutine.
type recorder struct {
	testing.TB
	mu      sync.Mutex
	errors  []string
	fatal   bool
	skipped bool
}

func (r *recorder) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) { r.Errorf("%s", fmt.Sprint(args...)) }
func (r *recorder) Fail()             { r.Errorf("Fail") }

func (r *recorder) FailNow() {
	r.mu.Lock()
	r.fatal = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) { r.Errorf(format, args...); r.FailNow() }
func (r *recorder) Fatal(args ...any)                 { r.Error(args...); r.FailNow() }

func (r *recorder) SkipNow() {
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any)                 { r.SkipNow() }
func (r *recorder) Skipf(format string, args ...any) { r.SkipNow() }

func TestClick_unknown_button_fails_and_lists_the_page_buttons(t *testing.T) {
	srv := testServer(t)
	rec := &recorder{TB: t}
	tab := Start(rec, WithBaseURL(srv.URL)).NewTab()
	tab.Visit("/")

	start := time.Now()
	rec.run(func() { tab.Click("Slet forslag") })
	if !rec.fatal || len(rec.errors) != 1 {
		t.Fatalf("Click on a missing button: fatal %v, errors %q; want one fatal failure", rec.fatal, rec.errors)
	}
	for _, want := range []string{`no button "Slet forslag"`, "Send forslag", "Vis hjælp"} {
		if !strings.Contains(rec.errors[0], want) {
			t.Errorf("failure %q does not mention %q", rec.errors[0], want)
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a missing button took %v to report; a typo should fail fast", d)
	}
}
