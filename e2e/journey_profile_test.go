package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// shownProfile is the profile the accounts page shows: who the person is
// signed in as, with which picture, and what the profile form has chosen.
type shownProfile struct {
	DisplayName string `json:"displayName"`
	Avatar      string `json:"avatar"` // the picture's URL path; "" for initials
	NameFrom    string `json:"nameFrom"`
	AvatarFrom  string `json:"avatarFrom"`
}

const readProfile = `(() => {
	const img = document.querySelector(".profile img.avatar");
	const chosen = (id) => { const s = document.getElementById(id); return s.options[s.selectedIndex].textContent.trim(); };
	return {displayName: document.querySelector('[data-testid="display-name"]').textContent.trim(),
		avatar: img ? new URL(img.src).pathname : "",
		nameFrom: chosen("display_name"), avatarFrom: chosen("avatar")};
})()`

// TestJourneyProfileSources: with Google and Facebook connected, the
// person takes the display name and picture from Facebook with htmx (the
// page stays, the notice takes the focus), then, with JavaScript off,
// takes the picture back from Google with the plain form. The header,
// the form and the notice agree each time.
func TestJourneyProfileSources(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	art := artifactDir(t)
	forEachWidth(t, b, srv, true, func(t *testing.T, tab *browser, width int64) {
		ada := adaGoogle.at(width)
		grace := graceFacebook.at(width)
		signInAsNew(t, tab, srv.URL, ada)
		linkAsNew(t, tab, grace)
		checkIdentities(t, tab, ada, grace)

		before := run(t, tab, chromedp.Evaluate[shownProfile](readProfile))
		if before.DisplayName != ada.name || !strings.HasPrefix(before.Avatar, "/_emulator/avatar/google/") ||
			before.NameFrom != "Google: "+ada.name || before.AvatarFrom != "Google: "+ada.email {
			t.Errorf("before any choice the profile is %+v, want Ada's Google name and picture", before)
		}
		capture(t, tab, art, "1-profile-from-google")

		// JavaScript on: htmx swaps the section in this document.
		do(t, tab,
			chromedp.Evaluate[chromedp.Void](`window.__marker = 1; undefined`),
			chromedp.SetValue(chromedp.ID("display_name"), optionValue(t, tab, "display_name", "Facebook")),
			chromedp.SetValue(chromedp.ID("avatar"), optionValue(t, tab, "avatar", "Facebook")),
			chromedp.Click(chromedp.CSS(`[data-testid="profile-save"]`), chromedp.NodeVisible),
		)
		if _, err := chromedp.Run(tab.ctx, chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-testid="notice"]')?.textContent.includes("Saved")`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("saving the profile choices showed no notice: %v", err)
		}
		if run(t, tab, chromedp.Evaluate[any](`window.__marker ?? null`)) == nil {
			t.Error("saving the profile choices reloaded the page; want an htmx swap")
		}
		checkNotice(t, tab, "status", "Saved. Your profile now shows "+grace.name+".")
		checkProfile(t, tab, shownProfile{DisplayName: grace.name, NameFrom: "Facebook: " + grace.name, AvatarFrom: "Facebook: " + grace.email}, "/_emulator/avatar/facebook/")
		if first := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="activity"] [data-testid="event"] strong`))); first != "Profile changed" {
			t.Errorf("after saving with htmx the recent activity starts with %q, want the profile change", first)
		}
		capture(t, tab, art, "2-profile-from-facebook-htmx")

		// The choice holds on a fresh page.
		open(t, tab, srv.URL+"/accounts", "/accounts")
		checkProfile(t, tab, shownProfile{DisplayName: grace.name, NameFrom: "Facebook: " + grace.name, AvatarFrom: "Facebook: " + grace.email}, "/_emulator/avatar/facebook/")

		// JavaScript off: the plain form, and the notice on the next page.
		setJavaScript(t, tab, false)
		open(t, tab, srv.URL+"/accounts", "/accounts")
		if got := run(t, tab, chromedp.Evaluate[string](`typeof window.htmx`)); got != "undefined" {
			t.Fatalf("typeof window.htmx = %q with JavaScript off", got)
		}
		do(t, tab, chromedp.SetValue(chromedp.ID("avatar"), optionValue(t, tab, "avatar", "Google")))
		clickTo(t, tab, chromedp.CSS(`[data-testid="profile-save"]`), "/accounts")
		checkNotice(t, tab, "status", "Saved. Your profile now shows "+grace.name+".")
		checkProfile(t, tab, shownProfile{DisplayName: grace.name, NameFrom: "Facebook: " + grace.name, AvatarFrom: "Google: " + ada.email}, "/_emulator/avatar/google/")
		capture(t, tab, art, "3-picture-from-google-no-js")

		// Saving without a change says so.
		clickTo(t, tab, chromedp.CSS(`[data-testid="profile-save"]`), "/accounts")
		checkNotice(t, tab, "status", "Nothing to change.")

		// JavaScript on again: removing the account that gives the name
		// hands it back to Google, in the header at once.
		setJavaScript(t, tab, true)
		open(t, tab, srv.URL+"/accounts", "/accounts")
		dialogs := acceptDialogs(t, tab)
		do(t, tab, chromedp.Click(chromedp.CSS(`[data-testid="identity"][data-provider="facebook"] [data-testid="unlink"]`), chromedp.NodeVisible))
		checkDialog(t, dialogs, "Remove your Facebook account "+grace.email+" from Linkport? Sessions started with it will be signed out.")
		if _, err := chromedp.Run(tab.ctx, chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="identity"]').length === 1`,
			chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			t.Fatalf("after Remove the list did not shrink to one account: %v", err)
		}
		checkNotice(t, tab, "status", "Removed your Facebook account "+grace.email+".", "Your display name now comes from your Google account "+ada.email+".")
		if got := run(t, tab, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); got != ada.name {
			t.Errorf("after removing the account that gave the name, the page says signed in as %q, want %q", got, ada.name)
		}
		checkLastAccountLocked(t, tab)
		capture(t, tab, art, "4-name-back-from-google")
	})
}

// optionValue is the value of the option of the select id whose text
// starts with label.
func optionValue(t *testing.T, b *browser, id, label string) string {
	t.Helper()
	v := run(t, b, chromedp.Evaluate[string](`Array.from(document.getElementById(`+jsString(id)+`).options).find((o) => o.textContent.trim().startsWith(`+jsString(label)+`))?.value ?? ""`))
	if v == "" {
		t.Fatalf("the %s choices have no option for %s", id, label)
	}
	return v
}

// checkProfile wants the accounts page to show want, with a picture
// under avatarPrefix.
func checkProfile(t *testing.T, b *browser, want shownProfile, avatarPrefix string) {
	t.Helper()
	got := run(t, b, chromedp.Evaluate[shownProfile](readProfile))
	if got.DisplayName != want.DisplayName || got.NameFrom != want.NameFrom || got.AvatarFrom != want.AvatarFrom || !strings.HasPrefix(got.Avatar, avatarPrefix) {
		t.Errorf("the accounts page shows the profile %+v, want %+v with a picture under %s", got, want, avatarPrefix)
	}
}
