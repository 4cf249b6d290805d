package e2e

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-cmp/cmp"
)

// providerButton is a sign-in button as the login page shows it.
type providerButton struct {
	Provider string `json:"provider"`
	Text     string `json:"text"`
}

// shownIdentity is a connected account as the accounts page shows it.
type shownIdentity struct {
	ElementID string `json:"id"`
	Provider  string `json:"provider"`
	Name      string `json:"name"`
	Email     string `json:"email"`
}

const (
	readButtons = `Array.from(document.querySelectorAll('[data-testid="provider-button"]')).map((b) => ({
	provider: b.dataset.provider, text: b.textContent.trim().replace(/\s+/g, " ")}))`
	readIdentities = `Array.from(document.querySelectorAll('[data-testid="identity"]')).map((li) => ({
	id: li.id, provider: li.dataset.provider,
	name: (li.querySelector('[data-testid="identity-name"]')?.textContent ?? "").trim().replace(/\s+/g, " "),
	email: (li.querySelector('[data-testid="identity-email"]')?.textContent ?? "").trim().replace(/\s+/g, " ")}))`
)

// TestSignInJourney is journey 1 of the sign-in issue in a real browser,
// once per provider and per width of journeyWidths (each screen checked
// for sideways scrolling and saved): choose the provider, create a person
// on the emulator's consent page, land on the connected accounts, sign
// out, sign in again as the same person and find the same single identity.
//
// Along the way it checks that htmx loads, that the session cookie is
// linkport, HttpOnly and SameSite=Lax and survives the return from the
// provider (B-06c), that the POST-initiated redirect to the provider is not
// blocked by form-action (B-10d), and that the pages log no console error,
// throw no exception and violate no CSP directive (B-10c).
func TestSignInJourney(t *testing.T) {
	for _, tc := range []struct {
		provider      string
		emulatorTitle string // what the consent page calls the provider
		name, email   string
	}{
		{"google", "Google", "Ada Lovelace", "ada@example.com"},
		{"facebook", "Facebook", "Grace Hopper", "grace@example.org"},
		{"x", "X", "Alan Turing", "alan@example.net"},
		{"kakao", "Kakao", "Katherine Johnson", "katherine@example.kr"},
	} {
		t.Run(tc.provider, func(t *testing.T) {
			t.Parallel()
			art := artifactDir(t)
			// A server per width: the second sign-in wants the emulator to
			// list exactly one person.
			forEachWidthApart(t, newBrowser(t), true, func(t *testing.T, b *browser, srv *server, _ int64) {
				// The login page: six labelled provider buttons, htmx loaded.
				open(t, b, srv.URL+"/", "/")
				buttons := run(t, b, chromedp.Evaluate[[]providerButton](readButtons))
				want := []providerButton{
					{"google", "Continue with Google"},
					{"facebook", "Continue with Facebook"},
					{"x", "Continue with X"},      // X's own wording, not the label
					{"kakao", "Login with Kakao"}, // each brand's own wording
					{"naver", "Log in with NAVER"},
					{"github", "Sign in with GitHub"},
				}
				if diff := cmp.Diff(want, buttons); diff != "" {
					t.Fatalf("login page buttons (-want +got):\n%s", diff)
				}
				checkHTMX(t, b, "login page")
				capture(t, b, art, "1-login")
				before := sessionCookie(t, b, srv.URL)

				// First sign-in: a new person on the consent page.
				clickTo(t, b, providerButtonSel(tc.provider), "/_emulator/"+tc.provider+"/")
				checkConsentPage(t, b, tc.emulatorTitle)
				capture(t, b, art, "2-consent")
				do(t, b,
					chromedp.SendKeys(chromedp.ID("emulator-name"), tc.name),
					chromedp.SendKeys(chromedp.ID("emulator-email"), tc.email),
				)
				if !run(t, b, chromedp.Evaluate[bool](`document.getElementById("emulator-email-verified").checked`)) {
					do(t, b, chromedp.Click(chromedp.ID("emulator-email-verified")))
				}
				clickTo(t, b, chromedp.CSS(`[data-testid="emulator-continue"]`), "/accounts")
				first := checkAccountsPage(t, b, tc.provider, tc.name, tc.email)
				checkHTMX(t, b, "accounts page")
				capture(t, b, art, "3-accounts")

				// The session cookie came back from the provider (SameSite=Lax)
				// and is a new one: signing in renews the token.
				after := sessionCookie(t, b, srv.URL)
				if after == nil {
					t.Fatal("no linkport cookie after sign-in")
				}
				checkCookieAttributes(t, after)
				if before != nil && before.Value == after.Value {
					t.Error("the session cookie kept its value across sign-in; the token must be renewed")
				}

				// Sign out: back on the login page, signed out.
				clickTo(t, b, chromedp.CSS(`[data-testid="logout"]`), "/login")
				do(t, b, chromedp.WaitVisible(providerButtonSel(tc.provider)))
				if n := len(run(t, b, chromedp.Evaluate[[]providerButton](readButtons))); n != len(want) {
					t.Errorf("after sign-out the login page shows %d provider buttons, want %d", n, len(want))
				}
				if run(t, b, chromedp.Evaluate[bool](`document.querySelector('[data-testid="logout"]') !== null`)) {
					t.Error("after sign-out the page still offers to sign out")
				}
				checkNotice(t, b, "status", "You are signed out.")
				capture(t, b, art, "4-signed-out")

				// Second sign-in: the person the emulator remembers.
				clickTo(t, b, providerButtonSel(tc.provider), "/_emulator/"+tc.provider+"/")
				checkConsentPage(t, b, tc.emulatorTitle)
				people := run(t, b, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('[data-testid="emulator-person"]')).map((b) => b.textContent)`))
				if len(people) != 1 || !strings.Contains(people[0], tc.name) || !strings.Contains(people[0], tc.email) {
					t.Fatalf("consent page lists people %q, want one: %s <%s>", people, tc.name, tc.email)
				}
				capture(t, b, art, "5-consent-again")
				clickTo(t, b, chromedp.CSS(`[data-testid="emulator-person"]`), "/accounts")
				second := checkAccountsPage(t, b, tc.provider, tc.name, tc.email)
				if diff := cmp.Diff(first, second); diff != "" {
					t.Errorf("the second sign-in shows another identity (-first +second):\n%s", diff)
				}
				if c := sessionCookie(t, b, srv.URL); c != nil {
					checkCookieAttributes(t, c)
				} else {
					t.Error("no linkport cookie after the second sign-in")
				}
				capture(t, b, art, "6-accounts-again")
			})
		})
	}
}

// TestCSPViolationsAreSeen shows that the page watcher is not blind: an
// image from an origin that img-src does not allow must be reported, or
// TestSignInJourney's "zero violations" would prove nothing.
func TestCSPViolationsAreSeen(t *testing.T) {
	b := newBrowser(t)
	srv := startServer(t)
	open(t, b, srv.URL+"/login", "/login")
	// http: on another origin is outside img-src 'self' https: data:.
	do(t, b, chromedp.Evaluate[chromedp.Void](`document.body.appendChild(Object.assign(document.createElement("img"), {src: "http://127.0.0.1:9/e2e-csp-probe.png"})); undefined`))
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, _, csp, _ := b.watch.report()
		var fromEvent, fromLog bool
		for _, c := range csp {
			fromEvent = fromEvent || strings.HasPrefix(c, "securitypolicyviolation") && strings.Contains(c, "e2e-csp-probe")
			fromLog = fromLog || strings.HasPrefix(c, "log ") && strings.Contains(c, "e2e-csp-probe")
		}
		if fromEvent && fromLog {
			t.Logf("seen: %q", csp)
			return
		}
		if time.Now().After(deadline) {
			_, _, _, all := b.watch.report()
			t.Fatalf("blocked probe image not reported (event: %v, log: %v); everything seen:\n%s", fromEvent, fromLog, strings.Join(all, "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func providerButtonSel(provider string) chromedp.CSS {
	return chromedp.CSS(`[data-testid="provider-button"][data-provider="` + provider + `"]`)
}

// run runs one action that returns a value, failing the test on error.
func run[T any](t *testing.T, b *browser, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// do runs actions that return nothing, failing the test on error.
func do(t *testing.T, b *browser, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// open navigates to u and checks that the page answered 200 at wantPath.
func open(t *testing.T, b *browser, u, wantPath string) {
	t.Helper()
	resp, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(u))
	if err != nil {
		t.Fatalf("open %s: %v", u, err)
	}
	checkLanded(t, b, resp, wantPath)
}

// clickTo clicks what sel finds, waits for the page that follows its
// redirects, and checks that it answered 200 under wantPath. A navigation
// the CSP refuses (form-action, K15) never loads and fails here.
func clickTo[S chromedp.Selectable](t *testing.T, b *browser, sel S, wantPath string) {
	t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(sel, chromedp.NodeVisible))
	if err != nil {
		_, _, csp, _ := b.watch.report()
		t.Fatalf("click %v: %v (CSP reports: %q)", sel, err, csp)
	}
	checkLanded(t, b, resp, wantPath)
}

func checkLanded(t *testing.T, b *browser, resp *network.Response, wantPath string) {
	t.Helper()
	if resp == nil {
		t.Fatalf("no response while going to %s", wantPath)
	}
	loc := run(t, b, chromedp.Location())
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	pathOK := u.Path == wantPath || strings.HasSuffix(wantPath, "/") && strings.HasPrefix(u.Path, wantPath)
	if resp.Status != 200 || !pathOK {
		body, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("landed on %s with status %d, want 200 at %s; page says:\n%s", loc, resp.Status, wantPath, body)
	}
}

// checkConsentPage checks that the emulator says plainly what it is.
func checkConsentPage(t *testing.T, b *browser, title string) {
	t.Helper()
	banner := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="emulator-banner"]`), chromedp.NodeVisible))
	for _, want := range []string{"Local provider emulator", "not the real " + title + ".", "For development and tests only"} {
		if !strings.Contains(banner, want) {
			t.Errorf("consent page banner %q does not say %q", banner, want)
		}
	}
}

// checkAccountsPage checks that exactly one identity is shown, of the
// provider, with the person's name and email, and that the account's
// display name is the person's. It returns the identity.
func checkAccountsPage(t *testing.T, b *browser, provider, name, email string) shownIdentity {
	t.Helper()
	do(t, b, chromedp.WaitVisible(chromedp.CSS(`[data-testid="identity"]`)))
	ids := run(t, b, chromedp.Evaluate[[]shownIdentity](readIdentities))
	if len(ids) != 1 {
		t.Fatalf("accounts page shows %d identities, want 1: %+v", len(ids), ids)
	}
	id := ids[0]
	if id.Provider != provider || !strings.HasPrefix(id.Name, name) || !strings.HasPrefix(id.Email, email) || id.ElementID == "" {
		t.Errorf("identity shown = %+v, want provider %q, name %q, email %q", id, provider, name, email)
	}
	if dn := run(t, b, chromedp.Text(chromedp.CSS(`[data-testid="display-name"]`))); dn != name {
		t.Errorf("signed in as %q, want %q", dn, name)
	}
	return id
}

// checkHTMX checks that the vendored htmx loaded under the CSP.
func checkHTMX(t *testing.T, b *browser, where string) {
	t.Helper()
	if got := run(t, b, chromedp.Evaluate[string](`typeof window.htmx`)); got != "object" {
		t.Errorf("%s: typeof window.htmx = %q, want object", where, got)
	}
}

// sessionCookie returns the browser's linkport cookie for base, or nil.
func sessionCookie(t *testing.T, b *browser, base string) *network.Cookie {
	t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	if err != nil {
		t.Fatal(err)
	}
	var found *network.Cookie
	for _, c := range res.Cookies {
		switch c.Name {
		case "linkport":
			found = c
		case "tz":
			// static/prefs.js tells the server the browser's time zone.
			if c.Value == "" || c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" {
				t.Errorf("tz cookie %+v, want the browser's zone, readable by script, SameSite=Lax, Path=/", c)
			}
		case "lang":
			// The language switcher's choice; not used on these pages.
		default:
			t.Errorf("unexpected cookie %q for %s", c.Name, base)
		}
	}
	return found
}

// checkCookieAttributes wants the session cookie of DESIGN.md on http:
// linkport, HttpOnly, SameSite=Lax, path /, a session cookie.
func checkCookieAttributes(t *testing.T, c *network.Cookie) {
	t.Helper()
	type attrs struct {
		Name, Path, SameSite string
		HTTPOnly, Session    bool
	}
	got := attrs{c.Name, c.Path, string(c.SameSite), c.HTTPOnly, c.Session}
	want := attrs{"linkport", "/", string(network.CookieSameSiteLax), true, true}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("session cookie (-want +got):\n%s", diff)
	}
}

// checkPageHealth fails the test if any page of the journey logged a
// console error, threw, or violated the CSP.
func checkPageHealth(t *testing.T, b *browser, base string) {
	t.Helper()
	errs, exceptions, csp, all := b.watch.report()
	for _, e := range errs {
		t.Errorf("console error: %s", e)
	}
	for _, e := range exceptions {
		t.Errorf("uncaught exception: %s", e)
	}
	for _, e := range csp {
		t.Errorf("CSP violation: %s", e)
	}
	if t.Failed() && len(all) > 0 {
		t.Logf("--- browser console ---\n%s", strings.Join(all, "\n"))
	}
}
