package browsertest

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core's axe.min.js, npm axe-core@4.14.1 (see axe/README.md).
//
//go:embed axe/axe.min.js
var axeSource string

// AxeVersion is the version of the vendored axe-core.
const AxeVersion = "4.14.1"

// AxeTags are the axe-core rule tags Page runs: WCAG 2.0 and 2.1, levels A and AA.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// Violation is one axe-core rule the page breaks, with the elements that break it.
type Violation struct {
	ID          string          `json:"id"`     // rule id, e.g. "color-contrast"
	Impact      string          `json:"impact"` // "minor", "moderate", "serious" or "critical"
	Help        string          `json:"help"`
	HelpURL     string          `json:"helpUrl"`
	Description string          `json:"description"`
	Tags        []string        `json:"tags"`
	Nodes       []ViolationNode `json:"nodes"`
}

// ViolationNode is one element that breaks a rule.
type ViolationNode struct {
	// Target is the CSS selector of the element; one entry per frame or
	// shadow root on the way to it.
	Target         []string `json:"target"`
	HTML           string   `json:"html"`
	FailureSummary string   `json:"failureSummary"`
	Impact         string   `json:"impact"`
}

// Blocking reports whether the violation fails Page: impact serious or critical.
func (v Violation) Blocking() bool { return v.Impact == "serious" || v.Impact == "critical" }

// Selectors returns the CSS selectors of the offending elements.
func (v Violation) Selectors() []string {
	out := make([]string, 0, len(v.Nodes))
	for _, n := range v.Nodes {
		out = append(out, strings.Join(n.Target, " >>> "))
	}
	return out
}

// axeRunJS runs axe-core and keeps the fields Violation has; the page's own
// script never sees it.
const axeRunJS = `axe.run(document, {runOnly: {type: 'tag', values: %s}, resultTypes: ['violations']})
  .then(r => r.violations.map(v => ({
    id: v.id, impact: v.impact || '', help: v.help, helpUrl: v.helpUrl, description: v.description, tags: v.tags,
    nodes: v.nodes.map(n => ({
      target: n.target.map(s => Array.isArray(s) ? s.join(' ') : String(s)),
      html: n.html, failureSummary: n.failureSummary || '', impact: n.impact || '',
    })),
  })))`

// Axe injects axe-core into the page the tab shows (once per document) and
// returns every violation of the WCAG 2.1 A and AA rules, of every impact. It
// does not fail the test; Page does.
func (tab *Tab) Axe() ([]Violation, error) {
	var vs []Violation
	err := tab.step(func(ctx context.Context) error {
		loaded, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object' && typeof window.axe.run === 'function'`))
		if err != nil {
			return fmt.Errorf("axe-core: %w", err)
		}
		if !loaded {
			if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource)); err != nil {
				return fmt.Errorf("injecting axe-core: %w", err)
			}
		}
		tags := `["` + strings.Join(AxeTags, `","`) + `"]`
		vs, err = chromedp.Run(ctx, chromedp.Evaluate[[]Violation](fmt.Sprintf(axeRunJS, tags), chromedp.EvalAwaitPromise))
		if err != nil {
			return fmt.Errorf("running axe-core: %w", err)
		}
		return nil
	})
	return vs, err
}

// Page records the page the tab shows as a step of the test: it saves a
// full-page screenshot as <dir>/<test name>/<nn>-<name>.png (see the package
// documentation), then runs axe-core and reports every serious or critical
// violation with t.Errorf. It returns all violations, of every impact.
func (tab *Tab) Page(name string) []Violation {
	tab.t.Helper()
	return tab.page(tab.t, name)
}

// page is Page reporting to t, so that a self-test can record what Page reports.
func (tab *Tab) page(t testing.TB, name string) []Violation {
	t.Helper()
	loc := tab.Location()
	if path, err := tab.screenshot(t.Name(), name); err != nil {
		t.Errorf("browsertest: screenshot of %s (%s): %v", name, loc, err)
	} else {
		t.Logf("page %s (%s): %s", name, loc, path)
	}
	vs, err := tab.Axe()
	if err != nil {
		t.Errorf("browsertest: %s (%s): %v", name, loc, err)
		return nil
	}
	for _, v := range vs {
		if v.Blocking() {
			t.Errorf("axe: page %s (%s): %s (%s): %s\n\t%s\n\tnodes: %s",
				name, loc, v.ID, v.Impact, v.Help, v.HelpURL, strings.Join(v.Selectors(), ", "))
		}
	}
	return vs
}

// Screenshot saves a full-page PNG of what the tab shows as
// <dir>/<test name>/<nn>-<name>.png and returns its path. Page calls it; call
// it directly for a picture without the accessibility check.
func (tab *Tab) Screenshot(name string) string {
	tab.t.Helper()
	path, err := tab.screenshot(tab.t.Name(), name)
	if err != nil {
		tab.t.Fatalf("browsertest: Screenshot(%q): %v", name, err)
	}
	return path
}

func (tab *Tab) screenshot(testName, name string) (string, error) {
	var png []byte
	err := tab.step(func(ctx context.Context) (err error) {
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		return err
	})
	if err != nil {
		return "", err
	}
	dir, n, err := shots.next(testName)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, fmt.Sprintf("%02d-%s.png", n, slug(name)))
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// ScreenshotDir returns the folder screenshots go to: $HELHEDSPLAN_SCREENSHOTS
// (relative to the module root when relative) or artifacts/screenshots at the
// module root.
func ScreenshotDir() (string, error) {
	return screenshotDir(readEnvironment())
}

func screenshotDir(env environment) (string, error) {
	if filepath.IsAbs(env.screenshots) {
		return env.screenshots, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	if env.screenshots != "" {
		return filepath.Join(root, env.screenshots), nil
	}
	return filepath.Join(root, DefaultScreenshotDir), nil
}

// moduleRoot is the nearest folder above the working directory (a test runs
// in its package's folder) that holds go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("browsertest: no go.mod above " + dir + "; set " + EnvScreenshots + " to an absolute folder")
		}
	}
}

// shots numbers the screenshots of each test, across its tabs and browsers.
var shots = &shotCounter{n: map[string]int{}}

type shotCounter struct {
	mu sync.Mutex
	n  map[string]int // by test name
}

// next returns the test's folder, emptied on the test's first screenshot of
// this run, and the number of the screenshot about to be taken.
func (c *shotCounter) next(testName string) (string, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	root, err := ScreenshotDir()
	if err != nil {
		return "", 0, err
	}
	dir := filepath.Join(root, testDir(testName))
	if _, seen := c.n[testName]; !seen {
		if err := os.RemoveAll(dir); err != nil {
			return "", 0, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	c.n[testName]++
	return dir, c.n[testName], nil
}

var unsafeChars = regexp.MustCompile(`[^\p{L}\p{N}._-]+`)

// slug makes a file name of a page name: "Mit arbejde" -> "Mit_arbejde", "Økonomi" stays.
func slug(s string) string {
	s = strings.Trim(unsafeChars.ReplaceAllString(s, "_"), "._")
	if s == "" {
		return "page"
	}
	return s
}

// testDir turns "TestFlow/board_approves" into "TestFlow/board_approves" with
// each part made safe, so a sub-test is a sub-folder and no part can climb out.
func testDir(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = slug(p)
	}
	return filepath.Join(parts...)
}
