package providers

import "testing"

// A-07b/c at the provider level: only an OIDC provider's own issuer is
// accepted, exactly; OAuth 2.0 providers accept none.
func TestAcceptsIssuer(t *testing.T) {
	g, err := NewOIDC(Google(Common{ClientID: "id", ClientSecret: "s", CallbackURL: "https://portal.example/auth/google/callback"}))
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewX(XConfig{Common: Common{ClientID: "id", ClientSecret: "s", CallbackURL: "https://portal.example/auth/x/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    *Provider
		iss  string
		want bool
	}{
		{g, "https://accounts.google.com", true},
		{g, "https://accounts.google.com/", false},
		{g, "https://evil.example", false},
		{g, "", false},
		{x, "https://accounts.google.com", false},
		{x, "", false},
	} {
		if got := tc.p.AcceptsIssuer(tc.iss); got != tc.want {
			t.Errorf("%s.AcceptsIssuer(%q) = %v, want %v", tc.p.Name(), tc.iss, got, tc.want)
		}
	}
}

// "Not you?" asks the provider for its account chooser where it has one.
func TestWithAccountChooser(t *testing.T) {
	c := func(name string) Common {
		return Common{ClientID: "id", ClientSecret: "s", CallbackURL: "https://portal.example/auth/" + name + "/callback"}
	}
	g, _ := NewOIDC(Google(c("google")))
	fb, _ := NewFacebook(FacebookConfig{Common: c("facebook")})
	x, _ := NewX(XConfig{Common: c("x")})
	const auth = "https://idp.example/authorize?state=s&prompt=none"
	for _, tc := range []struct {
		p    *Provider
		want string
	}{
		{g, "https://idp.example/authorize?prompt=select_account&state=s"},
		{fb, "https://idp.example/authorize?auth_type=reauthenticate&prompt=none&state=s"},
		{x, auth},
	} {
		if got := tc.p.WithAccountChooser(auth); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.p.Name(), got, tc.want)
		}
	}
}
