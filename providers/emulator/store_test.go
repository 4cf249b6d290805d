package emulator

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/oauth2"
)

// A restarted portal (a new Emulator on the same database) keeps people,
// pending codes and the signing key.
func TestPersistenceAcrossRestart(t *testing.T) { testPersistenceAcrossRestart(t, openDB(t)) }

// The same on PostgreSQL, the database of a scaled-out portal.
func TestPersistenceAcrossRestartPostgres(t *testing.T) {
	testPersistenceAcrossRestart(t, openPostgresDB(t))
}

func testPersistenceAcrossRestart(t *testing.T, db *sql.DB) {
	old := newFixtureOn(t, db, "")
	ctx := context.Background()
	ada, err := old.e.AddPerson(ctx, Person{Provider: "google", Name: "Ada", Email: "ada@example.com", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	verifier := oauth2.GenerateVerifier()
	code := old.approve(t, "google", googleQuery(oauth2.S256ChallengeFromVerifier(verifier)), ada).Get("code")
	oldJWKS := string(userinfo(t, old, "/google/jwks", ""))

	restarted := newFixtureOn(t, db, "")
	people, err := restarted.e.People(ctx, "google")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Person{ada}, people); diff != "" {
		t.Errorf("people after restart (-want +got):\n%s", diff)
	}
	if got := string(userinfo(t, restarted, "/google/jwks", "")); got != oldJWKS {
		t.Errorf("JWKS changed across restart:\n%s\n%s", oldJWKS, got)
	}
	c := testClients["google"]
	status, e := postToken(t, restarted, "/google/token", url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURI}, "code_verifier": {verifier},
	}, [2]string{c.ID, c.Secret})
	if status != http.StatusOK {
		t.Fatalf("redeeming the old emulator's code: %d %+v", status, e)
	}
}

// Of concurrent redemptions of one code exactly one succeeds.
func TestCodeRedemptionIsAtomic(t *testing.T) {
	f := newFixture(t)
	verifier := oauth2.GenerateVerifier()
	code := f.approve(t, "google", googleQuery(oauth2.S256ChallengeFromVerifier(verifier)), Person{Name: "A"}).Get("code")
	c := testClients["google"]
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {c.RedirectURI}, "code_verifier": {verifier}}
	var wg sync.WaitGroup
	statuses := make(chan int, 8)
	for range 8 {
		wg.Go(func() {
			status, _ := postToken(t, f, "/google/token", form, [2]string{c.ID, c.Secret})
			statuses <- status
		})
	}
	wg.Wait()
	close(statuses)
	got := map[int]int{}
	for s := range statuses {
		got[s]++
	}
	if diff := cmp.Diff(map[int]int{200: 1, 400: 7}, got); diff != "" {
		t.Errorf("statuses (-want +got):\n%s", diff)
	}
}

func TestAddPerson(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	p, err := f.e.AddPerson(ctx, Person{Provider: "x", Email: "grace.hopper@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "Grace Hopper" || p.Username != "gracehopper" || len(p.Sub) != 19 || p.Sub[0] == '0' {
		t.Errorf("derived fields: %+v", p)
	}
	if _, err := f.e.AddPerson(ctx, Person{Provider: "x", Sub: p.Sub}); !errors.Is(err, ErrPersonExists) {
		t.Errorf("duplicate sub: %v, want ErrPersonExists", err)
	}
	for _, bad := range []Person{
		{Provider: "myspace"},
		{Provider: "google", Email: "not an email"},
		{Provider: "google", Sub: "a/b"},
		{Provider: "google", Sub: "has space"},
		{Provider: "google", Name: "bell\a"},
	} {
		if _, err := f.e.AddPerson(ctx, bad); err == nil {
			t.Errorf("AddPerson(%+v) succeeded", bad)
		}
	}
}

// Transport serves BaseURL in-process: this emulator has no listener at
// all, yet a whole OIDC flow works, and other hosts go to next.
func TestTransportServesInProcess(t *testing.T) {
	e, err := New(context.Background(), Config{DB: openDB(t), BaseURL: "http://portal.invalid/_emulator", Clients: testClients})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: e.Transport(failTransport{})}
	ctx := oidc.ClientContext(context.Background(), client)
	provider, err := oidc.NewProvider(ctx, e.Issuer())
	if err != nil {
		t.Fatalf("discovery through Transport: %v", err)
	}
	c := testClients["google"]
	cfg := oauth2.Config{ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: c.RedirectURI, Endpoint: provider.Endpoint(), Scopes: []string{"openid", "email"}}
	verifier := oauth2.GenerateVerifier()
	u, _ := url.Parse(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	to, err := e.Approve(ctx, "google", u.Query(), Person{Name: "In Process"})
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := url.Parse(to)
	tok, err := cfg.Exchange(ctx, cb.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange through Transport: %v", err)
	}
	if _, err := provider.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Fatalf("verify through Transport: %v", err)
	}
	if e.Hits("google", "discovery") != 1 || e.Hits("google", "token") != 1 || e.Hits("google", "jwks") != 1 {
		t.Errorf("hits: discovery %d token %d jwks %d", e.Hits("google", "discovery"), e.Hits("google", "token"), e.Hits("google", "jwks"))
	}
	for _, other := range []string{"http://elsewhere.invalid/_emulator/google/jwks", "http://portal.invalid/_emulatorx/google/jwks", "https://portal.invalid/_emulator/google/jwks"} {
		if resp, err := client.Get(other); err == nil {
			resp.Body.Close()
			t.Errorf("%s was served in-process", other)
		}
	}
}

// Junk at any endpoint gets a 4xx JSON answer, never a 5xx or a panic.
func TestBadInput(t *testing.T) {
	f := newFixture(t)
	big := strings.Repeat("a", 100<<10)
	for _, tt := range []struct {
		method, path, contentType, body, auth string
	}{
		{"POST", "/google/token", "application/x-www-form-urlencoded", "", ""},
		{"POST", "/google/token", "application/json", `{"code":"x"}`, ""},
		{"POST", "/google/token", "application/x-www-form-urlencoded", "code=" + big, "Basic Z29vZ2xlLWNsaWVudDpnb29nbGUtc2VjcmV0"},
		{"POST", "/google/token", "application/x-www-form-urlencoded", "grant_type=authorization_code&code=x&redirect_uri=y", "Basic %%%"},
		{"GET", "/google/userinfo", "", "", "Bearer"},
		{"GET", "/google/userinfo", "", "", "Basic abc"},
		{"POST", "/google/revoke", "application/x-www-form-urlencoded", "token=nope", ""},
		{"GET", "/facebook/oauth/access_token?code=x&code=y", "", "", ""},
		{"GET", "/facebook/me?access_token=a&access_token=b", "", "", ""},
		{"GET", "/facebook/v99x/me", "", "", ""},
		{"POST", "/x/2/oauth2/token", "application/x-www-form-urlencoded", "grant_type=authorization_code", "Basic eC1jbGllbnQ6eC1zZWNyZXQ="},
		{"GET", "/x/2/users/me", "", "", "Bearer nope"},
		{"POST", "/x/2/oauth2/revoke", "application/x-www-form-urlencoded", "token=nope", ""},
		{"GET", "/avatar/google/nobody.svg", "", "", ""},
	} {
		req, _ := http.NewRequest(tt.method, f.srv.URL+tt.path, strings.NewReader(tt.body))
		if tt.contentType != "" {
			req.Header.Set("Content-Type", tt.contentType)
		}
		if tt.auth != "" {
			req.Header.Set("Authorization", tt.auth)
		}
		resp, err := f.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var e oauthError
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || json.Unmarshal(b, &e) != nil || e.Error == "" {
			t.Errorf("%s %s: %d %s, want a 4xx JSON error", tt.method, tt.path, resp.StatusCode, b)
		}
	}
}
