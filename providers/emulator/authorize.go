package emulator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
)

// authRequest is a validated authorization request.
type authRequest struct {
	prov          provider
	ClientID      string
	RedirectURI   string
	ResponseType  string
	Scope         string
	State         string
	Nonce         string
	CodeChallenge string
	ChallengeMeth string
}

// authParams are the request parameters the emulator understands and
// carries from the consent page to its POST. Others (prompt, access_type,
// login_hint...) are accepted and ignored, as the real providers mostly do.
var authParams = []string{"client_id", "redirect_uri", "response_type", "scope", "state", "nonce", "code_challenge", "code_challenge_method"}

// values returns the request as parameters, for the consent form's hidden
// fields.
func (a authRequest) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{
		"client_id": a.ClientID, "redirect_uri": a.RedirectURI, "response_type": a.ResponseType,
		"scope": a.Scope, "state": a.State, "nonce": a.Nonce,
		"code_challenge": a.CodeChallenge, "code_challenge_method": a.ChallengeMeth,
	} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// scopes splits the scope parameter the way the provider separates it.
func (a authRequest) scopes() []string {
	return strings.FieldsFunc(a.Scope, func(r rune) bool { return r == ' ' || (a.prov.scopeSep == "," && r == ',') })
}

// authError is a refused authorization request. When the client and
// redirect URI are not trustworthy the error is shown to the person and the
// browser is not redirected (RFC 6749 §4.1.2.1); otherwise it goes back to
// the client as error=...&state=...
type authError struct {
	redirect    bool
	code        string
	description string
}

func (e *authError) Error() string { return e.code + ": " + e.description }

// s256Challenge is the shape of BASE64URL(SHA256(verifier)).
var s256Challenge = regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`)

// maxParam bounds every parameter so a hostile request cannot make the
// emulator store or render megabytes.
const maxParam = 2048

// parseAuthRequest validates an authorization request against the
// registered client. It runs for the GET and again for the consent POST:
// the hidden fields come back from the browser and are not trusted.
func parseAuthRequest(prov provider, c Client, v url.Values) (authRequest, *authError) {
	for _, k := range []string{"client_id", "redirect_uri"} {
		if len(v[k]) > 1 {
			return authRequest{prov: prov}, &authError{code: "invalid_request", description: k + " appears more than once"}
		}
	}
	a := authRequest{prov: prov, ClientID: v.Get("client_id"), RedirectURI: v.Get("redirect_uri")}
	switch {
	case a.ClientID == "":
		return authRequest{prov: prov}, &authError{code: "invalid_request", description: "client_id is missing"}
	case a.ClientID != c.ID:
		return authRequest{prov: prov}, &authError{code: "invalid_client", description: fmt.Sprintf("no %s client has the id %q", prov.title, a.ClientID)}
	case a.RedirectURI == "":
		return authRequest{prov: prov}, &authError{code: "invalid_request", description: "redirect_uri is missing"}
	case a.RedirectURI != c.RedirectURI:
		return authRequest{prov: prov}, &authError{code: "redirect_uri_mismatch", description: fmt.Sprintf("redirect_uri %q is not the registered %q", a.RedirectURI, c.RedirectURI)}
	}
	// From here on the redirect URI is the registered one: errors go back
	// to the client. Keep the state even when the request is otherwise bad.
	a.State = v.Get("state")
	fail := func(code, format string, args ...any) (authRequest, *authError) {
		return a, &authError{redirect: true, code: code, description: fmt.Sprintf(format, args...)}
	}
	for _, k := range authParams {
		if len(v[k]) > 1 { // RFC 6749 §3.1: parameters MUST NOT repeat
			return fail("invalid_request", "%s appears more than once", k)
		}
		if len(v.Get(k)) > maxParam {
			return fail("invalid_request", "%s is longer than %d bytes", k, maxParam)
		}
	}
	a.ResponseType, a.Scope, a.Nonce = v.Get("response_type"), v.Get("scope"), v.Get("nonce")
	a.CodeChallenge, a.ChallengeMeth = v.Get("code_challenge"), v.Get("code_challenge_method")
	switch {
	case prov.name != "facebook" && a.ResponseType == "":
		return fail("invalid_request", "response_type is missing")
	case a.ResponseType != "code" && !(prov.name == "facebook" && a.ResponseType == ""):
		return fail("unsupported_response_type", "only response_type=code is supported, not %q", a.ResponseType)
	case a.CodeChallenge == "" && a.ChallengeMeth != "":
		return fail("invalid_request", "code_challenge_method without code_challenge")
	case a.CodeChallenge != "" && a.ChallengeMeth != "S256":
		return fail("invalid_request", "code_challenge_method must be S256 (plain is not accepted), got %q", a.ChallengeMeth)
	case a.CodeChallenge != "" && !s256Challenge.MatchString(a.CodeChallenge):
		return fail("invalid_request", "code_challenge must be 43 base64url characters (an S256 hash)")
	case prov.requirePKCE && a.CodeChallenge == "":
		return fail("invalid_request", "%s requires PKCE: code_challenge and code_challenge_method=S256", prov.title)
	case prov.name != "facebook" && !prov.noScope && strings.TrimSpace(a.Scope) == "":
		return fail("invalid_request", "scope is missing")
	}
	return a, nil
}

// errorRedirect builds the client redirect that carries a refusal.
func (e *Emulator) errorRedirect(a authRequest, ae *authError, f Fault) string {
	v := url.Values{"error": {ae.code}, "error_description": {ae.description}}
	return e.redirectTo(a, v, f)
}

// redirectTo appends the answer to the registered redirect URI, keeping
// its own query, adding state and (Google) iss, then the fault's changes.
func (e *Emulator) redirectTo(a authRequest, answer url.Values, f Fault) string {
	u, _ := url.Parse(a.RedirectURI) // checked by New
	q := u.Query()
	for k, vs := range answer {
		q[k] = vs
	}
	if a.State != "" {
		q.Set("state", a.State)
	}
	if a.prov.sendsIss {
		q.Set("iss", e.Issuer()) // RFC 9207, which the real Google sends too
	}
	for k, vs := range f.RedirectParams {
		if len(vs) == 0 || (len(vs) == 1 && vs[0] == "") {
			q.Del(k)
			continue
		}
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// approve issues a code for person and returns the redirect carrying it.
func (e *Emulator) approve(ctx context.Context, a authRequest, p Person, f Fault) (string, error) {
	now := e.now()
	c := authCode{
		Code: randomToken(32), Provider: a.prov.name, ClientID: a.ClientID, RedirectURI: a.RedirectURI,
		Sub: p.Sub, Scope: a.Scope, Nonce: a.Nonce, CodeChallenge: a.CodeChallenge,
		Created: now, Expires: now.Add(codeTTL),
	}
	if err := e.saveCode(ctx, c); err != nil {
		return "", err
	}
	return e.redirectTo(a, url.Values{"code": {c.Code}}, f), nil
}

// Approve does what submitting the consent page does, for tests that want
// a code without a browser: authorizeQuery is the query of the authorize
// URL the portal built. A zero person means the person pressed Cancel
// (error=access_denied). A person whose Sub exists at the provider signs in
// as that person; otherwise the person is created. The returned URL is the
// portal callback. A request the provider would refuse returns an error,
// and also the error redirect when the provider would send one. Approve
// counts no hit but honours the authorize endpoint's RedirectParams fault.
func (e *Emulator) Approve(ctx context.Context, provider string, authorizeQuery url.Values, person Person) (string, error) {
	c, err := e.client(provider)
	if err != nil {
		return "", err
	}
	prov := providers[provider]
	f := e.fault(provider, "authorize")
	a, ae := parseAuthRequest(prov, c, authorizeQuery)
	if ae != nil {
		if ae.redirect {
			return e.errorRedirect(a, ae, f), fmt.Errorf("%w: %v", ErrInvalidRequest, ae)
		}
		return "", fmt.Errorf("%w: %v", ErrInvalidRequest, ae)
	}
	if person == (Person{}) {
		return e.errorRedirect(a, &authError{code: "access_denied", description: "the person cancelled"}, f), nil
	}
	if person.Provider != "" && person.Provider != provider {
		return "", fmt.Errorf("%w: person belongs to %s, not %s", ErrInvalidPerson, person.Provider, provider)
	}
	person.Provider = provider
	p, err := e.person(ctx, provider, person.Sub)
	if errors.Is(err, errNoPerson) {
		p, err = e.AddPerson(ctx, person)
	}
	if err != nil {
		return "", err
	}
	return e.approve(ctx, a, p, f)
}

// authorizePage serves GET authorize: validate, then ask who signs in.
func (e *Emulator) authorizePage(name string) http.HandlerFunc {
	prov := providers[name]
	return func(w http.ResponseWriter, r *http.Request) {
		c := e.clients[name]
		a, ae := parseAuthRequest(prov, c, r.URL.Query())
		if ae != nil {
			e.refuse(w, r, a, ae)
			return
		}
		e.renderConsent(w, r, http.StatusOK, a, "")
	}
}

// authorizeSubmit serves POST authorize, the consent form.
func (e *Emulator) authorizeSubmit(name string) http.HandlerFunc {
	prov := providers[name]
	return func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			e.errorPage(w, http.StatusBadRequest, prov, "invalid_request", "the form could not be read")
			return
		}
		form := r.PostForm // never the URL query: the form alone is the request
		c := e.clients[name]
		a, ae := parseAuthRequest(prov, c, form)
		if ae != nil {
			e.refuse(w, r, a, ae)
			return
		}
		f := faultFrom(r.Context())
		if form.Get("deny") != "" {
			http.Redirect(w, r, e.errorRedirect(a, &authError{code: "access_denied", description: "the person cancelled"}, f), http.StatusSeeOther)
			return
		}
		var p Person
		var err error
		if sub := form.Get("person"); sub != "" {
			p, err = e.person(r.Context(), name, sub)
			if errors.Is(err, errNoPerson) {
				e.renderConsent(w, r, http.StatusBadRequest, a, "That person does not exist any more; pick another.")
				return
			}
		} else {
			p, err = e.AddPerson(r.Context(), Person{
				Provider: name, Sub: form.Get("sub"), Name: form.Get("name"), Email: form.Get("email"),
				EmailVerified: form.Get("email_verified") == "on", Username: form.Get("username"),
			})
			if errors.Is(err, ErrInvalidPerson) || errors.Is(err, ErrPersonExists) {
				e.renderConsent(w, r, http.StatusBadRequest, a, strings.TrimPrefix(err.Error(), "emulator: "))
				return
			}
		}
		if err != nil {
			e.errorPage(w, http.StatusInternalServerError, prov, "server_error", "the emulator could not read or save the person")
			return
		}
		to, err := e.approve(r.Context(), a, p, f)
		if err != nil {
			e.errorPage(w, http.StatusInternalServerError, prov, "server_error", "the emulator could not save the code")
			return
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	}
}

// refuse answers a bad authorization request: an error page when the
// redirect URI cannot be trusted, else a redirect carrying the error.
func (e *Emulator) refuse(w http.ResponseWriter, r *http.Request, a authRequest, ae *authError) {
	if !ae.redirect {
		e.errorPage(w, http.StatusBadRequest, a.prov, ae.code, ae.description)
		return
	}
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	http.Redirect(w, r, e.errorRedirect(a, ae, faultFrom(r.Context())), status)
}
