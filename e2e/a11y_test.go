package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The accessibility checks of issue 6: axe-core run through chromedp
// (zero serious or critical violations), what axe reports only as
// moderate or not at all (one h1, the landmarks, a skip link first,
// images with alt, times with a datetime), sideways scrolling and 44 px
// touch targets on a phone. a11y_screens_test.go runs them on every
// screen; keyboard_test.go drives the pages by keyboard alone.

// axeSource is the vendored axe-core (e2e/testdata/axe.min.js), read
// once per test run.
var axeSource struct {
	once sync.Once
	src  string
	err  error
}

// axeScript returns axe-core's source, with the configuration Linkport
// checks against appended: the target-size rule, off by default and at
// 24 px (WCAG 2.5.8) when on, is on at 44 px, the size of Linkport's
// touch targets.
func axeScript(t *testing.T) string {
	t.Helper()
	axeSource.once.Do(func() {
		b, err := os.ReadFile(filepath.Join("testdata", "axe.min.js"))
		axeSource.src = string(b) + `
;axe.configure({checks: [{id: "target-size", options: {minSize: 44}}]});
undefined`
		axeSource.err = err
	})
	if axeSource.err != nil {
		t.Fatalf("read axe-core: %v", axeSource.err)
	}
	return axeSource.src
}

// axeViolation is one rule that axe found broken, with where.
type axeViolation struct {
	ID      string    `json:"id"`
	Impact  string    `json:"impact"`
	Help    string    `json:"help"`
	HelpURL string    `json:"helpUrl"`
	Nodes   []axeNode `json:"nodes"`
}

// axeNode is one element that breaks a rule: its CSS selector path (one
// selector a frame or shadow root) and axe's summary of why.
type axeNode struct {
	Target  []string `json:"target"`
	Summary string   `json:"summary"`
}

// blocking reports whether v fails the checks: serious or critical.
func (v axeViolation) blocking() bool { return v.Impact == "serious" || v.Impact == "critical" }

// String names the rule, its impact, the elements and axe's help page.
func (v axeViolation) String() string {
	var where []string
	for _, n := range v.Nodes {
		where = append(where, strings.Join(n.Target, " "))
	}
	s := fmt.Sprintf("%s (%s): %s; at %s; %s", v.ID, v.Impact, v.Help, strings.Join(where, ", "), v.HelpURL)
	if len(v.Nodes) > 0 && v.Nodes[0].Summary != "" {
		s += "\n\t\t" + strings.ReplaceAll(v.Nodes[0].Summary, "\n", "\n\t\t")
	}
	return s
}

// runAxeJS runs axe on the whole document and keeps what the report
// needs; axe.run answers with a promise.
const runAxeJS = `axe.run(document, {resultTypes: ["violations"], rules: {"target-size": {enabled: true}}}).then((r) => r.violations.map((v) => ({
	id: v.id, impact: v.impact || "", help: v.help, helpUrl: v.helpUrl,
	nodes: v.nodes.map((n) => ({target: n.target.map((s) => Array.isArray(s) ? s.join(" >>> ") : String(s)), summary: n.failureSummary || ""}))})))`

// runAxe runs axe-core on the page b shows and returns every violation.
// axe goes into the page through DevTools' Runtime.evaluate, which the
// page's Content-Security-Policy does not govern, where a <script src>
// from anywhere but the site itself would be refused
// (TestA11yHarnessCatchesViolations shows both); the page keeps it until
// it navigates.
func runAxe(t *testing.T, b *browser) []axeViolation {
	t.Helper()
	if !run(t, b, chromedp.Evaluate[bool](`typeof window.axe === "object" && typeof window.axe.run === "function"`)) {
		do(t, b, chromedp.Evaluate[chromedp.Void](axeScript(t)))
	}
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]axeViolation](runAxeJS, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe.run: %v", err)
	}
	return v
}

// setColorScheme makes the tab's prefers-color-scheme light or dark, as
// the system setting would.
func setColorScheme(t *testing.T, b *browser, scheme string) {
	t.Helper()
	do(t, b, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
}

// settle waits two frames, so a change of scheme or width is laid out and
// painted before the page is measured.
func settle(t *testing.T, b *browser) {
	t.Helper()
	do(t, b, chromedp.Evaluate[chromedp.Void](`new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r())))`, chromedp.EvalAwaitPromise))
}

// pageBackground is the page's background colour, as the browser drew
// it: the light and dark values of --bg in static/app.css.
const (
	lightBackground = "rgb(246, 247, 249)"
	darkBackground  = "rgb(17, 19, 24)"
)

// checkScheme wants the page drawn in scheme: the body's background is
// that scheme's --bg, and <html> has the data-theme the person chose.
func checkScheme(t *testing.T, b *browser, where, scheme, dataTheme string) {
	t.Helper()
	type drawn struct {
		Background string `json:"bg"`
		Theme      string `json:"theme"`
	}
	got := run(t, b, chromedp.Evaluate[drawn](`({bg: getComputedStyle(document.body).backgroundColor, theme: document.documentElement.dataset.theme ?? ""})`))
	want := drawn{lightBackground, dataTheme}
	if scheme == "dark" {
		want.Background = darkBackground
	}
	if got != want {
		t.Errorf("%s: drawn with background %s and data-theme %q, want %s (%s) and %q", where, got.Background, got.Theme, want.Background, scheme, want.Theme)
	}
}

// pageShape is what axe checks only as moderate, or not at all.
type pageShape struct {
	Lang      string   `json:"lang"`
	H1        int      `json:"h1"`
	Main      int      `json:"main"`
	Banner    bool     `json:"banner"`
	Footer    bool     `json:"footer"`
	FirstStop string   `json:"firstStop"`
	NoAlt     []string `json:"noAlt"`
	BadTimes  int      `json:"badTimes"`
}

// readShape reads the page's structure; tabbable is the same list of
// focusable controls as the keyboard test uses.
const readShape = `(() => {
	const first = Array.from(document.querySelectorAll(` + "`" + tabbableSelector + "`" + `)).find((el) => el.tabIndex >= 0 && el.checkVisibility());
	return {
		lang: document.documentElement.lang,
		h1: document.querySelectorAll("h1").length,
		main: document.querySelectorAll("main#main").length,
		banner: !!document.querySelector("body > header"),
		footer: !!document.querySelector("body > footer"),
		firstStop: first ? (first.getAttribute("href") || first.tagName.toLowerCase()) : "",
		noAlt: Array.from(document.images).filter((i) => !i.hasAttribute("alt")).map((i) => i.src),
		badTimes: Array.from(document.querySelectorAll("time")).filter((el) => !el.dateTime || isNaN(Date.parse(el.dateTime))).length,
	};
})()`

// tabbableSelector finds the elements the Tab key can reach.
const tabbableSelector = `a[href], button:not([disabled]), input:not([type="hidden"]):not([disabled]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex="-1"])`

// checkShape wants one h1, the header, main and footer landmarks, the
// skip link to #main as the first Tab stop, an alt on every image, a
// datetime on every <time>, and <html lang> in the page's language.
func checkShape(t *testing.T, b *browser, where, lang string) {
	t.Helper()
	got := run(t, b, chromedp.Evaluate[pageShape](readShape))
	want := pageShape{Lang: lang, H1: 1, Main: 1, Banner: true, Footer: true, FirstStop: "#main"}
	if len(got.NoAlt) > 0 || got.Lang != want.Lang || got.H1 != want.H1 || got.Main != want.Main || !got.Banner || !got.Footer || got.FirstStop != want.FirstStop || got.BadTimes > 0 {
		t.Errorf("%s: page shape %+v, want lang %q, one h1, <main id=main>, header and footer, the skip link to #main first, every image with alt, every time with a datetime", where, got, lang)
	}
}

// readSmallTargets lists the visible controls a finger cannot hit
// comfortably: smaller than 44 × 44 CSS pixels. A checkbox counts with its
// label, which also toggles it.
const readSmallTargets = `(() => {
	const small = [];
	for (const el of document.querySelectorAll('a[href], button, select, input:not([type="hidden"]), textarea')) {
		if (!el.checkVisibility()) continue;
		const r = el.getBoundingClientRect();
		let left = r.left, top = r.top, right = r.right, bottom = r.bottom;
		if ((el.type === "checkbox" || el.type === "radio") && el.labels) {
			for (const l of el.labels) {
				const q = l.getBoundingClientRect();
				left = Math.min(left, q.left); top = Math.min(top, q.top); right = Math.max(right, q.right); bottom = Math.max(bottom, q.bottom);
			}
		}
		const w = right - left, h = bottom - top;
		if (w < 43.5 || h < 43.5) {
			small.push("<" + el.tagName.toLowerCase() + (el.id ? " id=" + el.id : "") + (el.dataset.testid ? " data-testid=" + el.dataset.testid : "") + "> " +
				JSON.stringify(el.textContent.trim().replace(/\s+/g, " ").slice(0, 40)) + " " + Math.round(w) + "×" + Math.round(h));
		}
	}
	return small;
})()`

// checkTargets wants every visible control at least 44 × 44 CSS pixels.
func checkTargets(t *testing.T, b *browser, where string) {
	t.Helper()
	if small := run(t, b, chromedp.Evaluate[[]string](readSmallTargets)); len(small) > 0 {
		t.Errorf("%s: touch targets under 44 × 44 px:\n\t%s", where, strings.Join(small, "\n\t"))
	}
}

// TestA11yHarnessCatchesViolations shows that the checks are not blind:
// on a clean page axe finds nothing serious, and it does find an
// unlabelled text field and grey-on-grey text planted in the page; the
// target check finds a tiny button. It also shows how axe gets in: the
// page's CSP refuses a <script src> from elsewhere (a violation is
// reported), while axe evaluated over DevTools runs, and causes none.
func TestA11yHarnessCatchesViolations(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(srv.URL+"/login"))
	if err != nil {
		t.Fatal(err)
	}
	csp, _ := resp.Headers["Content-Security-Policy"].(string)
	if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "unsafe-inline") {
		t.Fatalf("the login page's CSP is %q, want script-src 'self' without unsafe-eval or unsafe-inline", csp)
	}

	clean := runAxe(t, b)
	for _, v := range clean {
		if v.blocking() {
			t.Errorf("the login page itself has a violation: %s", v)
		}
	}
	if _, _, reports, _ := b.watch.report(); len(reports) > 0 {
		t.Fatalf("injecting and running axe caused CSP reports: %q", reports)
	}

	do(t, b, chromedp.Evaluate[chromedp.Void](`(() => {
	const main = document.querySelector("main");
	main.append(Object.assign(document.createElement("input"), {type: "text", id: "planted-input"}));
	const p = Object.assign(document.createElement("p"), {id: "planted-text", textContent: "Grey on grey"});
	p.style.color = "#999"; p.style.background = "#aaa";
	main.append(p);
	// Right beside another control: a small target with room around it
	// passes axe's target-size (WCAG 2.5.8's spacing exception).
	const tiny = Object.assign(document.createElement("button"), {id: "planted-button", textContent: "x"});
	tiny.style.cssText = "min-height:0;min-width:0;padding:0;width:12px;height:12px;display:block";
	document.querySelector('[data-testid="provider-button"]').before(tiny);
})()`))
	found := map[string]axeViolation{}
	for _, v := range runAxe(t, b) {
		found[v.ID] = v
	}
	for id, target := range map[string]string{"label": "#planted-input", "color-contrast": "#planted-text", "target-size": "#planted-button"} {
		v, ok := found[id]
		if !ok || !v.blocking() || !slices.ContainsFunc(v.Nodes, func(n axeNode) bool { return slices.Contains(n.Target, target) }) {
			t.Errorf("axe did not report the planted %s violation at %s as serious or critical; found %v", id, target, found[id])
		}
	}
	small := run(t, b, chromedp.Evaluate[[]string](readSmallTargets))
	if len(small) != 2 || !strings.Contains(small[0], "id=planted-button") || !strings.Contains(small[1], "id=planted-input") {
		t.Errorf("target check found %q, want only the planted 12 × 12 button and the text field", small)
	}

	// A script from another origin, as a <script src> injection of axe
	// would be: refused, and reported.
	do(t, b, chromedp.Evaluate[chromedp.Void](`document.head.append(Object.assign(document.createElement("script"), {src: "http://127.0.0.1:9/axe.min.js"})); undefined`))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, reports, _ := b.watch.report()
		if slices.ContainsFunc(reports, func(r string) bool { return strings.Contains(r, "127.0.0.1:9/axe.min.js") }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page's CSP did not refuse a <script src> from another origin; reports: %q", reports)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
