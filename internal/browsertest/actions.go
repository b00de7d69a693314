package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// target is where the page-side lookups leave the element they found, so that
// chromedp can click or type into it as a person would (mouse and keyboard
// events), without marking the DOM that axe-core later inspects.
const target = chromedp.JSPath("window.__browsertestTarget")

// Visit opens the URL (relative ones resolve against WithBaseURL), waits until
// the page has loaded and returns the HTTP status of the document. It does not
// judge the status: a test of a refusal expects 403.
func (tab *Tab) Visit(ref string) int {
	tab.t.Helper()
	u, err := tab.resolve(ref)
	if err != nil {
		tab.t.Fatalf("browsertest: Visit(%q): %v", ref, err)
	}
	var status int
	err = tab.step(func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(u))
		if err == nil && resp != nil {
			status = int(resp.Status)
		}
		return err
	})
	if err != nil {
		tab.t.Fatalf("browsertest: Visit(%q): %v", u, err)
	}
	return status
}

// Location returns the URL of the page the tab shows.
func (tab *Tab) Location() string {
	tab.t.Helper()
	var loc string
	err := tab.step(func(ctx context.Context) (err error) {
		loc, err = chromedp.Run(ctx, chromedp.Location())
		return err
	})
	if err != nil {
		tab.t.Fatalf("browsertest: Location: %v", err)
	}
	return loc
}

// found is what the page-side lookups report.
type found struct {
	OK        bool     `json:"ok"`
	Problem   string   `json:"problem"`   // why nothing or too much was found
	Available []string `json:"available"` // what the page offers instead
	Kind      string   `json:"kind"`      // "text", "select", "checkbox", "radio", "value"
}

// lookupJS holds the page-side lookups. Labels count as a person reads them:
// the text of the <label>s of the control, aria-label and aria-labelledby;
// whitespace is collapsed and an exact match wins over a prefix match (a label
// with a hint or a "*" after its text).
const lookupJS = `(() => {
  const norm = s => (s || '').replace(/\s+/g, ' ').trim();
  const shown = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
  const labels = el => {
    const out = [];
    if (el.labels) for (const l of el.labels) out.push(norm(l.innerText));
    if (el.getAttribute('aria-label')) out.push(norm(el.getAttribute('aria-label')));
    const by = el.getAttribute('aria-labelledby');
    if (by) out.push(norm(by.split(/\s+/).map(id => { const e = document.getElementById(id); return e ? e.innerText : ''; }).join(' ')));
    return out.filter(s => s);
  };
  const pick = (all, name, want, what) => {
    let hits = all.filter(el => name(el).some(n => n === want));
    if (!hits.length) hits = all.filter(el => name(el).some(n => n.startsWith(want)));
    if (hits.length > 1 && hits.filter(shown).length) hits = hits.filter(shown);
    const available = all.filter(shown).map(el => name(el)[0] || '(' + el.outerHTML.slice(0, 80) + ')');
    if (!hits.length) return {ok: false, problem: 'no ' + what + ' "' + want + '"', available};
    if (hits.length > 1) return {ok: false, problem: hits.length + ' ' + what + 's "' + want + '"; use a more specific text or a CSS selector', available};
    return {ok: true, el: hits[0]};
  };
  return {
    field(q) {
      const want = norm(q);
      const all = Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'));
      let r = pick(all, labels, want, 'field labelled');
      if (!r.ok && r.problem.startsWith('no ')) {
        const byName = all.filter(el => el.name === q || el.id === q);
        if (byName.length === 1) r = {ok: true, el: byName[0]};
      }
      if (!r.ok) return r;
      const el = r.el, type = (el.type || '').toLowerCase();
      let kind = 'text';
      if (el.tagName === 'SELECT') kind = 'select';
      else if (type === 'checkbox' || type === 'radio') kind = type;
      else if (['date', 'datetime-local', 'time', 'month', 'week', 'color', 'range'].includes(type)) kind = 'value';
      // A design system may hide the real checkbox behind its label; click what a person clicks.
      window.__browsertestTarget = (kind === 'checkbox' || kind === 'radio') && !shown(el) && el.labels && el.labels.length ? el.labels[0] : el;
      window.__browsertestField = el;
      return {ok: true, kind};
    },
    button(q) {
      const all = Array.from(document.querySelectorAll('button, input[type=submit], input[type=button], input[type=reset], input[type=image], [role=button]'));
      const name = el => [norm(el.innerText || el.value || ''), norm(el.getAttribute('aria-label')), norm(el.getAttribute('alt'))].filter(s => s);
      const r = pick(all, name, norm(q), 'button');
      if (r.ok) window.__browsertestTarget = r.el;
      return r.ok ? {ok: true} : r;
    },
    link(q) {
      const all = Array.from(document.querySelectorAll('a[href]'));
      const name = el => [norm(el.innerText), norm(el.getAttribute('aria-label'))].filter(s => s);
      const r = pick(all, name, norm(q), 'link');
      if (r.ok) window.__browsertestTarget = r.el;
      return r.ok ? {ok: true} : r;
    },
    css(q) {
      const el = document.querySelector(q);
      if (!el) return {ok: false, problem: 'nothing matches ' + q, available: []};
      window.__browsertestTarget = el;
      return {ok: true};
    },
  };
})()`

// find runs a lookup and retries it until the step's timeout, since a page
// may still be adding what the test looks for.
func (tab *Tab) find(ctx context.Context, fn, arg string) (found, error) {
	q, _ := json.Marshal(arg)
	expr := lookupJS + "." + fn + "(" + string(q) + ")"
	for {
		f, err := chromedp.Run(ctx, chromedp.Evaluate[found](expr))
		if err == nil && f.OK {
			return f, nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return found{}, err
			}
			msg := f.Problem
			if len(f.Available) > 0 {
				msg += fmt.Sprintf("; the page has: %q", f.Available)
			}
			return found{}, errors.New(msg)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// findQuick looks once, then keeps looking for up to a second: long enough for
// a page that is still being built, short enough that a typo fails fast.
func (tab *Tab) findQuick(ctx context.Context, fn, arg string) (found, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return tab.find(ctx, fn, arg)
}

// Fill types value into the field whose label (or aria-label, or else name or
// id) is field. A text field is emptied first and then typed into key by key; a
// <select> chooses the option whose text or value is value; a date, time or
// range input gets the value set ("2025-12-31"). Use Check for a checkbox or a
// radio button.
func (tab *Tab) Fill(field, value string) {
	tab.t.Helper()
	err := tab.step(func(ctx context.Context) error {
		f, err := tab.findQuick(ctx, "field", field)
		if err != nil {
			return err
		}
		v, _ := json.Marshal(value)
		switch f.Kind {
		case "checkbox", "radio":
			return fmt.Errorf("it is a %s; use Check", f.Kind)
		case "select":
			problem, err := chromedp.Run(ctx, chromedp.Evaluate[string](`((el, v) => {
				const o = Array.from(el.options).find(o => o.text.replace(/\s+/g, ' ').trim() === v || o.value === v);
				if (!o) return 'no option "' + v + '"; options: ' + Array.from(el.options).map(o => o.text.trim()).join(' | ');
				el.focus(); el.value = o.value;
				el.dispatchEvent(new Event('input', {bubbles: true}));
				el.dispatchEvent(new Event('change', {bubbles: true}));
				return '';
			})(window.__browsertestField, `+string(v)+`)`))
			if err == nil && problem != "" {
				err = errors.New(problem)
			}
			return err
		case "value":
			_, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`((el, v) => {
				el.focus(); el.value = v;
				el.dispatchEvent(new Event('input', {bubbles: true}));
				el.dispatchEvent(new Event('change', {bubbles: true}));
			})(window.__browsertestField, `+string(v)+`)`))
			return err
		}
		// chromedp.Clear resets the value attribute, not what was typed,
		// so the field is emptied from the page.
		return chromedp.Do(ctx,
			chromedp.Evaluate[chromedp.Void](`(el => { el.focus(); el.value = ''; el.dispatchEvent(new Event('input', {bubbles: true})); })(window.__browsertestField)`),
			chromedp.SendKeys(target, value),
		)
	})
	if err != nil {
		tab.t.Fatalf("browsertest: Fill(%q): %v", field, err)
	}
}

// Check ticks the checkbox or chooses the radio button whose label is field,
// by clicking it (or its label) as a person does. A ticked box stays ticked.
func (tab *Tab) Check(field string) {
	tab.t.Helper()
	err := tab.step(func(ctx context.Context) error {
		f, err := tab.findQuick(ctx, "field", field)
		if err != nil {
			return err
		}
		if f.Kind != "checkbox" && f.Kind != "radio" {
			return fmt.Errorf("it is a %s field; use Fill", f.Kind)
		}
		checked, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__browsertestField.checked`))
		if err != nil || checked {
			return err
		}
		if err := chromedp.Do(ctx, chromedp.Click(target)); err != nil {
			return err
		}
		checked, err = chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__browsertestField.checked`))
		if err == nil && !checked {
			err = errors.New("clicking it did not tick it")
		}
		return err
	})
	if err != nil {
		tab.t.Fatalf("browsertest: Check(%q): %v", field, err)
	}
}

// Click clicks the button whose visible text (or value, aria-label or alt) is
// text. When the click submits a form or follows a link, Click returns once the
// next page has loaded; otherwise (a button handled by a script) it returns
// after half a second. Exactly one button must match; Click fails and lists the
// page's buttons otherwise.
func (tab *Tab) Click(text string) {
	tab.t.Helper()
	if err := tab.clickFound("button", text); err != nil {
		tab.t.Fatalf("browsertest: Click(%q): %v", text, err)
	}
}

// ClickLink follows the link whose text (or aria-label) is text, like Click.
func (tab *Tab) ClickLink(text string) {
	tab.t.Helper()
	if err := tab.clickFound("link", text); err != nil {
		tab.t.Fatalf("browsertest: ClickLink(%q): %v", text, err)
	}
}

// ClickSelector clicks the first element the CSS selector matches, like Click;
// for a button whose text is not unique on the page ("Godkend" in every row).
func (tab *Tab) ClickSelector(css string) {
	tab.t.Helper()
	if err := tab.clickFound("css", css); err != nil {
		tab.t.Fatalf("browsertest: ClickSelector(%q): %v", css, err)
	}
}

// navigationGrace is how long a click has to start a navigation before Click
// decides that it did not navigate. A form submit starts one within
// milliseconds on an idle machine; on a loaded CI machine (two cores, the
// test binary, PostgreSQL and chromium) it took more than 500 ms, and the test
// went on before the sign-in had set its cookie. So a click on what navigates
// by itself — a submit button in a form, a link to another page — waits
// navigationGrace; any other click (a script's button) only scriptGrace.
const (
	navigationGrace = 5 * time.Second
	scriptGrace     = 500 * time.Millisecond
)

// navigates says whether the target navigates without a script's help.
const navigates = `(t => !!t && (
	(t.tagName === 'A' && !!t.getAttribute('href') && !t.getAttribute('href').startsWith('#')) ||
	(!!t.form && (t.type === 'submit' || t.type === 'image'))
))(window.__browsertestTarget)`

func (tab *Tab) clickFound(fn, arg string) error {
	return tab.step(func(ctx context.Context) error {
		if _, err := tab.findQuick(ctx, fn, arg); err != nil {
			return err
		}
		return tab.clickAndSettle(ctx)
	})
}

// clickAndSettle clicks the target and, if that starts a navigation, waits for
// its end: a new document that has loaded, a same-document navigation, or a
// load that ended without a new document (a download, a 204).
func (tab *Tab) clickAndSettle(ctx context.Context) error {
	token := newToken()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](`window.__browsertestDoc = "`+token+`"`)); err != nil {
		return err
	}
	var navigating, stopped, sameDocument atomic.Bool
	lctx, lcancel := context.WithCancel(ctx)
	defer lcancel()
	err := chromedp.Listen(lctx, func(ev any) {
		switch ev.(type) {
		case *page.EventFrameRequestedNavigation, *page.EventFrameStartedNavigating, *page.EventFrameStartedLoading:
			navigating.Store(true)
		case *page.EventFrameStoppedLoading:
			if navigating.Load() {
				stopped.Store(true)
			}
		case *page.EventNavigatedWithinDocument:
			sameDocument.Store(true)
		}
	})
	if err != nil {
		return err
	}
	expect, err := chromedp.Run(ctx, chromedp.Evaluate[bool](navigates))
	if err != nil {
		return err
	}
	if err := chromedp.Do(ctx, chromedp.Click(target)); err != nil {
		return err
	}
	grace := time.Now().Add(scriptGrace)
	if expect {
		grace = time.Now().Add(navigationGrace)
	}
	for {
		if navigating.Load() {
			// Evaluating fails while one document replaces the other;
			// that is part of the wait, not an error.
			state, err := chromedp.Run(ctx, chromedp.Evaluate[string](
				`(window.__browsertestDoc === "`+token+`" ? "old:" : "new:") + document.readyState`))
			switch {
			case err == nil && state == "new:complete":
				return nil
			case err == nil && strings.HasPrefix(state, "old:") && (stopped.Load() || sameDocument.Load()):
				return nil
			}
		} else if time.Now().After(grace) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the page it led to did not finish loading: %w", ctx.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func newToken() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// WaitFor waits until an element matching the CSS selector is visible, for
// what a script adds to the page after a click.
func (tab *Tab) WaitFor(css string) {
	tab.t.Helper()
	err := tab.step(func(ctx context.Context) error {
		return chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(css)))
	})
	if err != nil {
		tab.t.Fatalf("browsertest: WaitFor(%q): %v", css, err)
	}
}

// Text returns the visible text (innerText, whitespace collapsed) of the first
// element matching the CSS selector, waiting until one exists: Text("main"),
// Text(".fds-alert").
func (tab *Tab) Text(css string) string {
	tab.t.Helper()
	var text string
	err := tab.step(func(ctx context.Context) error {
		if _, err := tab.find(ctx, "css", css); err != nil {
			return err
		}
		var err error
		text, err = chromedp.Run(ctx, chromedp.Evaluate[string](
			`window.__browsertestTarget.innerText.replace(/\s+/g, ' ').trim()`))
		return err
	})
	if err != nil {
		tab.t.Fatalf("browsertest: Text(%q): %v", css, err)
	}
	return text
}

// Texts returns the visible text of every element matching the CSS selector,
// in document order, without waiting: Texts("table tbody tr").
func (tab *Tab) Texts(css string) []string {
	tab.t.Helper()
	q, _ := json.Marshal(css)
	var texts []string
	err := tab.step(func(ctx context.Context) (err error) {
		texts, err = chromedp.Run(ctx, chromedp.Evaluate[[]string](
			`Array.from(document.querySelectorAll(`+string(q)+`)).map(el => el.innerText.replace(/\s+/g, ' ').trim())`))
		return err
	})
	if err != nil {
		tab.t.Fatalf("browsertest: Texts(%q): %v", css, err)
	}
	return texts
}
