package handlers_test

// Tests of the session index: idle and absolute timeouts (B-03), logout
// and sign-out that a request in flight cannot undo (B-04, K10), and the
// sessions page (B-05).

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/providers/emulator"
)

// anna is one person at Google, the same in every browser she uses.
var anna = emulator.Person{Sub: "110000000000000000001", Name: "Anna", Email: "anna@example.com", EmailVerified: true}

const (
	firefoxWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:140.0) Gecko/20100101 Firefox/140.0"
	safariIPhone   = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1"
)

// userAgent makes every request of the browser carry ua.
type userAgent string

func (ua userAgent) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("User-Agent", string(ua))
	return http.DefaultTransport.RoundTrip(r)
}

// browserAs is a browser of t that sends ua.
func (p *portal) browserAs(t testing.TB, ua string) *browser {
	b := p.browser()
	b.t = t
	if ua != "" {
		b.client.Transport = userAgent(ua)
	}
	return b
}

// indexRows counts the session-index rows of a token.
func (p *portal) indexRows(t testing.TB, token string) int {
	t.Helper()
	var n int
	if err := p.db.DB().QueryRow("SELECT count(*) FROM session_index WHERE token_hash = ?", storeKey(token)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// lastSeen is the index's last-seen time of a token's session.
func (p *portal) lastSeen(t testing.TB, token string) time.Time {
	t.Helper()
	var ns int64
	if err := p.db.DB().QueryRow("SELECT last_seen_at FROM session_index WHERE token_hash = ?", storeKey(token)).Scan(&ns); err != nil {
		t.Fatal(err)
	}
	return time.Unix(0, ns)
}

// replaySignedIn reports whether a token, replayed from a fresh browser,
// is signed in.
func (p *portal) replaySignedIn(t testing.TB, token string) bool {
	t.Helper()
	r := p.browserAs(t, "")
	r.setSession(token)
	return r.signedIn()
}

var sessionRowRE = regexp.MustCompile(`data-testid="session" data-session-id="([^"]+)"( data-current="true")?`)

// listedSession is a session on the sessions page.
type listedSession struct {
	ID      string
	Current bool
}

func sessionsOn(body string) []listedSession {
	var out []listedSession
	for _, m := range sessionRowRE.FindAllStringSubmatch(body, -1) {
		out = append(out, listedSession{ID: m[1], Current: m[2] != ""})
	}
	return out
}

// sessionsPage loads /accounts/sessions and fails unless it answers 200.
func (b *browser) sessionsPage() response {
	b.t.Helper()
	res := b.get("/accounts/sessions")
	if res.StatusCode != http.StatusOK {
		b.t.Fatalf("GET /accounts/sessions: %d %q, want 200", res.StatusCode, res.Header.Get("Location"))
	}
	return res
}

// B-03a: a session idle for longer than the idle timeout ends, its index
// row and stored session with it; one used within it goes on.
func TestB03a_IdleTimeout(t *testing.T) {
	p := newPortalWith(t, portalOptions{idle: 2 * time.Second})
	b := p.browserAs(t, "")
	b.mustSignIn("google", anna)
	tok := b.sessionCookie()
	for range 4 {
		p.clock.Advance(time.Second)
		if !b.signedIn() {
			t.Fatal("signed out while active every second under a 2 s idle timeout")
		}
	}
	p.clock.Advance(3 * time.Second)
	res := b.get("/accounts")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("GET /accounts after 3 s idle: %d %q, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}
	if p.indexRows(t, tok) != 0 || p.sessionRows(storeKey(tok)) != 0 {
		t.Errorf("after the idle timeout: %d index rows, %d stored sessions; want none", p.indexRows(t, tok), p.sessionRows(storeKey(tok)))
	}
	if p.replaySignedIn(t, tok) {
		t.Error("the idle session's token is signed in again")
	}
}

// B-03b: the absolute lifetime ends a session however active it is, and
// renewing the token (here: linking another account) does not extend it.
func TestB03b_AbsoluteLifetime(t *testing.T) {
	p := newPortalWith(t, portalOptions{lifetime: 5 * time.Second})
	b := p.browserAs(t, "")
	b.mustSignIn("google", anna)
	p.clock.Advance(time.Second)
	b.mustLink("facebook", person("Anna", "anna@example.com")) // renews the token
	for i := 2; i < 5; i++ {
		p.clock.Advance(time.Second)
		if !b.signedIn() {
			t.Fatalf("signed out %d s into a 5 s lifetime", i)
		}
	}
	p.clock.Advance(time.Second)
	tok := b.sessionCookie()
	if b.signedIn() {
		t.Fatal("still signed in at the end of the 5 s lifetime")
	}
	if p.indexRows(t, tok) != 0 {
		t.Error("the index row outlived the lifetime")
	}
}

// B-03c: no cookie outlives the session (the cookie is a browser-session
// cookie: no Max-Age or Expires at all), and a replayed cookie with a
// forged far Expires gains nothing after the lifetime.
func TestB03c_CookieNeverOutlivesLifetime(t *testing.T) {
	const lifetime = time.Hour
	p := newPortalWith(t, portalOptions{lifetime: lifetime})
	b := p.browserAs(t, "")
	start := p.clock.Now()
	b.mustSignIn("google", anna)
	p.clock.Advance(2 * time.Minute)
	b.mustLink("facebook", person("Anna", "anna@example.com"))
	b.sessionsPage()
	for _, r := range b.history {
		for _, c := range r.Cookies() {
			if c.Name != "linkport" || c.Value == "" {
				continue
			}
			remaining := lifetime - p.clock.Now().Sub(start)
			if c.MaxAge > 0 && time.Duration(c.MaxAge)*time.Second > remaining {
				t.Errorf("%s %s: Max-Age %d s exceeds the remaining lifetime %v", r.Request.Method, r.Request.URL.Path, c.MaxAge, remaining)
			}
			if !c.Expires.IsZero() && c.Expires.After(start.Add(lifetime)) {
				t.Errorf("%s %s: Expires %v after the session's end", r.Request.Method, r.Request.URL.Path, c.Expires)
			}
		}
	}
	tok := b.sessionCookie()
	p.clock.Advance(lifetime)
	forged := p.browserAs(t, "")
	u, _ := url.Parse(p.srv.URL)
	forged.client.Jar.SetCookies(u, []*http.Cookie{{Name: "linkport", Value: tok, Path: "/", Expires: time.Now().Add(365 * 24 * time.Hour)}})
	if forged.signedIn() {
		t.Error("a replayed cookie with a forged Expires is signed in after the lifetime")
	}
}

// The index's last-seen time is written at most once a minute, not on
// every request.
func TestSessionIndexLastSeenOncePerMinute(t *testing.T) {
	p := newPortal(t)
	b := p.browserAs(t, "")
	b.mustSignIn("google", anna)
	tok := b.sessionCookie()
	first := p.lastSeen(t, tok)
	p.clock.Advance(30 * time.Second)
	b.accountsPage()
	if got := p.lastSeen(t, tok); !got.Equal(first) {
		t.Errorf("last seen moved to %v within the minute; want %v", got, first)
	}
	p.clock.Advance(31 * time.Second)
	b.accountsPage()
	if got := p.lastSeen(t, tok); !got.After(first) {
		t.Errorf("last seen %v after a minute, want later than %v", got, first)
	}
}

// B-04a: logout deletes the index row and the stored session, clears the
// site's data, and the old cookie replayed is anonymous.
func TestB04a_LogoutDeletesIndexRow(t *testing.T) {
	p := newPortal(t)
	b := p.browserAs(t, "")
	page := b.mustSignIn("google", anna)
	tok := b.sessionCookie()
	if p.indexRows(t, tok) != 1 {
		t.Fatalf("index rows of the signed-in session = %d, want 1", p.indexRows(t, tok))
	}
	res := b.post("/logout", formWithCSRF(page.Body))
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /logout: %d", res.StatusCode)
	}
	if got := res.Header.Get("Clear-Site-Data"); got != `"cache", "cookies", "storage"` {
		t.Errorf("Clear-Site-Data = %q", got)
	}
	if p.indexRows(t, tok) != 0 || p.sessionRows(storeKey(tok)) != 0 {
		t.Errorf("after logout: %d index rows, %d stored sessions; want none", p.indexRows(t, tok), p.sessionRows(storeKey(tok)))
	}
	if p.replaySignedIn(t, tok) {
		t.Error("the old cookie is signed in after logout")
	}
}

// B-04b: GET /logout changes nothing.
func TestB04b_GetLogoutRefused(t *testing.T) {
	p := newPortal(t)
	b := p.browserAs(t, "")
	b.mustSignIn("google", anna)
	tok := b.sessionCookie()
	if res := b.get("/logout"); res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /logout: %d, want 405", res.StatusCode)
	}
	if p.indexRows(t, tok) != 1 || !b.signedIn() {
		t.Error("GET /logout ended the session")
	}
}

// gatedBody is a request body held back until release is closed. With
// "Expect: 100-continue" the client sends no body before the server asks
// for it, and the server asks only when the handler first reads the body —
// after the session was loaded. So when reading closes, the server holds
// this request's copy of the session and waits for the body.
type gatedBody struct {
	r       io.Reader
	once    sync.Once
	reading chan struct{}
	release chan struct{}
}

func newGatedBody(body string) *gatedBody {
	return &gatedBody{r: strings.NewReader(body), reading: make(chan struct{}), release: make(chan struct{})}
}

func (g *gatedBody) Read(p []byte) (int, error) {
	g.once.Do(func() {
		close(g.reading)
		select {
		case <-g.release:
		case <-time.After(5 * time.Second):
		}
	})
	return g.r.Read(p)
}

// slowWrite sends, from b, a request that writes its session at the end
// (saving unchanged profile choices leaves a notice in the session) and
// whose body waits for the returned gate's release. It sends the status
// on done.
func (b *browser) slowWrite(token string, done chan<- int) *gatedBody {
	body := url.Values{"csrf_token": {token}}.Encode()
	g := newGatedBody(body)
	req, _ := http.NewRequest(http.MethodPost, b.p.srv.URL+"/accounts/profile", io.NopCloser(g))
	req.ContentLength = int64(len(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", b.p.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Expect", "100-continue")
	go func() {
		res, err := b.client.Do(req)
		if err != nil {
			b.t.Log(err)
			done <- 0
			return
		}
		res.Body.Close()
		done <- res.StatusCode
	}()
	return g
}

// raceOnce signs a browser in, starts a slow session-writing request,
// runs signOut while the server holds that request's copy of the session,
// lets the slow request finish (scs writes its copy back: K10), and
// reports whether the old token is signed in afterwards and whether the
// late write-back did bring back the stored session.
func raceOnce(t *testing.T, p *portal, victim *browser, who emulator.Person, signOut func()) (signedIn, rewritten bool) {
	t.Helper()
	page := victim.mustSignIn("google", who)
	tok := victim.sessionCookie()
	done := make(chan int, 1)
	g := victim.slowWrite(formWithCSRF(page.Body)["csrf_token"][0], done)
	select {
	case <-g.reading:
	case <-time.After(5 * time.Second):
		t.Fatal("the server never asked for the slow request's body")
	}
	signOut()
	close(g.release)
	if status := <-done; status != http.StatusSeeOther {
		t.Fatalf("slow request: status %d, want 303", status)
	}
	rewritten = p.sessionRows(storeKey(tok)) == 1
	return p.replaySignedIn(t, tok), rewritten
}

// B-04c: POST /logout while a request of the same session is in flight:
// that request writes its copy of the session back after the logout, and
// the old cookie must still be anonymous — 100 times, 10 at once.
func TestB04c_LogoutDuringSlowRequest(t *testing.T) {
	p := newPortal(t)
	var mu sync.Mutex
	rewrites := 0
	t.Run("group", func(t *testing.T) {
		for i := range 100 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				if i%10 != 0 {
					t.Parallel()
				}
				b := p.browserAs(t, "")
				var logout response
				signedIn, rewritten := raceOnce(t, p, b, anna, func() {
					logout = b.post("/logout", formWithCSRF(b.get("/login").Body))
				})
				if logout.StatusCode != http.StatusSeeOther {
					t.Fatalf("POST /logout: %d", logout.StatusCode)
				}
				if signedIn {
					t.Error("the old cookie is signed in after logout and the late write-back")
				}
				if b.signedIn() {
					t.Error("the browser is signed in after logout")
				}
				mu.Lock()
				if rewritten {
					rewrites++
				}
				mu.Unlock()
			})
		}
	})
	// The race is real: scs did write the logged-out session back.
	if rewrites == 0 {
		t.Error("no slow request wrote its session back after the logout; the test does not exercise K10")
	}
}

// B-05b/B-04c: "Sign out all other sessions" from a second browser while a
// request of the first is in flight: the first stays signed out, the
// second stays signed in.
func TestB05b_RevokeOthersDuringSlowRequest(t *testing.T) {
	p := newPortal(t)
	for i := range 20 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			// Each iteration its own person: "sign out all others" of one
			// would end the sessions of the iterations running alongside.
			who := emulator.Person{Sub: fmt.Sprintf("1200000000000000000%02d", i), Name: "Bea", Email: "bea@example.com"}
			other := p.browserAs(t, safariIPhone)
			page := other.mustSignIn("google", who)
			victim := p.browserAs(t, firefoxWindows)
			var res response
			signedIn, _ := raceOnce(t, p, victim, who, func() {
				res = other.post("/accounts/sessions/revoke-others", formWithCSRF(page.Body))
			})
			if res.StatusCode != http.StatusSeeOther {
				t.Fatalf("revoke-others: %d", res.StatusCode)
			}
			if signedIn || victim.signedIn() {
				t.Error("the signed-out browser is signed in after a late write-back")
			}
			if !other.signedIn() {
				t.Error("the browser that signed the others out is signed out")
			}
		})
	}
}

// B-05c: two browsers of one person; the sessions page lists both, this
// one marked; signing one out from the other ends it at its next request
// and leaves the other alone. The page names the device, browser, IP and
// the account that started each session, and never shows a token or its
// hash.
func TestB05c_ListAndRevokeSessions(t *testing.T) {
	p := newPortal(t)
	a := p.browserAs(t, firefoxWindows)
	a.mustSignIn("google", anna)
	b := p.browserAs(t, safariIPhone)
	b.mustSignIn("google", anna)
	page := b.sessionsPage()
	listed := sessionsOn(page.Body)
	if len(listed) != 2 || !listed[0].Current || listed[1].Current {
		t.Fatalf("sessions listed: %+v, want two, this one first and marked", listed)
	}
	for _, want := range []string{"Safari on iPhone", "Firefox on Windows computer", "127.0.0.1", "Google", "anna@example.com", `data-testid="this-device"`} {
		if !strings.Contains(page.Body, want) {
			t.Errorf("sessions page lacks %q", want)
		}
	}
	for _, tok := range []string{a.sessionCookie(), b.sessionCookie()} {
		if strings.Contains(page.Body, tok) || strings.Contains(page.Body, storeKey(tok)) {
			t.Error("the sessions page shows a session token or its hash")
		}
	}
	if strings.Count(page.Body, `data-testid="revoke-session"`) != 1 {
		t.Error("want one Sign out button: for the other session, not this one")
	}

	aTok := a.sessionCookie()
	res := b.post("/accounts/sessions/"+listed[1].ID+"/revoke", formWithCSRF(page.Body))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts/sessions" {
		t.Fatalf("revoke: %d %q, want 303 /accounts/sessions", res.StatusCode, res.Header.Get("Location"))
	}
	if p.indexRows(t, aTok) != 0 || p.sessionRows(storeKey(aTok)) != 0 {
		t.Error("the revoked session's index row or stored session is left")
	}
	after := b.sessionsPage()
	if got := notice(after.Body); got != "Firefox on Windows computer is signed out." {
		t.Errorf("notice = %q", got)
	}
	if n := len(sessionsOn(after.Body)); n != 1 {
		t.Errorf("sessions listed after the revocation: %d, want 1", n)
	}
	if a.signedIn() {
		t.Error("the revoked browser is still signed in")
	}
	if !b.signedIn() {
		t.Error("the browser that revoked is signed out")
	}
	if got := countKind(p.eventKinds(b.userID()), accounts.EventSessionRevoked); got != 1 {
		t.Errorf("session_revoked events = %d, want 1", got)
	}
}

// The same actions from htmx answer with the updated list fragment.
func TestRevokeSessionsHTMX(t *testing.T) {
	p := newPortal(t)
	a, c := p.browserAs(t, firefoxWindows), p.browserAs(t, "")
	a.mustSignIn("google", anna)
	c.mustSignIn("google", anna)
	b := p.browserAs(t, safariIPhone)
	b.mustSignIn("google", anna)
	page := b.sessionsPage()
	token := formWithCSRF(page.Body)["csrf_token"][0]
	listed := sessionsOn(page.Body)
	if len(listed) != 3 {
		t.Fatalf("sessions listed: %d, want 3", len(listed))
	}
	res := b.postHTMX("/accounts/sessions/"+listed[2].ID+"/revoke", token, url.Values{})
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(strings.TrimSpace(res.Body), `<section id="sessions"`) || strings.Contains(res.Body, "<html") {
		t.Fatalf("htmx revoke: %d %.200q, want the #sessions fragment", res.StatusCode, res.Body)
	}
	if n := len(sessionsOn(res.Body)); n != 2 {
		t.Errorf("fragment lists %d sessions, want 2", n)
	}
	res = b.postHTMX("/accounts/sessions/revoke-others", token, url.Values{})
	if res.StatusCode != http.StatusOK || notice(res.Body) != "Signed out 1 other session." {
		t.Errorf("htmx revoke-others: %d, notice %q", res.StatusCode, notice(res.Body))
	}
	if n := len(sessionsOn(res.Body)); n != 1 {
		t.Errorf("fragment lists %d sessions, want 1", n)
	}
	if a.signedIn() || c.signedIn() || !b.signedIn() {
		t.Error("want the two other browsers signed out and this one signed in")
	}
}

// Revoking needs one of the user's own sessions: another user's session id
// or an unknown one is 404 and ends nothing.
func TestRevokeSessionOfAnotherUser(t *testing.T) {
	p := newPortal(t)
	mallory := p.browserAs(t, "")
	mallory.mustSignIn("google", person("Mallory", "mallory@example.com"))
	victim := p.browserAs(t, "")
	victim.mustSignIn("google", anna)
	victimID := sessionsOn(victim.sessionsPage().Body)[0].ID
	page := mallory.sessionsPage()
	for _, id := range []string{victimID, "unknown", storeKey(victim.sessionCookie())} {
		if res := mallory.post("/accounts/sessions/"+url.PathEscape(id)+"/revoke", formWithCSRF(page.Body)); res.StatusCode != http.StatusNotFound {
			t.Errorf("revoke %q: %d, want 404", id, res.StatusCode)
		}
	}
	if !victim.signedIn() {
		t.Error("another user signed the victim out")
	}
}

// Signing out this device from its own row is a sign-out.
func TestRevokeOwnSessionSignsOut(t *testing.T) {
	p := newPortal(t)
	b := p.browserAs(t, "")
	b.mustSignIn("google", anna)
	page := b.sessionsPage()
	res := b.post("/accounts/sessions/"+sessionsOn(page.Body)[0].ID+"/revoke", formWithCSRF(page.Body))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?signed_out=1" {
		t.Errorf("revoke own: %d %q, want 303 /login?signed_out=1", res.StatusCode, res.Header.Get("Location"))
	}
	if b.signedIn() {
		t.Error("still signed in")
	}
}

// Removing a connected account signs out, at once, the other sessions it
// started (their index rows go), and the confirmation says so.
func TestUnlinkRevokesSessionsStartedWithIt(t *testing.T) {
	p := newPortal(t)
	fb := person("Anna", "anna@example.com")
	fb.Sub = "anna-facebook"
	a := p.browserAs(t, firefoxWindows)
	a.mustSignIn("google", anna)
	a.mustLink("facebook", fb)
	b := p.browserAs(t, safariIPhone)
	b.mustSignIn("facebook", fb)
	c := p.browserAs(t, "")
	c.mustSignIn("google", anna)
	bTok := b.sessionCookie()
	id := p.identityID(a.userID(), "facebook", "anna-facebook")
	if confirm := a.unlink(id, false, false); !strings.Contains(confirm.Body, "Sessions started with it will be signed out.") {
		t.Error("the unlink confirmation does not say that its sessions will be signed out")
	}
	res := a.unlink(id, true, false)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink: %d", res.StatusCode)
	}
	if p.indexRows(t, bTok) != 0 || p.sessionRows(storeKey(bTok)) != 0 {
		t.Error("the session started with the removed account is still indexed or stored")
	}
	if got := notice(a.accountsPage().Body); !strings.Contains(got, "Signed out 1 session started with it.") {
		t.Errorf("notice = %q", got)
	}
	if b.signedIn() {
		t.Error("the session started with the removed account is signed in")
	}
	if !a.signedIn() || !c.signedIn() {
		t.Error("a session started with another account was signed out")
	}
}

// A link renews the token; the index row follows it, and the old token,
// even written back late, is not signed in.
func TestSessionIndexFollowsRenewal(t *testing.T) {
	p := newPortal(t)
	b := p.browserAs(t, "")
	b.mustSignIn("google", anna)
	old := b.sessionCookie()
	b.mustLink("facebook", person("Anna", "anna@example.com"))
	tok := b.sessionCookie()
	if tok == old || p.indexRows(t, tok) != 1 || p.indexRows(t, old) != 0 {
		t.Fatalf("after a link: old rows %d, new rows %d; want the row moved to the new token", p.indexRows(t, old), p.indexRows(t, tok))
	}
	// What a late write-back of the old token would leave: its data stored
	// again under its old key.
	var data []byte
	if err := p.db.DB().QueryRow("SELECT data FROM sessions WHERE token = ?", storeKey(tok)).Scan(&data); err != nil {
		t.Fatal(err)
	}
	if _, err := p.db.DB().Exec("INSERT INTO sessions (token, data, expiry) VALUES (?, ?, julianday('now') + 1)", storeKey(old), data); err != nil {
		t.Fatal(err)
	}
	if p.replaySignedIn(t, old) {
		t.Error("the pre-link token, written back, is signed in")
	}
	if !bytes.Contains([]byte(b.sessionsPage().Body), []byte(`data-current="true"`)) {
		t.Error("the renewed session is not marked as this device")
	}
}
