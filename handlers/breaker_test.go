package handlers_test

// SECURITY.md E-01c: a provider that is down is marked "temporarily
// unavailable" on the buttons that start a sign-in or a link, while the
// other providers are unaffected; the mark ends after a cool-down and a
// success. Everything goes through the real router and the emulator's
// fault switches; the cool-down passes on the portal's clock.

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/linkport/linkport/providers/emulator"
)

// The breaker's settings as the tests rely on them (handlers/breaker.go).
const (
	breakerThreshold = 5
	breakerCoolDown  = 30 * time.Second
	breakerWindow    = 2 * time.Minute
)

var unavailableGauge = regexp.MustCompile(`(?m)^linkport_provider_unavailable\{provider="([^"]+)"\} (\S+)$`)

// markedProviders reads /metrics: for every configured provider, whether
// its gauge says it is marked temporarily unavailable.
func markedProviders(t *testing.T, b *browser) map[string]bool {
	t.Helper()
	res := b.get("/metrics")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	out := map[string]bool{}
	for _, m := range unavailableGauge.FindAllStringSubmatch(res.Body, -1) {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatalf("gauge %q: %v", m[0], err)
		}
		out[m[1]] = v == 1
	}
	for _, name := range providerNames {
		if _, ok := out[name]; !ok {
			t.Fatalf("/metrics has no linkport_provider_unavailable gauge for %s", name)
		}
	}
	return out
}

var (
	listItem      = regexp.MustCompile(`(?s)<li>.*?</li>`)
	buttonOf      = regexp.MustCompile(`(?s)<button[^>]*class="provider-button[^>]*>`)
	providerAttr  = regexp.MustCompile(`data-provider="([^"]+)"`)
	unavailableOn = `data-unavailable="true"`
	unavailableP  = `data-testid="provider-unavailable"`
)

// buttonMarks reads a page's provider buttons (login, "connect another
// account"): for each provider, whether its button carries the
// "temporarily unavailable" marker and the visible note beside it.
func buttonMarks(t *testing.T, body string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, li := range listItem.FindAllString(body, -1) {
		button := buttonOf.FindString(li)
		m := providerAttr.FindStringSubmatch(button)
		if m == nil {
			continue
		}
		marked, noted := strings.Contains(button, unavailableOn), strings.Contains(li, unavailableP)
		if marked != noted {
			t.Errorf("%s: button marked %v but note shown %v", m[1], marked, noted)
		}
		out[m[1]] = marked
	}
	return out
}

// wantMarked checks, on /metrics and on the login page (as an anonymous
// browser sees it), that exactly the providers in want are marked.
func wantMarked(t *testing.T, p *portal, want ...string) {
	t.Helper()
	b := p.browser()
	got := markedProviders(t, b)
	wantSet := map[string]bool{}
	for _, name := range want {
		wantSet[name] = true
	}
	for name := range got {
		if got[name] != wantSet[name] {
			t.Errorf("/metrics: %s marked unavailable = %v, want %v", name, got[name], wantSet[name])
		}
	}
	wantButtonMarks(t, "login page", b.get("/login").Body, len(got), wantSet)
}

// wantButtonMarks checks the marks on a page's n provider buttons.
func wantButtonMarks(t *testing.T, where, body string, n int, want map[string]bool) {
	t.Helper()
	marks := buttonMarks(t, body)
	if len(marks) != n {
		t.Fatalf("%s shows %d provider buttons, want %d", where, len(marks), n)
	}
	for name, marked := range marks {
		if marked != want[name] {
			t.Errorf("%s: %s button marked = %v, want %v", where, name, marked, want[name])
		}
	}
}

// failGoogleSignIns runs n Google sign-ins that fail at the provider (the
// fault set by the caller) and checks each ends on a provider error page.
func failGoogleSignIns(t *testing.T, p *portal, n int) {
	t.Helper()
	for i := range n {
		b := p.browser()
		res := b.signIn("google", person(fmt.Sprint("Gil ", i), fmt.Sprintf("gil%d@example.com", i)))
		wantProviderFailure(t, b, res)
	}
}

// E-01c: Google's token or userinfo endpoint fails (5xx) or hangs
// (timeout) on every sign-in. After five such failures in a row the
// Google button is marked, Google only; Facebook sign-ins go on
// unaffected and Facebook is never marked. The Google button still
// starts a sign-in, on the login page and among the "connect another
// account" buttons, which are marked too.
func TestE01c_GoogleDownIsMarkedFacebookUnaffected(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, tc := range []struct {
		name     string
		endpoint string
		fault    emulator.Fault
	}{
		{"token 500", "token", emulator.Fault{Status: http.StatusInternalServerError}},
		{"token 503", "token", emulator.Fault{Status: http.StatusServiceUnavailable}},
		{"token timeout", "token", emulator.Fault{Delay: time.Minute}},
		{"userinfo 502", "userinfo", emulator.Fault{Status: http.StatusBadGateway}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortalWith(t, portalOptions{timeout: timeout})
			p.clock.Advance(0) // freeze: only the test moves time
			p.emu.SetFault("google", tc.endpoint, tc.fault)

			failGoogleSignIns(t, p, breakerThreshold-1)
			wantMarked(t, p) // four are not enough
			fay := p.browser()
			fay.mustSignIn("facebook", person("Fay", "fay@example.com"))

			failGoogleSignIns(t, p, 1)
			wantMarked(t, p, "google")
			if n := strings.Count(p.logs.String(), `"msg":"provider marked temporarily unavailable"`); n != 1 {
				t.Errorf("%d log lines marking a provider, want 1", n)
			}

			// Facebook is unaffected: a new person and a returning one.
			page := p.browser().mustSignIn("facebook", person("Fred", "fred@example.com"))
			if got := identitiesOn(page.Body); len(got) != 1 || got[0] != "facebook" {
				t.Errorf("identities %v, want facebook", got)
			}
			fay.mustSignIn("facebook", person("Fay", "fay@example.com"))
			wantMarked(t, p, "google")

			// The "connect another account" buttons carry the same mark.
			n := len(markedProviders(t, fay))
			wantButtonMarks(t, "accounts page", fay.get("/accounts").Body, n, map[string]bool{"google": true})

			// Still usable: the button starts a sign-in at the provider.
			b := p.browser()
			if res := b.post("/auth/google", url.Values{"csrf_token": {b.csrf()}}); res.StatusCode != http.StatusSeeOther {
				t.Errorf("POST /auth/google while marked: %d, want 303 to the provider", res.StatusCode)
			}
		})
	}
}

// E-01c: the mark ends. Before the cool-down has passed Google stays
// marked even though it works again; after it Google is half-open
// (unmarked) and one more failure marks it again at once; after another
// cool-down a successful sign-in closes it: unmarked, and from then on it
// takes five failures in a row again.
func TestE01c_MarkEndsAfterCoolDownAndSuccess(t *testing.T) {
	p := newPortal(t)
	p.clock.Advance(0)
	p.emu.SetFault("google", "token", emulator.Fault{Status: http.StatusServiceUnavailable})
	failGoogleSignIns(t, p, breakerThreshold)
	wantMarked(t, p, "google")

	p.clock.Advance(breakerCoolDown - time.Second)
	wantMarked(t, p, "google")

	p.clock.Advance(2 * time.Second) // half-open
	wantMarked(t, p)
	failGoogleSignIns(t, p, 1) // the trial fails
	wantMarked(t, p, "google")

	p.clock.Advance(breakerCoolDown + time.Second)
	p.emu.ClearFaults()
	p.browser().mustSignIn("google", person("Gus", "gus@example.com"))
	wantMarked(t, p)
	if !strings.Contains(p.logs.String(), `"msg":"provider answering again; no longer marked unavailable"`) {
		t.Error("the recovery is not logged")
	}
	res := p.browser().get("/metrics")
	if !strings.Contains(res.Body, `linkport_provider_marked_unavailable_total{provider="google"} 2`) {
		t.Errorf("/metrics does not count Google marked twice:\n%s", grepLines(res.Body, "marked_unavailable"))
	}

	p.emu.SetFault("google", "token", emulator.Fault{Status: http.StatusServiceUnavailable})
	failGoogleSignIns(t, p, 1)
	wantMarked(t, p) // closed again: one failure is not enough
}

// E-01c: what must not mark a provider. A callback's ?error= comes from
// whoever sent the browser back, so an attacker with flows of their own
// could send five; a code the provider rejects shows it is up; failures
// spread wider than the window do not add up; a success in between
// starts the count again.
func TestE01c_WhatDoesNotMark(t *testing.T) {
	for _, tc := range []struct {
		name string
		run  func(t *testing.T, p *portal)
	}{
		{"error parameter in the callback", func(t *testing.T, p *portal) {
			for range breakerThreshold + 1 {
				b := p.browser()
				cb := b.consent("google", b.begin("google", nil), person("Eve", "eve@example.com"))
				res := b.get(callbackWith(cb, url.Values{"code": nil, "error": {"temporarily_unavailable"}}).String())
				wantCallbackFailure(t, b, res, "unavailable", http.StatusBadGateway)
			}
		}},
		{"rejected code", func(t *testing.T, p *portal) {
			for range breakerThreshold + 1 {
				b := p.browser()
				cb := b.consent("google", b.begin("google", nil), person("Eve", "eve@example.com"))
				res := b.get(callbackWith(cb, url.Values{"code": {"forged-code"}}).String())
				if u, _ := url.Parse(res.Header.Get("Location")); res.StatusCode != http.StatusSeeOther || u.Path != "/auth/error" {
					t.Fatalf("forged code: %d %q, want the error page", res.StatusCode, res.Header.Get("Location"))
				}
			}
		}},
		{"failures wider apart than the window", func(t *testing.T, p *portal) {
			p.emu.SetFault("google", "token", emulator.Fault{Status: http.StatusServiceUnavailable})
			failGoogleSignIns(t, p, breakerThreshold-1)
			p.clock.Advance(breakerWindow + time.Second)
			failGoogleSignIns(t, p, 1)
		}},
		{"a success in between", func(t *testing.T, p *portal) {
			p.emu.SetFault("google", "token", emulator.Fault{Status: http.StatusServiceUnavailable})
			failGoogleSignIns(t, p, breakerThreshold-1)
			p.emu.ClearFaults()
			p.browser().mustSignIn("google", person("Gus", "gus@example.com"))
			p.emu.SetFault("google", "token", emulator.Fault{Status: http.StatusServiceUnavailable})
			failGoogleSignIns(t, p, breakerThreshold-1)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPortal(t)
			p.clock.Advance(0)
			tc.run(t, p)
			wantMarked(t, p)
		})
	}
}

// grepLines returns the lines of s that contain sub, for failure messages.
func grepLines(s, sub string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
