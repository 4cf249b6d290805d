package views

import (
	"encoding/json"
	"strconv"

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
