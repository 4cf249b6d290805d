package e2e

import (
	"context"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// newTab opens a tab in a new browser context of b's Chromium: its own
// cookies and storage, as a second person on another computer has, and its
// own page watcher. With javaScript false the tab runs no page script at
// all, as a browser with JavaScript turned off. The tab shares b's deadline
// and closes at cleanup.
func newTab(t *testing.T, b *browser, javaScript bool) *browser {
	t.Helper()
	w := &pageWatcher{}
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext(), chromedp.WithListener(w.handle))
	t.Cleanup(cancel)
	var steps []chromedp.Action[chromedp.Void]
	if !javaScript {
		steps = append(steps, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}))
	}
	// The same CSP listener as newBrowser's (a tab of JavaScript off runs
	// it neither; the browser log still reports violations there).
	steps = append(steps,
		chromedp.ExposeFunc("__linkportE2ECSPViolation", func(_ context.Context, v cspViolation) (chromedp.Void, error) {
			w.addViolation(v)
			return chromedp.Void{}, nil
		}),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
				Source: `document.addEventListener("securitypolicyviolation", (e) => {
	window.__linkportE2ECSPViolation({directive: e.effectiveDirective, blockedURI: e.blockedURI, documentURI: e.documentURI, sourceFile: e.sourceFile});
});`,
			})
			return err
		}),
	)
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatalf("open a tab in a new browser context: %v", err)
	}
	return &browser{ctx: ctx, watch: w}
}

// acceptDialogs accepts every JavaScript dialog (alert, confirm) that b's tab
// opens from now on, as a person clicking OK would, and reports each
// message on the returned channel. A dialog blocks the click that opened
// it, so this answers from another goroutine.
func acceptDialogs(t *testing.T, b *browser) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(b.ctx)
	events := chromedp.Events(ctx, page.JavascriptDialogOpening)
	msgs := make(chan string, 8)
	var wg sync.WaitGroup
	var failure error // read after wg.Wait
	wg.Go(func() {
		for ev, err := range events {
			if err != nil {
				return // the context ended
			}
			select {
			case msgs <- ev.Message:
			default:
			}
			if _, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true}); err != nil && ctx.Err() == nil {
				failure = err
				return
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if failure != nil {
			t.Errorf("accept a JavaScript dialog: %v", failure)
		}
	})
	return msgs
}
