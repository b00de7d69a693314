// Package browsertest drives Debian's chromium from Go tests, so that a web test
// uses the pages as a person does: it opens them in a real, headless browser,
// fills fields by their labels, clicks buttons by their text, keeps a screenshot
// of every page it looks at and runs axe-core on it.
//
// A test starts one browser and opens a tab for each user it plays; tabs live in
// separate browser contexts, so each has its own cookie jar (its own sign-in):
//
//	b := browsertest.Start(t, browsertest.WithBaseURL(srv.URL))
//	member := b.NewTab()
//	member.Visit("/")
//	member.Page("mit-arbejde") // screenshot + axe: serious/critical violations fail the test
//
// # The browser
//
// Start looks for $HELHEDSPLAN_CHROMIUM, then "chromium", then "chromium-browser"
// on PATH. When none is found the test FAILS (it is never skipped) with a message
// that says how to install it: "apt-get update && apt-get install -y chromium".
// .ci/run installs the package when it is missing. The browser runs headless,
// without sandbox or GPU, with background networking and component updates off,
// and with a host resolver that answers only for 127.0.0.1 and localhost, so a
// page that pulls anything from the internet shows it in its screenshot and its
// test, not silently in CI.
//
// # Screenshots
//
// Tab.Page and Tab.Screenshot save a full-page PNG as
//
//	<dir>/<test name>/<nn>-<name>.png
//
// where <dir> is $HELHEDSPLAN_SCREENSHOTS (a relative path counts from the module
// root) or, by default, artifacts/screenshots at the module root; <test name> is
// t.Name() with sub-tests as sub-folders; <nn> counts the screenshots of the test
// from 01 in the order they were taken, across all its tabs. A test's folder is
// emptied the first time the test takes a screenshot in a run, so the folder
// always shows the last run. CI keeps the folder as an artifact.
//
// # Accessibility
//
// Tab.Page runs axe-core 4.14.1 (vendored in axe/, MPL-2.0, injected into the
// page by the test, never served by the product) with the WCAG 2.1 A and AA rules
// and reports every violation of impact "serious" or "critical" with t.Errorf:
// rule id, impact, help, its URL and the CSS selectors of the offending nodes. It
// returns all violations, of every impact, for a test that wants to be stricter.
//
// # Failures
//
// The helpers of Tab stop the test with t.Fatalf when the browser cannot do what
// was asked (no field with that label, no button with that text, a timeout), with
// a message that lists what the page offers instead. Like t.Fatalf, they must be
// called from the goroutine that runs the test.
package browsertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Environment variables that change where the package looks and writes.
const (
	// EnvChromium names the browser binary to use instead of looking for
	// chromium on PATH.
	EnvChromium = "HELHEDSPLAN_CHROMIUM"
	// EnvScreenshots names the folder for screenshots instead of
	// DefaultScreenshotDir.
	EnvScreenshots = "HELHEDSPLAN_SCREENSHOTS"
	// DefaultScreenshotDir is where screenshots go, relative to the module root,
	// when EnvScreenshots is unset.
	DefaultScreenshotDir = "artifacts/screenshots"
)

// ErrNoChromium is wrapped by the error of FindChromium when no usable browser
// binary is found.
var ErrNoChromium = errors.New("browsertest: no chromium browser found")

// installHint says how to get a browser; every "not found" message carries it.
const installHint = `Browser tests need Debian's chromium; they fail rather than skip without it.
Install it with:
    apt-get update && apt-get install -y chromium
(as root, or with sudo), or set ` + EnvChromium + ` to the path of a Chromium or Chrome binary.
CI's .ci/run installs the package when it is missing.`

// environment is everything the package reads from the environment, read in
// one place.
type environment struct {
	chromium    string // EnvChromium
	screenshots string // EnvScreenshots
}

func readEnvironment() environment {
	return environment{
		chromium:    os.Getenv(EnvChromium),
		screenshots: os.Getenv(EnvScreenshots),
	}
}

// FindChromium returns the path of the browser Start would run: the binary
// $HELHEDSPLAN_CHROMIUM names, else "chromium" or "chromium-browser" on PATH.
// The error wraps ErrNoChromium and says how to install the browser.
func FindChromium() (string, error) {
	return findChromium(readEnvironment())
}

func findChromium(env environment) (string, error) {
	if env.chromium != "" {
		p, err := exec.LookPath(env.chromium)
		if err != nil {
			return "", fmt.Errorf("%w: %s=%q is not an executable (%v).\n%s",
				ErrNoChromium, EnvChromium, env.chromium, err, installHint)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: neither chromium nor chromium-browser is on PATH and %s is unset.\n%s",
		ErrNoChromium, EnvChromium, installHint)
}

// Option changes how Start sets up the browser.
type Option func(*config)

type config struct {
	baseURL       string
	width, height int
	timeout       time.Duration
}

// WithBaseURL makes Visit resolve a relative URL such as "/indsatser" against
// base, typically an httptest.Server's URL.
func WithBaseURL(base string) Option { return func(c *config) { c.baseURL = base } }

// WithViewport sets the size of the browser window in CSS pixels; the default
// is 1280×900. Use 820×1180 to see a page as on a tablet.
func WithViewport(width, height int) Option {
	return func(c *config) { c.width, c.height = width, height }
}

// WithTimeout sets how long one step (a visit, a click and the page it loads, a
// wait) may take before the test fails; the default is 15 seconds.
func WithTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Browser is one running chromium, stopped when the test ends.
type Browser struct {
	t    testing.TB
	cfg  config
	root context.Context // the browser's first tab; cancelling it stops the browser
	// done is set when the test is over, so late browser logs are dropped
	// instead of calling t.Logf after the test (which panics).
	done *atomic.Bool
}

// Start starts a headless chromium for the test and stops it in t.Cleanup. It
// fails the test, never skips it, when no browser is installed; the message
// says how to install one.
func Start(t testing.TB, opts ...Option) *Browser {
	t.Helper()
	b, err := launch(t, readEnvironment(), opts...)
	if err != nil {
		t.Fatalf("%v", err)
	}
	return b
}

// launch does Start's work and returns its failure instead of failing t.
func launch(t testing.TB, env environment, opts ...Option) (*Browser, error) {
	cfg := config{width: 1280, height: 900, timeout: 15 * time.Second}
	for _, o := range opts {
		o(&cfg)
	}
	path, err := findChromium(env)
	if err != nil {
		return nil, err
	}

	// The browser's own output is kept for the error message of a failed
	// start; it is the only clue when chromium cannot run in a container.
	out := &syncBuffer{}
	allocOpts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
		// Only the test's own servers exist for this browser.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost"),
		chromedp.Flag("lang", "da-DK"),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(cfg.width, cfg.height),
		chromedp.CombinedOutput(out),
	)
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), allocOpts...)
	done := &atomic.Bool{}
	logf := func(format string, args ...any) {
		if !done.Load() {
			t.Logf("chromium: "+format, args...)
		}
	}
	root, rootCancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logf))
	stop := func() {
		done.Store(true)
		rootCancel()
		allocCancel()
	}

	// The first Run starts the browser; it gets no timeout, because the
	// context of the first Run bounds the browser's life. A browser that
	// cannot start exits, which ends this Run with its exit status.
	if err := chromedp.Do(root); err != nil {
		stop()
		return nil, fmt.Errorf("browsertest: starting %s: %w\nbrowser output:\n%s", path, err, out.tail(2000))
	}
	t.Cleanup(stop)
	return &Browser{t: t, cfg: cfg, root: root, done: done}, nil
}

// NewTab opens a tab in a fresh browser context: its own cookies, storage and
// cache, like a separate incognito window. Open one tab for each user a test
// plays. The tab uses the Danish locale (da_DK) and Copenhagen's time zone. It
// closes when the test ends.
func (b *Browser) NewTab() *Tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	// The first Run on the tab's context creates the tab and ties it to the
	// context, so it runs without a timeout, like Start's.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		// axe-core is injected by the test; a strict Content-Security-Policy
		// of the product must not stop it.
		if _, err := cdp.Call(ctx, t, page.SetBypassCSP, page.SetBypassCSPParams{Enabled: true}); err != nil {
			return err
		}
		// The users are in Denmark: date fields and script-formatted
		// numbers show as theirs do (headless chromium ignores --lang).
		if _, err := cdp.Call(ctx, t, emulation.SetLocaleOverride, emulation.SetLocaleOverrideParams{Locale: "da_DK"}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, t, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Copenhagen"})
		return err
	}))
	if err != nil {
		cancel()
		b.t.Fatalf("browsertest: opening a tab: %v", err)
	}
	b.t.Cleanup(cancel)
	return &Tab{t: b.t, b: b, ctx: ctx}
}

// Tab is one browser tab in its own browser context. Its methods fail the test
// (t.Fatalf) when the browser cannot do what was asked.
type Tab struct {
	t   testing.TB
	b   *Browser
	ctx context.Context
}

// Context returns the chromedp context of the tab, for a step this package has
// no helper for: chromedp.Run(tab.Context(), ...). It has no timeout.
func (tab *Tab) Context() context.Context { return tab.ctx }

// resolve turns a relative URL into one under the base URL of WithBaseURL.
func (tab *Tab) resolve(ref string) (string, error) {
	if tab.b.cfg.baseURL == "" {
		return ref, nil
	}
	base, err := url.Parse(tab.b.cfg.baseURL)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", tab.b.cfg.baseURL, err)
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	return base.ResolveReference(r).String(), nil
}

// step runs f with the tab's per-step timeout.
func (tab *Tab) step(f func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(tab.ctx, tab.b.cfg.timeout)
	defer cancel()
	return f(ctx)
}

// syncBuffer is a bytes.Buffer safe for the browser's output goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) tail(n int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buf.String()
	if len(b) > n {
		b = "…" + b[len(b)-n:]
	}
	if strings.TrimSpace(b) == "" {
		return "(none)"
	}
	return b
}
