package providers

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// status answers with a status and a JSON body.
func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		fmt.Fprint(w, body)
	}
}

// hang answers only when the client gives up.
func hang(w http.ResponseWriter, r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-time.After(30 * time.Second):
	}
}

// huge is a valid JSON object of more than 1 MiB.
var huge = `{"access_token":"a","token_type":"bearer","id":1,"padding":"` + strings.Repeat("x", maxBodyBytes+10) + `"}`

// Every way a token or profile endpoint can fail ends in exactly one
// sentinel, never a panic, and never with a secret in the error text
// (E-01, E-03, A-13).
func TestKakaoNaverGitHubFaults(t *testing.T) {
	type fault struct {
		name     string
		endpoint string // "token" or "user"
		h        http.HandlerFunc
		want     error
	}
	common := []fault{
		{"token 500", "token", status(500, `{"error":"server_error"}`), ErrUnavailable},
		{"token 503 html", "token", func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "<html>down</html>", http.StatusServiceUnavailable)
		}, ErrUnavailable},
		{"token 400 invalid_grant quoting the code", "token", status(400, `{"error":"invalid_grant","error_description":"authorization code not found for code=`+plainCode+`"}`), ErrRejected},
		{"token 200 with an error", "token", status(200, `{"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."}`), ErrRejected},
		{"token truncated JSON", "token", jsonBody(`{"access_token":"a","token_type":`), ErrBadResponse},
		{"token html 200", "token", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, "<html><body>maintenance</body></html>")
		}, ErrBadResponse},
		{"token without access_token", "token", jsonBody(`{"token_type":"bearer"}`), ErrBadResponse},
		{"token access_token a number", "token", jsonBody(`{"access_token":12,"token_type":"bearer"}`), ErrBadResponse},
		{"token type mac", "token", jsonBody(`{"access_token":"a","token_type":"mac"}`), ErrBadResponse},
		{"token huge", "token", jsonBody(huge), ErrBadResponse},
		{"token redirect", "token", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "https://evil.example/token", http.StatusFound)
		}, ErrUnavailable},
		{"user 500", "user", status(500, `{}`), ErrUnavailable},
		{"user 401", "user", status(401, `{"msg":"this access token does not exist","code":-401}`), ErrRejected},
		{"user truncated", "user", jsonBody(`{"id":`), ErrBadResponse},
		{"user html", "user", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, `{"id":1}`)
		}, ErrBadResponse},
		{"user huge", "user", jsonBody(huge), ErrBadResponse},
		{"user array", "user", jsonBody(`[1,2]`), ErrBadResponse},
		{"user null", "user", jsonBody(`null`), ErrBadResponse},
	}
	specific := map[string][]fault{
		"kakao": {
			{"id a string", "user", jsonBody(`{"id":"1234"}`), ErrBadResponse},
			{"id missing", "user", jsonBody(`{"kakao_account":{"email":"a@b.example"}}`), ErrBadResponse},
			{"id zero", "user", jsonBody(`{"id":0}`), ErrBadResponse},
			{"id fractional", "user", jsonBody(`{"id":1.5}`), ErrBadResponse},
			{"id beyond int64", "user", jsonBody(`{"id":99999999999999999999}`), ErrBadResponse},
			{"email flag a string", "user", jsonBody(`{"id":1,"kakao_account":{"email":"a@b.example","is_email_verified":"true"}}`), ErrBadResponse},
			{"profile a string", "user", jsonBody(`{"id":1,"kakao_account":{"profile":"Ryan"}}`), ErrBadResponse},
		},
		"naver": {
			{"resultcode 024 with 200", "user", jsonBody(`{"resultcode":"024","message":"Authentication failed"}`), ErrRejected},
			{"resultcode missing", "user", jsonBody(`{"response":{"id":"1"}}`), ErrBadResponse},
			{"no response", "user", jsonBody(`{"resultcode":"00","message":"success"}`), ErrBadResponse},
			{"resultcode a number", "user", jsonBody(`{"resultcode":0,"response":{"id":"1"}}`), ErrBadResponse},
			{"id a number", "user", jsonBody(`{"resultcode":"00","response":{"id":1}}`), ErrBadResponse},
			{"id empty", "user", jsonBody(`{"resultcode":"00","response":{"id":""}}`), ErrBadResponse},
			{"id too long", "user", jsonBody(`{"resultcode":"00","response":{"id":"` + strings.Repeat("n", 256) + `"}}`), ErrBadResponse},
			{"email an object", "user", jsonBody(`{"resultcode":"00","response":{"id":"1","email":{}}}`), ErrBadResponse},
		},
		"github": {
			{"id a string", "user", jsonBody(`{"id":"583231","login":"octocat"}`), ErrBadResponse},
			{"id missing", "user", jsonBody(`{"login":"octocat"}`), ErrBadResponse},
			{"login a number", "user", jsonBody(`{"id":1,"login":7}`), ErrBadResponse},
			{"email a number", "user", jsonBody(`{"id":1,"email":7}`), ErrBadResponse},
		},
	}
	for _, kind := range plainKinds {
		for _, tc := range append(common, specific[kind]...) {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				f := newFakePlain(t, kind)
				f.set(func(f *fakePlain) {
					if tc.endpoint == "token" {
						f.tokenH = tc.h
					} else {
						f.userH = tc.h
					}
				})
				_, _, err := f.run(t, f.provider(t, 2*time.Second))
				assertKind(t, err, tc.want)
				assertNoSecrets(t, err, plainCode, plainAccess, plainRefresh, secretOf(kind))
				if err != nil && strings.Contains(err.Error(), "?") {
					t.Errorf("error %q quotes a URL query", err)
				}
				f.mu.Lock()
				defer f.mu.Unlock()
				if f.tokenHits != 1 {
					t.Errorf("token endpoint hits = %d, want exactly 1: a failed exchange is never retried (A-11a)", f.tokenHits)
				}
				if tc.endpoint == "token" && f.userHits != 0 {
					t.Errorf("profile endpoint called %d times after a failed exchange", f.userHits)
				}
			})
		}
	}
}

// A provider that does not answer costs at most the client timeout, and
// the error is ErrTimeout without the token (E-02, A-13c).
func TestKakaoNaverGitHubTimeouts(t *testing.T) {
	const timeout = 300 * time.Millisecond
	for _, kind := range plainKinds {
		for _, endpoint := range []string{"token", "user"} {
			t.Run(kind+"/"+endpoint, func(t *testing.T) {
				f := newFakePlain(t, kind)
				f.set(func(f *fakePlain) {
					if endpoint == "token" {
						f.tokenH = hang
					} else {
						f.userH = hang
					}
				})
				start := time.Now()
				_, _, err := f.run(t, f.provider(t, timeout))
				if d := time.Since(start); d > timeout+2*time.Second {
					t.Errorf("took %v with a %v timeout", d, timeout)
				}
				assertKind(t, err, ErrTimeout)
				assertNoSecrets(t, err, plainCode, plainAccess, secretOf(kind))
			})
		}
	}
}

// A redirect from the token endpoint is not followed: the code and the
// client secret never reach the redirect's target (A-15b).
func TestKakaoNaverGitHubTokenRedirectNotFollowed(t *testing.T) {
	for _, kind := range plainKinds {
		t.Run(kind, func(t *testing.T) {
			hits := make(chan struct{}, 1)
			evil := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits <- struct{}{} }))
			defer evil.Close()
			f := newFakePlain(t, kind)
			f.set(func(f *fakePlain) {
				f.tokenH = func(w http.ResponseWriter, r *http.Request) {
					http.Redirect(w, r, evil.URL+"/token", http.StatusTemporaryRedirect)
				}
			})
			_, _, err := f.run(t, f.provider(t, 2*time.Second))
			assertKind(t, err, ErrUnavailable)
			select {
			case <-hits:
				t.Error("the redirect target received the token request")
			default:
			}
		})
	}
}
