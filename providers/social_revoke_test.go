package providers

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"
	"time"
)

// Removing a Kakao, Naver or GitHub account ends the grant at the
// provider (A-13d), with the credentials each documents. The portal hands
// Revoke the refresh token when it kept one; Kakao and Naver need an
// access token, so the refresh token is first traded for one.
func TestKakaoNaverGitHubRevoke(t *testing.T) {
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(clientOf("github")+":"+secretOf("github")))
	for _, tc := range []struct {
		name, kind, token string
		check             func(t *testing.T, f *fakePlain)
	}{
		{"kakao with the refresh token", "kakao", plainRefresh, func(t *testing.T, f *fakePlain) {
			refresh := f.tokenForms[0]
			if refresh.Get("grant_type") != "refresh_token" || refresh.Get("refresh_token") != plainRefresh || refresh.Get("client_secret") != secretOf("kakao") {
				t.Errorf("refresh request %v", refresh)
			}
			if r := f.revokeReqs[0]; r.method != http.MethodPost || r.auth != "Bearer refreshed-access" {
				t.Errorf("unlink: %s with %q, want POST with the refreshed access token", r.method, r.auth)
			}
		}},
		{"kakao with an access token", "kakao", plainAccess, func(t *testing.T, f *fakePlain) {
			if r := f.revokeReqs[0]; r.auth != "Bearer "+plainAccess {
				t.Errorf("unlink Authorization %q, want the access token itself", r.auth)
			}
		}},
		{"naver with the refresh token", "naver", plainRefresh, func(t *testing.T, f *fakePlain) {
			d := f.revokeReqs[0]
			if d.method != http.MethodPost || d.form.Get("grant_type") != "delete" || d.form.Get("access_token") != "refreshed-access" ||
				d.form.Get("service_provider") != "NAVER" || d.form.Get("client_id") != clientOf("naver") || d.form.Get("client_secret") != secretOf("naver") {
				t.Errorf("delete request %s %v", d.method, d.form)
			}
		}},
		{"github", "github", plainAccess, func(t *testing.T, f *fakePlain) {
			r := f.revokeReqs[0]
			if r.method != http.MethodDelete || r.auth != basic || r.body != `{"access_token":"`+plainAccess+`"}` {
				t.Errorf("grant deletion: %s auth %q body %s", r.method, r.auth, r.body)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePlain(t, tc.kind)
			p := f.provider(t, 2*time.Second)
			if err := p.Revoke(context.Background(), tc.token); err != nil {
				t.Fatalf("Revoke: %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if f.revokeHits != 1 {
				t.Fatalf("revocation endpoint hits = %d, want 1", f.revokeHits)
			}
			tc.check(t, f)
		})
	}
}

// A refused or failed revocation is reported with its kind and without
// the token or client secret; a missing token is unsupported.
func TestKakaoNaverGitHubRevokeFailures(t *testing.T) {
	for _, tc := range []struct {
		name, kind string
		h          http.HandlerFunc
		want       error
	}{
		{"kakao unlink 401", "kakao", status(401, `{"msg":"this access token does not exist","code":-401}`), ErrRejected},
		{"kakao unlink 500", "kakao", status(500, `{}`), ErrUnavailable},
		{"naver error with 200", "naver", status(200, `{"error":"invalid_request","error_description":"no valid data in session"}`), ErrRejected},
		{"naver garbage", "naver", jsonBody(`<html>`), ErrBadResponse},
		{"github unknown token", "github", status(404, `{"message":"Not Found"}`), ErrRejected},
		{"github slow", "github", hang, ErrTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakePlain(t, tc.kind)
			f.set(func(f *fakePlain) { f.revokeH = tc.h })
			err := f.provider(t, 300*time.Millisecond).Revoke(context.Background(), plainAccess)
			assertKind(t, err, tc.want)
			assertNoSecrets(t, err, plainAccess, "refreshed-access", secretOf(tc.kind))
		})
	}
	for _, kind := range plainKinds {
		p := newFakePlain(t, kind).provider(t, time.Second)
		if err := p.Revoke(context.Background(), ""); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s: Revoke(\"\") = %v, want ErrUnsupported", kind, err)
		}
	}
}
