package e2e

import (
	"context"
	"strconv"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// The widths every journey runs at: a small phone and a laptop.
const (
	phoneWidth  = 360
	laptopWidth = 1280
)

// viewportHeight is the height of the emulated window; full-page
// screenshots capture beyond it.
const viewportHeight = 800

// journeyWidths are the widths every journey runs at, narrowest first.
var journeyWidths = []int64{phoneWidth, laptopWidth}

// widthName names a width's subtest and screenshots: "360px".
func widthName(width int64) string { return strconv.FormatInt(width, 10) + "px" }

// setViewport makes b's tab width CSS pixels wide, at a device scale of
// 1, with no scrollbar taking room (a phone overlays its own): the page is
// laid out exactly width wide. It is a window of that width, not an emulated phone, so no
// zooming out can hide a page that is too wide.
func setViewport(t *testing.T, b *browser, width int64) {
	t.Helper()
	do(t, b,
		chromedp.EmulateViewport(width, viewportHeight),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScrollbarsHidden, emulation.SetScrollbarsHiddenParams{Hidden: true})
			return err
		}),
	)
	if got := run(t, b, chromedp.Evaluate[int64](`window.innerWidth`)); got != width {
		t.Fatalf("after setViewport(%d) window.innerWidth = %d", width, got)
	}
}

// checkNoHorizontalScroll fails when the page is wider than the window:
// a person would have to scroll sideways to read it.
func checkNoHorizontalScroll(t *testing.T, b *browser, where string) {
	t.Helper()
	type widths struct {
		Scroll int64  `json:"scroll"`
		Inner  int64  `json:"inner"`
		Widest string `json:"widest"`
	}
	w := run(t, b, chromedp.Evaluate[widths](`(() => {
	const inner = window.innerWidth;
	let widest = "";
	if (document.documentElement.scrollWidth > inner) {
		// Name the first element that sticks out, to say what to fix.
		for (const el of document.body.querySelectorAll("*")) {
			const r = el.getBoundingClientRect();
			if (r.right > inner + 0.5) {
				widest = "<" + el.tagName.toLowerCase() + (el.id ? " id=" + el.id : "") + (el.className && typeof el.className === "string" ? " class=" + el.className : "") +
					(el.dataset.testid ? " data-testid=" + el.dataset.testid : "") + "> right edge " + Math.round(r.right);
				break;
			}
		}
	}
	return {scroll: document.documentElement.scrollWidth, inner, widest};
})()`))
	if w.Scroll > w.Inner {
		t.Errorf("%s: the page is %d px wide in a %d px window, so it scrolls sideways (%s)", where, w.Scroll, w.Inner, w.Widest)
	}
}
