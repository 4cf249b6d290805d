package handlers_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/scs/v2"

	"github.com/linkport/linkport/accounts"
	"github.com/linkport/linkport/handlers"
)

// breaker makes the database stop answering while it is down: the
// accounts store, the scs store and the session index, each through a
// test double around the real one. This tests our handling of an outage;
// how each engine fails is tested with the engines. The error is one the
// real SQLite driver returns, so the handlers' classification of driver
// errors is what decides the page.
type breaker struct {
	accounts, sessions, index, ready atomic.Bool
	// commits fails only the scs store's Commit: the store went away
	// during the request.
	commits atomic.Bool
	err     error
}

// down breaks (or, with false, mends) everything.
func (b *breaker) down(on bool) {
	for _, f := range []*atomic.Bool{&b.accounts, &b.sessions, &b.index, &b.ready} {
		f.Store(on)
	}
}

func (b *breaker) check(f *atomic.Bool) error {
	if f.Load() {
		return b.err
	}
	return nil
}

// sqliteCantOpen is the error the SQLite driver returns for a database
// file it cannot open (SQLITE_CANTOPEN).
func sqliteCantOpen(t *testing.T) error {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "gone", "linkport.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Ping()
	if err == nil {
		t.Fatal("ping of a database in a missing folder succeeded")
	}
	return fmt.Errorf("sqlite: %w", err)
}

// sqlClosed is what database/sql returns after the database was closed.
func sqlClosed(t *testing.T) error {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "closed.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	_, err = db.Exec("SELECT 1")
	if err == nil {
		t.Fatal("query on a closed database succeeded")
	}
	return fmt.Errorf("sqlite: user: %w", err)
}

// newBrokenPortal is a portal whose stores br can break.
func newBrokenPortal(t *testing.T, br *breaker) *portal {
	t.Helper()
	var p *portal
	p = newPortalWith(t, portalOptions{
		wrapStore:    func(s accounts.Store) accounts.Store { return brokenAccounts{s, br} },
		wrapSessions: func(s scs.Store) scs.Store { return brokenSessions{s, br} },
		wrapIndex:    func(x handlers.SessionIndex) handlers.SessionIndex { return brokenIndex{x, br} },
		ready: func(ctx context.Context) error {
			if err := br.check(&br.ready); err != nil {
				return err
			}
			return p.db.Ping(ctx)
		},
	})
	return p
}

type brokenAccounts struct {
	accounts.Store
	b *breaker
}

func (s brokenAccounts) InTx(ctx context.Context, fn func(accounts.Tx) error) error {
	if err := s.b.check(&s.b.accounts); err != nil {
		return err
	}
	return s.Store.InTx(ctx, fn)
}

func (s brokenAccounts) User(ctx context.Context, id int64) (accounts.User, error) {
	if err := s.b.check(&s.b.accounts); err != nil {
		return accounts.User{}, err
	}
	return s.Store.User(ctx, id)
}

func (s brokenAccounts) Identities(ctx context.Context, userID int64) ([]accounts.Identity, error) {
	if err := s.b.check(&s.b.accounts); err != nil {
		return nil, err
	}
	return s.Store.Identities(ctx, userID)
}

func (s brokenAccounts) IdentityBySubject(ctx context.Context, provider, subject string) (accounts.Identity, error) {
	if err := s.b.check(&s.b.accounts); err != nil {
		return accounts.Identity{}, err
	}
	return s.Store.IdentityBySubject(ctx, provider, subject)
}

func (s brokenAccounts) Events(ctx context.Context, userID int64, limit int) ([]accounts.Event, error) {
	if err := s.b.check(&s.b.accounts); err != nil {
		return nil, err
	}
	return s.Store.Events(ctx, userID, limit)
}

func (s brokenAccounts) EventsBefore(ctx context.Context, userID, beforeID int64, limit int) ([]accounts.Event, error) {
	if err := s.b.check(&s.b.accounts); err != nil {
		return nil, err
	}
	return s.Store.EventsBefore(ctx, userID, beforeID, limit)
}

func (s brokenAccounts) DeletionOf(ctx context.Context, userID int64) (accounts.Deletion, error) {
	if err := s.b.check(&s.b.accounts); err != nil {
		return accounts.Deletion{}, err
	}
	return s.Store.DeletionOf(ctx, userID)
}

type brokenSessions struct {
	next scs.Store
	b    *breaker
}

func (s brokenSessions) Find(token string) ([]byte, bool, error) {
	if err := s.b.check(&s.b.sessions); err != nil {
		return nil, false, err
	}
	return s.next.Find(token)
}

func (s brokenSessions) Commit(token string, data []byte, expiry time.Time) error {
	if err := s.b.check(&s.b.sessions); err != nil {
		return err
	}
	if err := s.b.check(&s.b.commits); err != nil {
		return err
	}
	return s.next.Commit(token, data, expiry)
}

func (s brokenSessions) Delete(token string) error {
	if err := s.b.check(&s.b.sessions); err != nil {
		return err
	}
	return s.next.Delete(token)
}

type brokenIndex struct {
	handlers.SessionIndex
	b *breaker
}

func (x brokenIndex) Start(ctx context.Context, s accounts.Session) error {
	if err := x.b.check(&x.b.index); err != nil {
		return err
	}
	return x.SessionIndex.Start(ctx, s)
}

func (x brokenIndex) Rotate(ctx context.Context, oldHash, newHash string) error {
	if err := x.b.check(&x.b.index); err != nil {
		return err
	}
	return x.SessionIndex.Rotate(ctx, oldHash, newHash)
}

func (x brokenIndex) Seen(ctx context.Context, hash string, at time.Time) error {
	if err := x.b.check(&x.b.index); err != nil {
		return err
	}
	return x.SessionIndex.Seen(ctx, hash, at)
}

func (x brokenIndex) Get(ctx context.Context, hash string) (accounts.Session, error) {
	if err := x.b.check(&x.b.index); err != nil {
		return accounts.Session{}, err
	}
	return x.SessionIndex.Get(ctx, hash)
}

func (x brokenIndex) List(ctx context.Context, userID int64) ([]accounts.Session, error) {
	if err := x.b.check(&x.b.index); err != nil {
		return nil, err
	}
	return x.SessionIndex.List(ctx, userID)
}

func (x brokenIndex) Revoke(ctx context.Context, hash string) error {
	if err := x.b.check(&x.b.index); err != nil {
		return err
	}
	return x.SessionIndex.Revoke(ctx, hash)
}

func (x brokenIndex) RevokeOthers(ctx context.Context, userID int64, keepHash string) (int, error) {
	if err := x.b.check(&x.b.index); err != nil {
		return 0, err
	}
	return x.SessionIndex.RevokeOthers(ctx, userID, keepHash)
}

func (x brokenIndex) RevokeIdentity(ctx context.Context, userID, identityID int64, keepHash string) (int, error) {
	if err := x.b.check(&x.b.index); err != nil {
		return 0, err
	}
	return x.SessionIndex.RevokeIdentity(ctx, userID, identityID, keepHash)
}

// wantStoreDown checks the "temporarily unavailable" page: 503 with
// Retry-After, a way back, and nothing of the error inside.
func wantStoreDown(t *testing.T, what string, res response) {
	t.Helper()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%s: status %d, want 503; body %.300s", what, res.StatusCode, res.Body)
	}
	if ra := res.Header.Get("Retry-After"); ra == "" {
		t.Errorf("%s: 503 without Retry-After", what)
	}
	if !strings.Contains(res.Body, "temporarily unavailable") || !strings.Contains(res.Body, `data-testid="error-action"`) {
		t.Errorf("%s: body lacks the unavailable message and a way back: %.300s", what, res.Body)
	}
	for _, leak := range []string{"sqlite", "sql:", "database is closed", "out of memory", "unable to open"} {
		if strings.Contains(res.Body, leak) {
			t.Errorf("%s: page shows %q", what, leak)
		}
	}
}

// E-07a, E-08a: while the database or the session store does not answer,
// a signed-in page answers 503 with Retry-After (never 500, never the
// anonymous page), /readyz 503 and /healthz 200. E-07b: when it answers
// again, the same cookie works, still signed in, with no restart.
func TestE07a_E07b_StoreDownAnswers503ThenRecovers(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  func(*testing.T) error
		// breaks the parts that fail; readyDown: /readyz must see it.
		breaks    func(*breaker)
		readyDown bool
	}{
		{"database down", sqliteCantOpen, func(b *breaker) { b.down(true) }, true},
		{"database closed", sqlClosed, func(b *breaker) { b.down(true) }, true},
		// The session store alone: Config.Ready (the database) still
		// answers; readiness must look at the session store itself.
		{"session store down", sqliteCantOpen, func(b *breaker) { b.sessions.Store(true) }, true},
		{"session index down", sqliteCantOpen, func(b *breaker) { b.index.Store(true) }, false},
		{"accounts store down", sqliteCantOpen, func(b *breaker) { b.accounts.Store(true) }, false},
		{"accounts store closed", sqlClosed, func(b *breaker) { b.accounts.Store(true) }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			br := &breaker{err: tc.err(t)}
			p := newBrokenPortal(t, br)
			b := p.browser()
			b.mustSignIn("google", ann)
			uid, cookie := b.userID(), b.sessionCookie()

			tc.breaks(br)
			for _, path := range []string{"/accounts", "/accounts/sessions", "/accounts/activity"} {
				wantStoreDown(t, "GET "+path, b.get(path))
			}
			if tc.readyDown {
				if res := b.get("/readyz"); res.StatusCode != http.StatusServiceUnavailable {
					t.Errorf("/readyz: %d, want 503", res.StatusCode)
				}
			}
			if res := b.get("/healthz"); res.StatusCode != http.StatusOK {
				t.Errorf("/healthz: %d, want 200", res.StatusCode)
			}
			if b.sessionCookie() != cookie {
				t.Errorf("the outage changed the session cookie")
			}

			br.down(false)
			if res := b.get("/readyz"); res.StatusCode != http.StatusOK {
				t.Errorf("/readyz after recovery: %d, want 200", res.StatusCode)
			}
			page := b.accountsPage()
			if b.sessionCookie() != cookie || b.userID() != uid || displayName(page.Body) == "" {
				t.Errorf("after recovery: cookie kept %v, user %d (want %d)", b.sessionCookie() == cookie, b.userID(), uid)
			}
			if strings.Contains(p.logs.String(), `"status":500`) {
				t.Errorf("a request answered 500:\n%s", p.logs.String())
			}
		})
	}
}

// E-07a: the database failing during a change (an unlink, a sign-in
// callback, htmx) answers the 503 page too, and changes nothing.
func TestE07a_StoreDownDuringChanges(t *testing.T) {
	br := &breaker{err: sqliteCantOpen(t)}
	p := newBrokenPortal(t, br)
	b := p.browser()
	b.mustSignIn("google", ann)
	b.mustLink("facebook", annFB)
	uid := b.userID()
	fb := p.identityID(uid, "facebook", annFB.Sub)
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]

	br.accounts.Store(true)
	wantStoreDown(t, "unlink", b.unlinkWith(token, fb, true, false))
	if res := b.unlinkWith(token, fb, true, true); res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") == "" {
		t.Errorf("htmx unlink: %d Retry-After %q, want 503 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// A sign-in in another browser: the callback sends it to the error
	// page, which explains the outage.
	other := p.browser()
	res := other.signIn("x", person("Xena", "xena@example.com"))
	if res.StatusCode != http.StatusSeeOther || errorRedirect(t, res) != "/auth/error?reason=down" {
		t.Fatalf("callback: %d %q, want 303 to the store-down page", res.StatusCode, res.Header.Get("Location"))
	}
	wantStoreDown(t, "error page", other.get(res.Header.Get("Location")))

	br.accounts.Store(false)
	if got := providersOf(p.identitiesOf(uid)); len(got) != 2 {
		t.Errorf("identities after the outage: %v, want google and facebook", got)
	}
	if p.count("users") != 1 {
		t.Errorf("%d users, want 1: the failed sign-in created one", p.count("users"))
	}
	if !b.signedIn() {
		t.Error("signed out by the outage")
	}
}

// E-08a: the session store failing when the session is saved, at the end
// of a sign-in, answers 503 rather than "signed in" without a session;
// afterwards the browser is anonymous, and signing in again works.
func TestE08a_SessionSaveFailsAnswers503(t *testing.T) {
	br := &breaker{err: sqliteCantOpen(t)}
	p := newBrokenPortal(t, br)
	b := p.browser()
	cb := b.consent("google", b.begin("google", nil), ann)
	br.commits.Store(true)
	res := b.get(cb.String())
	wantStoreDown(t, "callback", res)
	if res.Header.Get("Location") != "" || len(res.Header.Values("Set-Cookie")) != 0 {
		t.Errorf("503 still carries Location %q / Set-Cookie %q", res.Header.Get("Location"), res.Header.Values("Set-Cookie"))
	}
	br.commits.Store(false)
	if b.signedIn() {
		t.Fatal("signed in although the session was never saved")
	}
	b.mustSignIn("google", ann)
}

// E-09a: a session whose stored data no longer decodes (random bytes
// here) is served as a new anonymous session: 200, a new token, one
// warning in the log, not a 500.
func TestE09a_UndecodableSessionIsAnonymous(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	old := b.sessionCookie()
	junk := make([]byte, 64)
	_, _ = rand.Read(junk)
	if res, err := p.db.DB().Exec("UPDATE sessions SET data = ? WHERE token = ?", junk, storeKey(old)); err != nil {
		t.Fatal(err)
	} else if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("updated %d session rows, want 1", n)
	}

	res := b.get("/login")
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, `name="csrf_token"`) {
		t.Fatalf("GET /login: %d, want the 200 sign-in page", res.StatusCode)
	}
	if got := b.sessionCookie(); got == "" || got == old {
		t.Errorf("session cookie %q, want a new token (old %q)", got, old)
	}
	if b.signedIn() {
		t.Error("still signed in with undecodable session data")
	}
	if n := strings.Count(p.logs.String(), "session data undecodable"); n != 1 {
		t.Errorf("%d warnings about undecodable data, want 1", n)
	}
	if strings.Contains(p.logs.String(), `"status":500`) {
		t.Error("a request answered 500")
	}
}

// E-15a: every auth handler that changes the session sends the new
// cookie with its response (scs cannot add it once the response is
// written — K11), and the session it names holds the change.
func TestE15a_SessionChangesSendCookie(t *testing.T) {
	p := newPortal(t)
	b, uid, fb := staleWithFacebook(t, p)
	// step checks that res renewed the session: one Set-Cookie with a
	// token other than before, which the browser now holds.
	step := func(name, before string, res response) {
		t.Helper()
		got := res.Header.Values("Set-Cookie")
		if res.StatusCode != http.StatusSeeOther || len(got) != 1 || !strings.HasPrefix(got[0], "linkport=") ||
			b.sessionCookie() == before || !strings.HasPrefix(got[0], "linkport="+b.sessionCookie()+";") {
			t.Fatalf("%s: status %d Set-Cookie %q, want 303 with one new session cookie", name, res.StatusCode, got)
		}
	}

	// Unlink with a stale sign-in: step up at the provider (the callback
	// renews the session), then Continue carries the unlink out.
	id := stepUpID(t, b.unlink(fb, true, false))
	before := b.sessionCookie()
	step("step-up callback", before, b.stepUpWith(id, "google", ann))
	before = b.sessionCookie()
	step("continue (unlink)", before, b.carryOn(id, fmt.Sprintf("/accounts/identities/%d/unlink", fb)))
	if !b.signedIn() || len(p.identitiesOf(uid)) != 1 {
		t.Fatalf("after the unlink: signed in %v, %d identities", b.signedIn(), len(p.identitiesOf(uid)))
	}

	// Link confirm.
	lid := b.linkPreview("facebook", annFB)
	before = b.sessionCookie()
	step("link confirm", before, b.answerLink(lid, "link"))
	if !b.signedIn() || len(p.identitiesOf(uid)) != 2 {
		t.Fatalf("after the link: signed in %v, %d identities", b.signedIn(), len(p.identitiesOf(uid)))
	}

	// Unlink without a step-up (the sign-in is recent now).
	fb = p.identityID(uid, "facebook", annFB.Sub)
	token := formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	before = b.sessionCookie()
	step("unlink", before, b.unlinkWith(token, fb, true, false))
	if !b.signedIn() {
		t.Fatal("signed out by the unlink")
	}

	// Sign-in callback in a new browser.
	nb := p.browser()
	res := nb.signIn("x", person("Xena", "xena@example.com"))
	if res.StatusCode != http.StatusSeeOther || len(res.Header.Values("Set-Cookie")) != 1 || !nb.signedIn() {
		t.Fatalf("sign-in callback: %d Set-Cookie %q", res.StatusCode, res.Header.Values("Set-Cookie"))
	}

	// Logout expires the cookie.
	token = formWithCSRF(b.accountsPage().Body)["csrf_token"][0]
	res = b.post("/logout", url.Values{"csrf_token": {token}})
	if sc := res.Header.Get("Set-Cookie"); res.StatusCode != http.StatusSeeOther || !regexp.MustCompile(`^linkport=;.*Max-Age=0`).MatchString(sc) {
		t.Fatalf("logout: %d Set-Cookie %q, want an expired linkport cookie", res.StatusCode, sc)
	}
	if b.signedIn() {
		t.Error("still signed in after logout")
	}
}

// E-14a (the handlers' part): once shutdown begins, /readyz answers 503
// at once while pages are still served.
func TestE14a_DrainFlipsReadiness(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	if res := b.get("/readyz"); res.StatusCode != http.StatusOK {
		t.Fatalf("/readyz: %d, want 200", res.StatusCode)
	}
	p.app.Drain()
	if res := b.get("/readyz"); res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while draining: %d, want 503", res.StatusCode)
	}
	if res := b.get("/healthz"); res.StatusCode != http.StatusOK {
		t.Errorf("/healthz while draining: %d, want 200", res.StatusCode)
	}
	b.accountsPage()
}
