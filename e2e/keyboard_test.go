package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focusStop is where one press of Tab put the focus, in page coordinates,
// with how the focus is drawn.
type focusStop struct {
	What         string  `json:"what"`
	Href         string  `json:"href"`
	Top          float64 `json:"top"`
	Left         float64 `json:"left"`
	Bottom       float64 `json:"bottom"`
	InViewport   bool    `json:"inViewport"`
	InMain       bool    `json:"inMain"`
	FocusVisible bool    `json:"focusVisible"`
	Outline      string  `json:"outline"`
	OutlineWidth float64 `json:"outlineWidth"`
	Shadow       string  `json:"shadow"`
	// Contrast is the outline's contrast with the colour behind it (the
	// nearest opaque background of an ancestor).
	Contrast float64 `json:"contrast"`
}

// String names the stop for failure messages.
func (f focusStop) String() string {
	return fmt.Sprintf("%s at (%.0f, %.0f)", f.What, f.Left, f.Top)
}

// visible reports whether the focus is drawn: an outline of at least 2 px
// or a box shadow, at least 3:1 against what is behind it (WCAG 1.4.11).
func (f focusStop) visible() bool {
	drawn := f.Outline != "none" && f.OutlineWidth >= 2 || f.Shadow != "none" && f.Shadow != ""
	return f.FocusVisible && drawn && f.Contrast >= 3
}

// readFocus describes document.activeElement; null when nothing but the
// page has the focus.
const readFocus = `(() => {
	const el = document.activeElement;
	if (!el || el === document.body || el === document.documentElement) return null;
	const cs = getComputedStyle(el), r = el.getBoundingClientRect();
	const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
	const lum = ([r, g, b]) => [r, g, b].map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
		.reduce((s, v, i) => s + v * [0.2126, 0.7152, 0.0722][i], 0);
	let behind = el.parentElement, bg = null;
	while (behind) {
		const c = rgb(getComputedStyle(behind).backgroundColor);
		if (c.length >= 3 && (c.length === 3 || c[3] === 1)) { bg = c; break; }
		behind = behind.parentElement;
	}
	bg = bg || [255, 255, 255];
	const a = lum(rgb(cs.outlineColor)), b = lum(bg);
	return {
		what: "<" + el.tagName.toLowerCase() + (el.id ? " id=" + el.id : "") + (el.dataset.testid ? " data-testid=" + el.dataset.testid : "") + "> " +
			JSON.stringify(el.textContent.trim().replace(/\s+/g, " ").slice(0, 40)),
		href: el.getAttribute("href") || "",
		top: r.top + scrollY, left: r.left + scrollX, bottom: r.bottom + scrollY,
		inViewport: r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth,
		inMain: !!el.closest("main"),
		focusVisible: el.matches(":focus-visible"),
		outline: cs.outlineStyle, outlineWidth: parseFloat(cs.outlineWidth) || 0, shadow: cs.boxShadow,
		contrast: (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05),
	};
})()`

// pressTab presses Tab, as a person on a keyboard does, and returns where
// the focus went; nil when it left the page.
func pressTab(t *testing.T, b *browser) *focusStop {
	t.Helper()
	do(t, b, chromedp.KeyEvent(kb.Tab))
	return run(t, b, chromedp.Evaluate[*focusStop](readFocus))
}

// tabThrough loads u fresh and presses Tab until the focus leaves the
// page or comes back to the first stop, returning every stop in order.
func tabThrough(t *testing.T, b *browser, u, wantPath string) []focusStop {
	t.Helper()
	open(t, b, u, wantPath)
	var stops []focusStop
	for range 80 {
		f := pressTab(t, b)
		if f == nil || len(stops) > 0 && f.What == stops[0].What && f.Top == stops[0].Top {
			return stops
		}
		stops = append(stops, *f)
	}
	t.Fatalf("%s: 80 presses of Tab never left the page", u)
	return nil
}

// checkTabOrder wants the skip link first and shown when focused, every
// stop's focus drawn, every control reached, and the order the order of
// reading: each stop below the one before, or on its row to its right.
// The skip link is left out of the order: it shows over the header.
func checkTabOrder(t *testing.T, b *browser, where string, stops []focusStop) {
	t.Helper()
	if len(stops) == 0 {
		t.Fatalf("%s: Tab reached nothing", where)
	}
	if first := stops[0]; first.Href != "#main" || !first.InViewport || !first.visible() {
		t.Errorf("%s: the first Tab stop is %s (href %q, in view %v, focus drawn %v), want the skip link to #main, shown with its focus", where, first, first.Href, first.InViewport, first.visible())
	}
	for _, f := range stops {
		if !f.visible() {
			t.Errorf("%s: no visible focus on %s: outline %s %.1fpx, shadow %q, :focus-visible %v, contrast %.2f:1", where, f, f.Outline, f.OutlineWidth, f.Shadow, f.FocusVisible, f.Contrast)
		}
	}
	for i := 2; i < len(stops); i++ {
		prev, f := stops[i-1], stops[i]
		below := f.Top >= prev.Bottom-1
		sameRow := !below && f.Bottom > prev.Top+1
		if !below && !(sameRow && f.Left >= prev.Left-1) {
			t.Errorf("%s: Tab goes from %s back to %s, against the order of reading", where, prev, f)
		}
	}
	want := run(t, b, chromedp.Evaluate[int](`Array.from(document.querySelectorAll(`+"`"+tabbableSelector+"`"+`)).filter((el) => el.tabIndex >= 0 && el.checkVisibility()).length`))
	if len(stops) != want {
		var got []string
		for _, f := range stops {
			got = append(got, f.String())
		}
		t.Errorf("%s: Tab reached %d controls, the page has %d:\n\t%s", where, len(stops), want, strings.Join(got, "\n\t"))
	}
}

// TestKeyboardOnly uses the sign-in page and the connected accounts with
// the keyboard alone, with real key events, in light on a desktop and in
// dark on a phone: the skip link comes first and skips to the content,
// every control is reached in reading order with a visible focus, and a
// connected account is removed through htmx with Enter and the confirm
// dialog (which names the account), after which the focus is on the
// notice that announces the removal.
func TestKeyboardOnly(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	t.Cleanup(func() { checkPageHealth(t, b, srv.URL) })

	layouts := []struct {
		scheme string
		width  int64
	}{{"light", laptopWidth}, {"dark", phoneWidth}}
	for _, l := range layouts {
		setColorScheme(t, b, l.scheme)
		setViewport(t, b, l.width)
		where := fmt.Sprintf("sign-in page [%s, %s]", l.scheme, widthName(l.width))
		checkTabOrder(t, b, where, tabThrough(t, b, srv.URL+"/login", "/login"))

		// Enter on the skip link: the next Tab is in <main>.
		open(t, b, srv.URL+"/login", "/login")
		if f := pressTab(t, b); f == nil || f.Href != "#main" {
			t.Fatalf("%s: first Tab stop %v, want the skip link", where, f)
		}
		do(t, b, chromedp.KeyEvent(kb.Enter))
		if f := pressTab(t, b); f == nil || !f.InMain {
			t.Errorf("%s: after the skip link, Tab goes to %v, want the first control of <main>", where, f)
		}
	}

	setColorScheme(t, b, "light")
	setViewport(t, b, laptopWidth)
	signInAsNew(t, b, srv.URL, adaGoogle)
	linkAsNew(t, b, graceFacebook)
	for _, l := range layouts {
		setColorScheme(t, b, l.scheme)
		setViewport(t, b, l.width)
		checkTabOrder(t, b, fmt.Sprintf("accounts page [%s, %s]", l.scheme, widthName(l.width)), tabThrough(t, b, srv.URL+"/accounts", "/accounts"))
	}

	// Remove Facebook by keyboard: Tab to its Remove button, Enter, OK.
	remove := `[data-testid="identity"][data-provider="facebook"] [data-testid="unlink"]`
	open(t, b, srv.URL+"/accounts", "/accounts")
	on := false
	for range 80 {
		if pressTab(t, b) == nil {
			continue
		}
		if on = run(t, b, chromedp.Evaluate[bool](`document.activeElement.matches('`+remove+`')`)); on {
			break
		}
	}
	if !on {
		t.Fatal("Tab never reached Facebook's Remove button")
	}
	dialogs := acceptDialogs(t, b)
	do(t, b, chromedp.KeyEvent(kb.Enter))
	select {
	case msg := <-dialogs:
		if !strings.Contains(msg, "Facebook") || !strings.Contains(msg, graceFacebook.email) {
			t.Errorf("the confirm dialog says %q; it should name the Facebook account %s", msg, graceFacebook.email)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Enter on Remove opened no confirm dialog within 10s")
	}
	focused := `document.querySelectorAll('[data-testid="identity"]').length === 1 && document.activeElement?.id === "notice" && document.activeElement.getAttribute("role") === "status"`
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](focused, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("after removing by keyboard, the focus is not on the announced notice: %v (active: %s)", err, activeElement(t, b))
	}
	notice := run(t, b, chromedp.Evaluate[*focusStop](readFocus))
	text := run(t, b, chromedp.Evaluate[string](`document.activeElement.textContent`))
	if notice == nil || !notice.visible() || !strings.Contains(text, graceFacebook.email) {
		t.Errorf("the notice after the removal says %q, focused as %+v; want it to name %s with a visible focus", text, notice, graceFacebook.email)
	}
	screenshot(t, b, art, "notice-focused")
	// The next Tab carries on from the notice, inside the page's content.
	if f := pressTab(t, b); f == nil || !f.InMain {
		t.Errorf("Tab after the notice goes to %v, want the next control of <main>", f)
	}
}
