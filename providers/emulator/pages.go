package emulator

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The pages use no script and no inline style: the portal's CSP forbids
// both and the emulator is served under the portal's origin.
const pageTemplates = `
{{define "head"}}<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{{.Title}}</title>
<link rel="stylesheet" href="{{.Base}}/emulator.css">
</head>
<body>
<header><p class="banner" role="note" data-testid="emulator-banner"><strong>Local provider emulator — not the real {{.Provider}}.</strong> For development and tests only.</p></header>
<main>
{{end}}

{{define "hidden"}}{{range .Hidden}}<input type="hidden" name="{{.Name}}" value="{{.Value}}">
{{end}}{{end}}

{{define "consent"}}{{template "head" .}}
<h1>Sign in with {{.Provider}} (emulated)</h1>
<p>The application <code data-testid="emulator-client">{{.ClientID}}</code> wants to know who you are.
It will be sent back to <code>{{.RedirectURI}}</code>.</p>
{{if .Scopes}}<p>It asks for:</p>
<ul data-testid="emulator-scopes">{{range .Scopes}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{if .Error}}<p class="error" role="alert" data-testid="emulator-error">{{.Error}}</p>{{end}}

{{if .People}}<section aria-labelledby="people-heading">
<h2 id="people-heading">Continue as someone already here</h2>
<form method="post" action="{{.Action}}">
{{template "hidden" .}}<ul class="people">
{{range .People}}<li><button type="submit" name="person" value="{{.Sub}}" data-testid="emulator-person">{{.Name}}{{if .Email}} &lt;{{.Email}}&gt;{{end}}{{if .Username}} @{{.Username}}{{end}}</button> <small>sub {{.Sub}}</small></li>
{{end}}</ul>
</form>
</section>{{end}}

<section aria-labelledby="new-heading">
<h2 id="new-heading">Continue as a new person</h2>
<form method="post" action="{{.Action}}">
{{template "hidden" .}}<p><label for="emulator-name">Name</label>
<input id="emulator-name" name="name" type="text" maxlength="200" autocomplete="off"></p>
<p><label for="emulator-email">Email</label>
<input id="emulator-email" name="email" type="email" maxlength="254" autocomplete="off"></p>
<p><input id="emulator-email-verified" name="email_verified" type="checkbox" value="on" checked>
<label for="emulator-email-verified">Email address is verified{{if eq .ProviderName "facebook"}} (Facebook never tells the application){{else if eq .ProviderName "naver"}} (Naver never tells the application){{end}}</label></p>
{{if or (eq .ProviderName "kakao") (eq .ProviderName "naver") (eq .ProviderName "github")}}<p><input id="emulator-share-email" name="share_email" type="checkbox" value="on" checked>
<label for="emulator-share-email">Share the email address with the application (unchecked: {{.Provider}} gives it none, as for a person who declines the email item or has no verified address)</label></p>
{{end}}{{if or (eq .ProviderName "x") (eq .ProviderName "github") (eq .ProviderName "naver")}}<p><label for="emulator-username">{{if eq .ProviderName "naver"}}Nickname{{else}}Username{{end}} (optional)</label>
<input id="emulator-username" name="username" type="text" maxlength="50" autocomplete="off"></p>
{{end}}<p><label for="emulator-sub">Subject / user id (optional; generated when empty)</label>
<input id="emulator-sub" name="sub" type="text" maxlength="255" autocomplete="off"></p>
<p><button type="submit" data-testid="emulator-continue">Continue</button></p>
</form>
</section>

<form method="post" action="{{.Action}}">
{{template "hidden" .}}<p><button type="submit" name="deny" value="1" data-testid="emulator-cancel">Cancel</button></p>
</form>
</main>
</body>
</html>
{{end}}

{{define "error"}}{{template "head" .}}
<h1>{{.Provider}} (emulated) refused the request</h1>
<p class="error" role="alert" data-testid="emulator-error"><code>{{.Code}}</code>: {{.Description}}</p>
<p>The application sent a request this provider would not accept, so you are not sent back to it.</p>
</main>
</body>
</html>
{{end}}
`

// stylesheet is served at /emulator.css; plain and loud, so nobody mistakes
// the page for the real provider. Its controls are 44 px touch targets,
// as the portal's are.
const stylesheet = `body{font-family:system-ui,sans-serif;max-width:40rem;margin:0 auto;padding:1rem;line-height:1.4}
.banner{background:#ffe14d;border:3px dashed #a00;padding:.75rem;color:#000}
.error{background:#fdd;border:1px solid #a00;padding:.5rem}
.people{list-style:none;padding:0}.people li{margin:.25rem 0}
button,input{font:inherit;min-height:44px;max-width:100%}
button{min-width:44px;padding:.3rem .8rem;cursor:pointer}
input[type=checkbox]{min-height:0;width:1.5rem;height:1.5rem;vertical-align:middle}
label{display:inline-block;min-width:8rem}
code{overflow-wrap:anywhere}`

// pages holds the parsed templates.
type pages struct{ t *template.Template }

func newPages() (*pages, error) {
	t, err := template.New("emulator").Parse(pageTemplates)
	if err != nil {
		return nil, fmt.Errorf("emulator: parse templates: %w", err)
	}
	return &pages{t: t}, nil
}

type field struct{ Name, Value string }

// pageView is the view model of both pages.
type pageView struct {
	Title, Base, Provider, ProviderName string
	// consent page
	Action, ClientID, RedirectURI, Error string
	Scopes                               []string
	Hidden                               []field
	People                               []Person
	// error page
	Code, Description string
}

func (e *Emulator) render(w http.ResponseWriter, status int, name string, v pageView) {
	var buf bytes.Buffer
	if err := e.pages.t.ExecuteTemplate(&buf, name, v); err != nil {
		http.Error(w, "emulator: cannot render page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// The emulator's own policy, as a provider has its own: no script at
	// all. No form-action: the consent form's redirect goes back to the
	// portal, on another site (K15).
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// renderConsent shows who may sign in, carrying the request in hidden fields.
func (e *Emulator) renderConsent(w http.ResponseWriter, r *http.Request, status int, a authRequest, msg string) {
	people, err := e.People(r.Context(), a.prov.name)
	if err != nil {
		e.errorPage(w, http.StatusInternalServerError, a.prov, "server_error", "the emulator could not list people")
		return
	}
	var hidden []field
	for k, vs := range a.values() {
		hidden = append(hidden, field{k, vs[0]})
	}
	sort.Slice(hidden, func(i, j int) bool { return hidden[i].Name < hidden[j].Name })
	e.render(w, status, "consent", pageView{
		Title: "Sign in with " + a.prov.title + " (emulator)", Base: e.baseURL,
		Provider: a.prov.title, ProviderName: a.prov.name,
		Action: e.url(a.prov.authorizePath), ClientID: a.ClientID, RedirectURI: a.RedirectURI,
		Scopes: a.scopes(), Hidden: hidden, People: people, Error: msg,
	})
}

func (e *Emulator) errorPage(w http.ResponseWriter, status int, prov provider, code, description string) {
	e.render(w, status, "error", pageView{
		Title: prov.title + " emulator: error", Base: e.baseURL, Provider: prov.title, ProviderName: prov.name,
		Code: code, Description: description,
	})
}

func (e *Emulator) stylesheet(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	_, _ = w.Write([]byte(stylesheet))
}

// avatarURL is the picture of a person: a real URL, because the portal
// stores and shows it like a provider's.
func (e *Emulator) avatarURL(p Person) string {
	return e.url("/avatar/" + p.Provider + "/" + url.PathEscape(p.Sub) + ".svg")
}

var avatarSVG = template.Must(template.New("avatar").Parse(`<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96" role="img" aria-label="{{.Name}}">` +
	`<circle cx="48" cy="48" r="48" fill="{{.Color}}"/>` +
	`<text x="48" y="60" font-family="sans-serif" font-size="36" text-anchor="middle" fill="#fff">{{.Initials}}</text></svg>`))

// avatar serves GET /avatar/{provider}/{sub}.svg: initials on a colour
// derived from the subject, so different people look different.
func (e *Emulator) avatar(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("provider")
	sub, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	if _, known := e.clients[name]; !known || !ok {
		writeError(w, http.StatusNotFound, "not_found", "no such avatar")
		return
	}
	p, err := e.person(r.Context(), name, sub)
	if err != nil {
		writeError(w, http.StatusNotFound, "not_found", "no such avatar")
		return
	}
	h := sha256.Sum256([]byte(p.Provider + "/" + p.Sub))
	var buf bytes.Buffer
	err = avatarSVG.Execute(&buf, map[string]string{
		"Name": p.Name, "Initials": initials(p.Name),
		"Color": fmt.Sprintf("hsl(%d,55%%,40%%)", int(h[0])*360/256),
	})
	if err != nil {
		http.Error(w, "emulator: cannot render avatar", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// An SVG opened directly is a document; make sure it can never run
	// anything.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; sandbox")
	_, _ = w.Write(buf.Bytes())
}

// initials returns up to two capital initials of a name.
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, unicode.ToUpper(r))
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}
