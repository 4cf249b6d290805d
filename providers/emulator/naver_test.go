package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// naverTokenCall posts a form to the emulated Naver token endpoint and
// returns the status and the decoded answer.
func naverTokenCall(t *testing.T, f *fixture, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, err := f.client().PostForm(f.e.baseURL+"/naver/oauth2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatalf("token answer is not a JSON object: %v", err)
	}
	return resp.StatusCode, v
}

// naverCode approves person at the emulated Naver and returns the code.
func naverCode(t *testing.T, f *fixture, person Person) string {
	t.Helper()
	c := testClients["naver"]
	q := url.Values{"client_id": {c.ID}, "redirect_uri": {c.RedirectURI}, "response_type": {"code"}, "state": {"st-naver"}}
	return f.approve(t, "naver", q, person).Get("code")
}

// naverForm is a token request for code, credentials and state included.
func naverForm(code string) url.Values {
	c := testClients["naver"]
	return url.Values{"grant_type": {"authorization_code"}, "client_id": {c.ID}, "client_secret": {c.Secret},
		"code": {code}, "state": {"st-naver"}, "redirect_uri": {c.RedirectURI}}
}

// TestNaverCodeFlow: no scope and no PKCE in the request, the state in the
// token request, expires_in as a string, refusals with status 200, and
// /v1/nid/me wrapped in resultcode/message/response.
func TestNaverCodeFlow(t *testing.T) {
	f := newFixture(t)
	code := naverCode(t, f, Person{Name: "Hong Gildong", Username: "gildong", Email: "gildong@naver.example"})
	noState := naverForm(code)
	noState.Del("state")
	status, ans := naverTokenCall(t, f, noState)
	if status != http.StatusOK || ans["error"] != "invalid_request" {
		t.Errorf("token request without state: %d %v, want 200 with error invalid_request", status, ans)
	}
	// The refusal came before the code was looked at: it still works.
	status, ans = naverTokenCall(t, f, naverForm(code))
	if status != http.StatusOK || ans["expires_in"] != "3600" || ans["token_type"] != "bearer" || ans["refresh_token"] == nil {
		t.Fatalf("token answer: %d %v", status, ans)
	}
	// A used code: refused, still with status 200.
	status, ans = naverTokenCall(t, f, naverForm(code))
	if status != http.StatusOK || ans["error"] != "invalid_grant" || ans["access_token"] != nil {
		t.Errorf("second use of the code: %d %v", status, ans)
	}
	p := mustPerson(t, f, "naver")
	status, body := apiCall(t, f, http.MethodGet, "/naver/v1/nid/me", "Bearer "+naverAccess(t, f, p))
	want := map[string]any{"resultcode": "00", "message": "success", "response": map[string]any{
		"id": p.Sub, "name": "Hong Gildong", "nickname": "gildong", "email": "gildong@naver.example",
		"profile_image": f.e.baseURL + "/avatar/naver/" + p.Sub + ".svg"}}
	if diff := cmp.Diff(want, body); status != http.StatusOK || diff != "" {
		t.Errorf("nid/me %d (-want +got):\n%s", status, diff)
	}
	status, body = apiCall(t, f, http.MethodGet, "/naver/v1/nid/me", "Bearer not-a-token")
	if status != http.StatusUnauthorized || body.(map[string]any)["resultcode"] != "024" {
		t.Errorf("nid/me with a bad token: %d %v, want 401 resultcode 024", status, body)
	}
}

// mustPerson returns the only person of a provider.
func mustPerson(t *testing.T, f *fixture, provider string) Person {
	t.Helper()
	people, err := f.e.People(context.Background(), provider)
	if err != nil || len(people) != 1 {
		t.Fatalf("people of %s: %v, %v; want one", provider, people, err)
	}
	return people[0]
}

// naverAccess signs p in again and returns a fresh access token.
func naverAccess(t *testing.T, f *fixture, p Person) string {
	t.Helper()
	status, ans := naverTokenCall(t, f, naverForm(naverCode(t, f, p)))
	tok, _ := ans["access_token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("token: %d %v", status, ans)
	}
	return tok
}

// TestNaverDeleteEndsTheGrant: grant_type=delete at the token URL is
// counted as the revoke endpoint, and every token of the grant, the
// refresh token too, stops working.
func TestNaverDeleteEndsTheGrant(t *testing.T) {
	f := newFixture(t)
	c := testClients["naver"]
	status, ans := naverTokenCall(t, f, naverForm(naverCode(t, f, Person{Name: "Kim"})))
	if status != http.StatusOK {
		t.Fatal(ans)
	}
	access, refresh := ans["access_token"].(string), ans["refresh_token"].(string)
	status, ans = naverTokenCall(t, f, url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "refresh_token": {refresh}})
	fresh, _ := ans["access_token"].(string)
	if status != http.StatusOK || fresh == "" || fresh == access {
		t.Fatalf("refresh: %d %v", status, ans)
	}
	f.e.ResetHits()
	del := url.Values{"grant_type": {"delete"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "access_token": {fresh}, "service_provider": {"NAVER"}}
	status, ans = naverTokenCall(t, f, del)
	if status != http.StatusOK || ans["result"] != "success" {
		t.Fatalf("delete: %d %v", status, ans)
	}
	if f.e.Hits("naver", "revoke") != 1 || f.e.Hits("naver", "token") != 0 {
		t.Errorf("hits: revoke %d token %d; want the deletion counted as revoke only", f.e.Hits("naver", "revoke"), f.e.Hits("naver", "token"))
	}
	for _, tok := range []string{access, fresh} {
		if status, _ := apiCall(t, f, http.MethodGet, "/naver/v1/nid/me", "Bearer "+tok); status != http.StatusUnauthorized {
			t.Errorf("nid/me after deletion: %d, want 401", status)
		}
	}
	status, ans = naverTokenCall(t, f, url.Values{"grant_type": {"refresh_token"}, "client_id": {c.ID}, "client_secret": {c.Secret}, "refresh_token": {refresh}})
	if ans["error"] != "invalid_grant" {
		t.Errorf("refresh after deletion: %d %v", status, ans)
	}
	// A fault on "revoke" hits the deletion, not the issuance.
	f.e.SetFault("naver", "revoke", Fault{Status: http.StatusServiceUnavailable})
	if status, _ := naverTokenCall(t, f, del); status != http.StatusServiceUnavailable {
		t.Errorf("delete under a revoke fault: %d", status)
	}
	if status, ans := naverTokenCall(t, f, naverForm(naverCode(t, f, Person{Name: "Lee"}))); status != http.StatusOK || ans["access_token"] == nil {
		t.Errorf("issuance under a revoke fault: %d %v", status, ans)
	}
	// Basic authentication alone is not Naver's way.
	req, _ := http.NewRequest(http.MethodPost, f.e.baseURL+"/naver/oauth2.0/token", strings.NewReader("grant_type=authorization_code&code=x"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(c.ID, c.Secret)
	resp, err := f.client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("Basic only: %d, want Naver's 200 refusal", resp.StatusCode)
	}
}
