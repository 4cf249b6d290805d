package handlers_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/linkport/linkport/providers/emulator"
	"github.com/linkport/linkport/seal"
)

// newKeyring returns a keyring with one fresh key, as LINKPORT_TOKEN_KEY
// would give.
func newKeyring(t *testing.T) *seal.Keyring {
	t.Helper()
	k := make([]byte, seal.KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	r, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// issuedTokens returns every access, refresh and ID token the emulated
// providers' token endpoints handed to the portal.
func (p *portal) issuedTokens(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, name := range []string{"google", "facebook", "x"} {
		for _, c := range p.back.tokenCalls(name) {
			var tok struct {
				AccessToken  string `json:"access_token"`
				RefreshToken string `json:"refresh_token"`
				IDToken      string `json:"id_token"`
			}
			if err := json.Unmarshal([]byte(c.Body), &tok); err != nil {
				t.Fatalf("%s token answer: %v", name, err)
			}
			for _, s := range []string{tok.AccessToken, tok.RefreshToken, tok.IDToken} {
				if s != "" {
					out = append(out, s)
				}
			}
		}
	}
	if len(out) == 0 {
		t.Fatal("no tokens were issued")
	}
	return out
}

// A-13a: with token storage on, after sign-ins and a link, no access,
// refresh or ID token value is in the SQLite file, in any session blob or
// in any response of the flow; the identities hold only ciphertext.
func TestA13a_TokensOnlyAsCiphertext(t *testing.T) {
	keys := newKeyring(t)
	p := newPortalWith(t, portalOptions{record: true, tokenKeys: keys})
	b := p.browser()
	b.mustSignIn("google", ann)
	b.mustLink("x", bob)
	b.mustLink("facebook", annFB)
	b.get("/accounts/activity")
	b.get("/accounts/activity.json")
	secrets := p.issuedTokens(t)

	ctx := t.Context()
	var sealed int
	if err := p.db.DB().QueryRowContext(ctx, "SELECT count(*) FROM identities WHERE access_token IS NOT NULL").Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	if sealed != 3 {
		t.Errorf("%d identities hold an access token, want 3 (sign-in and both links)", sealed)
	}
	rows, err := p.db.DB().QueryContext(ctx, "SELECT data FROM sessions")
	if err != nil {
		t.Fatal(err)
	}
	var blobs [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		blobs = append(blobs, b)
	}
	rows.Close()
	if len(blobs) == 0 {
		t.Fatal("no session rows")
	}

	// The emulator keeps its issued tokens in the same file, as the
	// provider's own database would; that table is the provider's, not
	// ours. Drop it and compact, so the file holds only the portal's data.
	for _, q := range []string{"DELETE FROM emulator_tokens", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
		if _, err := p.db.DB().ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var files [][]byte
	for _, suffix := range []string{"", "-wal"} {
		if data, err := os.ReadFile(p.dbPath + suffix); err == nil {
			files = append(files, data)
		}
	}
	for i, s := range secrets {
		for _, f := range files {
			if bytes.Contains(f, []byte(s)) {
				t.Errorf("token %d is in the database file", i)
			}
		}
		for _, blob := range blobs {
			if bytes.Contains(blob, []byte(s)) {
				t.Errorf("token %d is in a session blob", i)
			}
		}
		for _, r := range b.history {
			var head strings.Builder
			_ = r.Header.Write(&head)
			if strings.Contains(r.Body, s) || strings.Contains(head.String(), s) {
				t.Errorf("token %d is in the response to %s %s", i, r.Request.Method, r.Request.URL.Path)
			}
		}
	}
}

// A-13d: unlinking an identity with a stored token revokes it at the
// provider's revocation endpoint, once, and deletes the row; Facebook has
// no endpoint and is only deleted; a failing endpoint does not stop the
// removal.
func TestA13d_UnlinkRevokesAtProvider(t *testing.T) {
	p := newPortalWith(t, portalOptions{tokenKeys: newKeyring(t)})
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	b.mustLink("x", bob)
	b.mustLink("facebook", annFB)

	for _, tc := range []struct{ provider, sub string }{{"google", ann.Sub}, {"x", bob.Sub}} {
		p.emu.ResetHits()
		id := p.identityID(uid, tc.provider, tc.sub)
		if res := b.unlink(id, true, false); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("unlink %s: status %d", tc.provider, res.StatusCode)
		}
		if n := p.emu.Hits(tc.provider, "revoke"); n != 1 {
			t.Errorf("unlink %s: revocation endpoint hit %d times, want 1", tc.provider, n)
		}
		var n int
		_ = p.db.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM identities WHERE id = ?", id).Scan(&n)
		if n != 0 {
			t.Errorf("unlink %s: the identity row (with its tokens) is still there", tc.provider)
		}
	}
	if strings.Contains(p.logs.String(), "token revocation failed") {
		t.Errorf("a revocation failed:\n%s", p.logs.String())
	}

	// A revocation endpoint that fails is logged; the unlink stands.
	b2 := p.browser()
	b2.mustSignIn("google", annWork)
	uid2 := b2.userID()
	b2.mustLink("x", emulator.Person{Sub: "3000000000000000009", Name: "Other X", Username: "otherx"})
	p.emu.SetFault("x", "revoke", emulator.Fault{Status: http.StatusServiceUnavailable})
	defer p.emu.ClearFaults()
	res := b2.unlink(p.identityID(uid2, "x", "3000000000000000009"), true, false)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/accounts" {
		t.Errorf("unlink with a failing revocation endpoint: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if !strings.Contains(p.logs.String(), "token revocation failed") {
		t.Error("the failed revocation is not logged")
	}
}

// Without a token key nothing is stored, so an unlink revokes nothing.
func TestUnlinkWithoutTokenKeyRevokesNothing(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	b.mustLink("x", bob)
	var n int
	_ = p.db.DB().QueryRowContext(t.Context(), "SELECT count(*) FROM identities WHERE access_token IS NOT NULL OR refresh_token IS NOT NULL").Scan(&n)
	if n != 0 {
		t.Errorf("%d identities hold tokens without a key", n)
	}
	p.emu.ResetHits()
	b.unlink(p.identityID(uid, "google", ann.Sub), true, false)
	if n := p.emu.Hits("google", "revoke"); n != 0 {
		t.Errorf("revocation endpoint hit %d times with no stored token", n)
	}
}

// P10 TestTokensNeverLogged: a whole life of an account (sign-in, links,
// unlink, logout) with token storage on; the captured log has every
// security event and no token.
func TestTokensNeverLogged(t *testing.T) {
	p := newPortalWith(t, portalOptions{record: true, tokenKeys: newKeyring(t)})
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	b.mustLink("x", bob)
	b.mustLink("facebook", annFB)
	b.unlink(p.identityID(uid, "x", bob.Sub), true, false)
	b.post("/logout", formWithCSRF(b.accountsPage().Body))
	logs := p.logs.String()
	for _, msg := range []string{`"msg":"signed in"`, `"msg":"linked"`, `"msg":"unlinked"`, `"msg":"signed out"`} {
		if !strings.Contains(logs, msg) {
			t.Errorf("the log lacks %s; is it captured?", msg)
		}
	}
	for i, s := range p.issuedTokens(t) {
		if strings.Contains(logs, s) {
			t.Errorf("token %d is in the log", i)
		}
	}
}

// Revoke: Facebook has no revocation endpoint; a refused revocation's
// error does not quote the token.
func TestProviderRevokeErrors(t *testing.T) {
	p := newPortal(t)
	fb, _ := p.reg.Get("facebook")
	if err := fb.Revoke(t.Context(), "fb-token"); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("Facebook Revoke = %v, want ErrUnsupported", err)
	}
	g, _ := p.reg.Get("google")
	const unknown = "ya29.never-issued-token"
	err := g.Revoke(t.Context(), unknown)
	if err == nil || strings.Contains(err.Error(), unknown) {
		t.Errorf("Google Revoke(unknown) = %v; want an error without the token", err)
	}
	if n := p.emu.Hits("google", "revoke"); n != 1 {
		t.Errorf("revocation endpoint hit %d times, want 1", n)
	}
}
