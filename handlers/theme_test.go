package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The theme switcher: POST /preferences theme=light|dark|system remembers
// the choice in an HttpOnly theme cookie for a year (system forgets it),
// goes back to the page with 303, and pages carry it as <html
// data-theme>, so they are drawn in it without JavaScript. Anything else
// is ignored.
func TestPreferencesTheme(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	login := b.get("/login")
	if !strings.Contains(login.Body, `<html lang="en">`) || !strings.Contains(login.Body, `aria-pressed="true" data-testid="theme-system"`) {
		t.Fatal("with no choice the page should follow the system: no data-theme, System pressed")
	}
	choose := func(theme string) response {
		t.Helper()
		form := formWithCSRF(b.get("/login?next=%2Faccounts").Body)
		form["theme"], form["next"] = []string{theme}, []string{"/login?next=%2Faccounts"}
		return b.post("/preferences", form)
	}

	res := choose("dark")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?next=%2Faccounts" {
		t.Fatalf("POST /preferences theme=dark: %d %q, want 303 back to the page", res.StatusCode, res.Header.Get("Location"))
	}
	ck := setCookie(res, "theme")
	if ck == nil || ck.Value != "dark" || ck.MaxAge < 364*24*3600 || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" {
		t.Errorf("theme cookie %+v, want dark for a year, HttpOnly, SameSite=Lax, Path=/", ck)
	}
	if setCookie(res, "lang") != nil {
		t.Error("choosing a theme also set the language")
	}
	page := b.get("/login")
	if !strings.Contains(page.Body, `<html lang="en" data-theme="dark">`) || !strings.Contains(page.Body, `aria-pressed="true" data-testid="theme-dark"`) {
		t.Error("after choosing dark the page is not <html data-theme=dark> with Dark pressed")
	}

	choose("light")
	if page := b.get("/login"); !strings.Contains(page.Body, `<html lang="en" data-theme="light">`) {
		t.Error("after choosing light the page is not <html data-theme=light>")
	}

	res = choose("system")
	if ck := setCookie(res, "theme"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("choosing system: theme cookie %+v, want it removed", ck)
	}
	if page := b.get("/login"); strings.Contains(page.Body, "data-theme") {
		t.Error("after choosing system the page still has a data-theme")
	}

	for _, bad := range []string{"blue", "DARK", "", "dark light"} {
		if res := choose(bad); res.StatusCode != http.StatusSeeOther || setCookie(res, "theme") != nil {
			t.Errorf("theme %q: %d, cookie %v; want 303 and none", bad, res.StatusCode, setCookie(res, "theme"))
		}
	}
	b.setCookie("theme", "<script>")
	if page := b.get("/login"); strings.Contains(page.Body, "data-theme") {
		t.Error("an unknown theme cookie reached the page")
	}
	// Without the CSRF token, nothing is set.
	if res := b.post("/preferences", url.Values{"theme": {"dark"}}); res.StatusCode != http.StatusForbidden || setCookie(res, "theme") != nil {
		t.Errorf("POST /preferences without a token: %d; want 403 and no cookie", res.StatusCode)
	}
}

// Signing out clears every cookie (Clear-Site-Data), the theme too; the
// redirect carries the theme with the language to the sign-in page, which
// is drawn in it and remembers it again. The switchers there do not send
// the person back to a URL that would undo a new choice.
func TestSignOutKeepsTheme(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.setCookie("lang", "ko")
	b.setCookie("theme", "dark")
	page := b.mustSignIn("google", ann)
	if !strings.Contains(page.Body, `<html lang="ko" data-theme="dark">`) {
		t.Fatal("the accounts page is not Korean and dark")
	}
	res := b.post("/logout", formWithCSRF(page.Body))
	if got := res.Header.Get("Location"); got != "/login?signed_out=1&lang=ko&theme=dark" {
		t.Fatalf("logout Location %q, want /login?signed_out=1&lang=ko&theme=dark", got)
	}
	fresh := p.browser() // a browser that obeyed Clear-Site-Data
	login := fresh.get(res.Header.Get("Location"))
	if !strings.Contains(login.Body, `<html lang="ko" data-theme="dark">`) {
		t.Error("the page after sign-out is not Korean and dark")
	}
	if ck := setCookie(login, "theme"); ck == nil || ck.Value != "dark" {
		t.Errorf("the page after sign-out set theme %v, want dark again", ck)
	}
	if !strings.Contains(login.Body, `name="next" value="/login?signed_out=1"`) {
		t.Error("the switchers' next keeps ?theme= or ?lang=, which would undo the next choice")
	}
	// A ?theme= wins over the cookie it replaces, on that very page.
	if page := fresh.get("/login?theme=light"); !strings.Contains(page.Body, `data-theme="light"`) {
		t.Error("?theme=light did not apply over a dark cookie")
	}
	if page := fresh.get("/login?theme=system"); strings.Contains(page.Body, "data-theme") || setCookie(page, "theme") == nil {
		t.Error("?theme=system left a data-theme on the page, or the cookie")
	}
	// With nothing chosen, ?theme=system has nothing to forget.
	if page := p.browser().get("/login?theme=system"); setCookie(page, "theme") != nil {
		t.Error("?theme=system without a theme cookie set one")
	}
}
