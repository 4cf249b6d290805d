package emulator

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/markbates/goth"
	"github.com/markbates/goth/providers/facebook"
)

// rewriteHosts sends requests for the real providers' hosts to the
// emulator, the way the portal's provider wrappers do (SECURITY.md H2).
type rewriteHosts struct {
	hosts map[string]string // real host → emulator URL prefix
	next  http.RoundTripper
}

func (rw rewriteHosts) RoundTrip(req *http.Request) (*http.Response, error) {
	if prefix, ok := rw.hosts[req.URL.Host]; ok {
		u, err := url.Parse(prefix + req.URL.Path)
		if err != nil {
			return nil, err
		}
		u.RawQuery = req.URL.RawQuery
		req = req.Clone(req.Context())
		req.URL, req.Host = u, u.Host
	}
	return rw.next.RoundTrip(req)
}

// gothFacebook is goth's own Facebook provider, talking to the emulator
// in-process through Transport.
func gothFacebook(f *fixture) *facebook.Provider {
	c := testClients["facebook"]
	p := facebook.New(c.ID, c.Secret, c.RedirectURI)
	p.HTTPClient = &http.Client{Transport: rewriteHosts{
		hosts: map[string]string{
			"www.facebook.com":   f.e.baseURL + "/facebook",
			"graph.facebook.com": f.e.baseURL + "/facebook",
		},
		next: f.e.Transport(failTransport{}),
	}}
	return p
}

// failTransport fails any request that would leave the process.
type failTransport struct{}

func (failTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, &url.Error{Op: req.Method, URL: req.URL.String(), Err: http.ErrNotSupported}
}

func TestFacebookWithGothProvider(t *testing.T) {
	f := newFixture(t)
	p := gothFacebook(f)
	sess, err := p.BeginAuth("state-fb")
	if err != nil {
		t.Fatal(err)
	}
	authURL, _ := sess.GetAuthURL()
	u, _ := url.Parse(authURL)
	q := f.approve(t, "facebook", u.Query(), Person{Name: "Grace Hopper", Email: "grace@example.com"})
	if q.Get("state") != "state-fb" || q.Has("iss") {
		t.Fatalf("callback query %v: want state-fb and no iss", q)
	}
	if _, err := sess.Authorize(p, goth.Params(q)); err != nil {
		t.Fatalf("goth Authorize: %v", err)
	}
	user, err := p.FetchUser(sess)
	if err != nil {
		t.Fatalf("goth FetchUser: %v", err)
	}
	people, _ := f.e.People(context.Background(), "facebook")
	if len(people) != 1 || len(people[0].Sub) != 16 {
		t.Fatalf("People = %+v, want one with a 16-digit id", people)
	}
	got := goth.User{UserID: user.UserID, Name: user.Name, FirstName: user.FirstName, LastName: user.LastName,
		Email: user.Email, AvatarURL: user.AvatarURL, Provider: user.Provider}
	want := goth.User{UserID: people[0].Sub, Name: "Grace Hopper", FirstName: "Grace", LastName: "Hopper",
		Email: "grace@example.com", AvatarURL: f.e.baseURL + "/avatar/facebook/" + people[0].Sub + ".svg", Provider: "facebook"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("goth user (-want +got):\n%s", diff)
	}
	if _, ok := user.RawData["email_verified"]; ok {
		t.Error("Facebook never says whether an email is verified")
	}
	if got := f.e.Hits("facebook", "me"); got != 1 {
		t.Errorf("me hits = %d, want 1", got)
	}
}

func TestFacebookMe(t *testing.T) {
	f := newFixture(t)
	q := f.approve(t, "facebook", url.Values{
		"client_id": {"facebook-client"}, "redirect_uri": {testClients["facebook"].RedirectURI},
		"response_type": {"code"}, "scope": {"public_profile"}, "state": {"s"},
	}, Person{Name: "No Mail"})
	status, tok := facebookToken(t, f, url.Values{"code": {q.Get("code")}})
	if status != 200 {
		t.Fatalf("token: %d %v", status, tok)
	}
	access := tok["access_token"].(string)
	get := func(query string, header string) (int, map[string]any) {
		req, _ := http.NewRequest("GET", f.srv.URL+"/facebook/me?"+query, nil)
		if header != "" {
			req.Header.Set("Authorization", header)
		}
		resp, err := f.client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	status, me := get("fields=id,name,email&access_token="+url.QueryEscape(access), "")
	if _, hasEmail := me["email"]; status != 200 || hasEmail || me["name"] != "No Mail" {
		t.Errorf("me = %d %v, want name and no email", status, me)
	}
	if status, _ := get("access_token="+url.QueryEscape(access)+"&appsecret_proof=00", ""); status != 400 {
		t.Errorf("bad appsecret_proof: status %d, want 400", status)
	}
	if status, me := get("fields=name", "Bearer "+access); status != 200 || me["name"] != "No Mail" {
		t.Errorf("Bearer: %d %v", status, me)
	}
	if status, _ := get("fields=name", "Bearer nope"); status != 401 {
		t.Errorf("unknown token: status %d, want 401", status)
	}
}

// facebookToken calls the Facebook token endpoint with GET, as old
// clients do, filling in the client and redirect URI.
func facebookToken(t *testing.T, f *fixture, v url.Values) (int, map[string]any) {
	t.Helper()
	c := testClients["facebook"]
	for k, s := range map[string]string{"client_id": c.ID, "client_secret": c.Secret, "redirect_uri": c.RedirectURI} {
		if !v.Has(k) {
			v.Set(k, s)
		}
	}
	resp, err := f.client().Get(f.srv.URL + "/facebook/oauth/access_token?" + v.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	return resp.StatusCode, m
}
