package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// shownEvent is a row of the security timeline as the page shows it.
type shownEvent struct {
	What     string `json:"what"`
	Provider string `json:"provider"`
	Device   string `json:"device"`
	IP       string `json:"ip"`
	When     string `json:"when"` // the <time>'s datetime
}

const readTimeline = `Array.from(document.querySelectorAll('[data-testid="timeline-event"]')).map((tr) => {
	const td = tr.querySelectorAll("td");
	return {what: td[0].textContent.trim(), provider: td[1].textContent.trim(), device: td[2].textContent.trim(),
		ip: td[3].textContent.trim(), when: tr.querySelector("time").dateTime};
})`

// exportedActivity is the JSON download of the timeline.
type exportedActivity struct {
	Disposition string `json:"disposition"`
	ContentType string `json:"contentType"`
	Status      int    `json:"status"`
	Body        string `json:"body"`
}

// TestJourneyActivity: a person with more security events than one page
// holds reads the timeline newest first, pages to the older events and
// back (htmx in place with JavaScript; plain links without), and
// downloads everything as JSON, which the browser is told to save as a
// file and which holds every event and no secret.
func TestJourneyActivity(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)

	// One person with a long history: created in the first tab, signed
	// in 20 times from a script, then in the second tab. All of it
	// happens before the tabs read the timeline, so they read the same
	// one.
	ada := account{"google", "Google", "Ada Activity", "ada.activity@example.com"}
	tabs := map[int64]*browser{}
	for i, width := range journeyWidths {
		tab := newTab(t, b, true)
		t.Cleanup(func() { checkPageHealth(t, tab, srv.URL) })
		setViewport(t, tab, width)
		if i == 0 {
			signInAsNew(t, tab, srv.URL, ada)
			signInOverHTTP(t, srv.URL, ada, 20)
		} else {
			signInAs(t, tab, srv.URL, ada)
		}
		tabs[width] = tab
	}

	for _, width := range journeyWidths {
		t.Run(widthName(width), func(t *testing.T) {
			t.Parallel()
			tab := tabs[width]
			clickTo(t, tab, chromedp.CSS(`[data-testid="activity-all"]`), "/accounts/activity")

			// The download first: it tells how many events there are.
			link := run(t, tab, chromedp.Evaluate[map[string]any](`(() => {
	const a = document.querySelector('[data-testid="timeline-download"]');
	return {path: new URL(a.href).pathname, download: a.hasAttribute("download"), text: a.textContent.trim()};
})()`))
			if link["path"] != "/accounts/activity.json" || link["download"] != true || link["text"] != "Download all activity (JSON)" {
				t.Errorf("the download link is %v, want a download of /accounts/activity.json", link)
			}
			exp := run(t, tab, chromedp.Evaluate[exportedActivity](`fetch(document.querySelector('[data-testid="timeline-download"]').href, {credentials: "same-origin"})
	.then(async (r) => ({status: r.status, disposition: r.headers.get("Content-Disposition") ?? "", contentType: r.headers.get("Content-Type") ?? "", body: await r.text()}))`,
				chromedp.EvalAwaitPromise))
			if exp.Status != 200 || exp.Disposition != `attachment; filename="linkport-activity.json"` || !strings.HasPrefix(exp.ContentType, "application/json") {
				t.Fatalf("the download answered %d, Content-Disposition %q, Content-Type %q; want 200, an attachment named linkport-activity.json, JSON",
					exp.Status, exp.Disposition, exp.ContentType)
			}
			var doc struct {
				UserID int64 `json:"user_id"`
				Events []struct {
					Kind      string `json:"kind"`
					Provider  string `json:"provider"`
					IP        string `json:"ip"`
					UserAgent string `json:"user_agent"`
					At        string `json:"at"`
				} `json:"events"`
			}
			if err := json.Unmarshal([]byte(exp.Body), &doc); err != nil {
				t.Fatalf("the download is not JSON: %v\n%s", err, exp.Body)
			}
			// Created in the first tab, 20 sign-ins from the script, one in
			// the second tab.
			if want := 1 + 20 + 1; len(doc.Events) != want || doc.UserID == 0 {
				t.Fatalf("the download holds %d events of user %d, want %d", len(doc.Events), doc.UserID, want)
			}
			if last := doc.Events[len(doc.Events)-1]; last.Kind != "signed_up" || last.Provider != "google" {
				t.Errorf("the oldest event in the download is %+v, want the account's creation with Google", last)
			}
			if first := doc.Events[0]; first.Kind != "signed_in" || !strings.Contains(first.UserAgent, "Chrome") || first.IP != "127.0.0.1" {
				t.Errorf("the newest event in the download is %+v, want a sign-in from Chrome at 127.0.0.1", first)
			}
			for _, secret := range []string{"token", "code=", "state", "csrf"} {
				if strings.Contains(strings.ToLower(exp.Body), secret) {
					t.Errorf("the download mentions %q", secret)
				}
			}

			newest := checkTimelinePage(t, tab, 20, true, false)
			if newest[0].What != "Signed in" || newest[0].Provider != "Google" || !strings.Contains(newest[0].Device, "Chrome") || newest[0].IP != "127.0.0.1" {
				t.Errorf("the newest row is %+v, want a sign-in with Google from Chrome at 127.0.0.1", newest[0])
			}
			capture(t, tab, art, "1-newest")

			// Older, with htmx: the list changes in this document.
			do(t, tab, chromedp.Evaluate[chromedp.Void](`window.__marker = 1; undefined`),
				chromedp.Click(chromedp.CSS(`[data-testid="timeline-older"]`), chromedp.NodeVisible))
			if _, err := chromedp.Run(tab.ctx, chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-testid="timeline-newest"]')`,
				chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Fatalf("Older did not show the older events: %v", err)
			}
			if run(t, tab, chromedp.Evaluate[any](`window.__marker ?? null`)) == nil || pathOf(t, tab) != "/accounts/activity" {
				t.Error("Older reloaded the page; want an htmx swap")
			}
			older := checkTimelinePage(t, tab, len(doc.Events)-20, false, true)
			checkTimelineOrder(t, newest, older, len(doc.Events))
			if last := older[len(older)-1]; last.What != "Account created" {
				t.Errorf("the oldest row is %+v, want the account's creation", last)
			}
			capture(t, tab, art, "2-older-htmx")
			do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid="timeline-newest"]`), chromedp.NodeVisible))
			if _, err := chromedp.Run(tab.ctx, chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-testid="timeline-older"]')`,
				chromedp.WithPollingTimeout(10*time.Second))); err != nil {
				t.Fatalf("Newest did not come back to the newest events: %v", err)
			}
			if again := checkTimelinePage(t, tab, 20, true, false); !slices.Equal(again, newest) {
				t.Errorf("Newest shows %+v, want the first page again", again)
			}

			// Without JavaScript the same links are plain pages.
			setJavaScript(t, tab, false)
			open(t, tab, srv.URL+"/accounts/activity", "/accounts/activity")
			clickTo(t, tab, chromedp.CSS(`[data-testid="timeline-older"]`), "/accounts/activity")
			if before := run(t, tab, chromedp.Evaluate[string](`new URLSearchParams(location.search).get("before") ?? ""`)); before == "" {
				t.Error("Older without JavaScript is not a page of its own (no ?before=)")
			}
			if got := checkTimelinePage(t, tab, len(doc.Events)-20, false, true); !slices.Equal(got, older) {
				t.Errorf("Older without JavaScript shows %+v, want %+v", got, older)
			}
			capture(t, tab, art, "3-older-no-js")
			clickTo(t, tab, chromedp.CSS(`[data-testid="timeline-newest"]`), "/accounts/activity")
			checkTimelinePage(t, tab, 20, true, false)
		})
	}
}

// checkTimelinePage wants n rows, newest first, and the paging links
// that the page should offer; it returns the rows.
func checkTimelinePage(t *testing.T, b *browser, n int, older, newest bool) []shownEvent {
	t.Helper()
	rows := run(t, b, chromedp.Evaluate[[]shownEvent](readTimeline))
	if len(rows) != n {
		t.Fatalf("the timeline shows %d events, want %d: %+v", len(rows), n, rows)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].When > rows[i-1].When {
			t.Errorf("the timeline is not newest first: %+v before %+v", rows[i-1], rows[i])
		}
	}
	links := run(t, b, chromedp.Evaluate[[]bool](`[!!document.querySelector('[data-testid="timeline-older"]'), !!document.querySelector('[data-testid="timeline-newest"]')]`))
	if links[0] != older || links[1] != newest {
		t.Errorf("the timeline offers Older %v and Newest %v, want %v and %v", links[0], links[1], older, newest)
	}
	return rows
}

// checkTimelineOrder wants the two pages to follow each other in time and
// to hold all total events between them.
func checkTimelineOrder(t *testing.T, newest, older []shownEvent, total int) {
	t.Helper()
	if len(newest)+len(older) != total {
		t.Errorf("the pages show %d + %d events, want %d in all", len(newest), len(older), total)
	}
	if len(newest) > 0 && len(older) > 0 && older[0].When > newest[len(newest)-1].When {
		t.Errorf("the older page starts at %s, after the first page ends at %s", older[0].When, newest[len(newest)-1].When)
	}
}
