package views

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/a-h/templ"
)

// csrfHeaders builds the hx-headers JSON that sends the CSRF token with
// every htmx request.
func csrfHeaders(token string) string {
	b, _ := json.Marshal(map[string]string{"X-CSRF-Token": token})
	return string(b)
}

// initials returns up to two upper-case initials for an avatar placeholder.
func initials(name string) string {
	out := []rune{}
	take := true
	for _, r := range name {
		if r == ' ' {
			take = true
			continue
		}
		if take && len(out) < 2 {
			out = append(out, r)
		}
		take = false
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

func itoa(n int) string { return strconv.Itoa(n) }

func identityElementID(id int64) string { return "identity-" + strconv.FormatInt(id, 10) }

func unlinkURL(id int64) templ.SafeURL {
	return templ.SafeURL("/accounts/identities/" + strconv.FormatInt(id, 10) + "/unlink")
}

// Label names a provider account for a person: email, else handle, else
// name.
func (v IdentityView) Label() string {
	switch {
	case v.Email != "":
		return v.Email
	case v.Nickname != "":
		return "@" + v.Nickname
	}
	return v.Name
}

// DisplayOr is the name a provider account would give the profile.
func (v IdentityView) DisplayOr() string {
	if v.Name != "" {
		return v.Name
	}
	return v.Label()
}

// navLink is one link of the signed-in navigation: a path and the
// catalog key of its words.
type navLink struct{ Path, Key string }

// navLinks are the pages of the signed-in navigation, in reading order.
func navLinks() []navLink {
	return []navLink{
		{"/accounts", "nav.accounts"},
		{"/accounts/sessions", "nav.sessions"},
		{"/accounts/activity", "nav.activity"},
	}
}

// currentPath is the path of a page's own URL (Layout.Next), without its
// query, for aria-current: page 2 of the timeline is still the timeline.
func currentPath(next string) string {
	path, _, _ := strings.Cut(next, "?")
	return path
}

// themeChoice is one button of the theme switcher: the value it posts
// and the catalog key of its words.
type themeChoice struct{ Value, Key string }

// themeChoices are the theme switcher's buttons; "system" follows the
// browser's prefers-color-scheme.
func themeChoices() []themeChoice {
	return []themeChoice{
		{"system", "layout.theme_system"},
		{"light", "layout.theme_light"},
		{"dark", "layout.theme_dark"},
	}
}

// themeOrSystem is the theme switcher's current choice for Layout.Theme.
func themeOrSystem(theme string) string {
	if theme == "" {
		return "system"
	}
	return theme
}
