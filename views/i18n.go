package views

import (
	"context"
	"io"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/linkport/linkport/views/locale"
)

// slots are the components that go in place of a message's variables:
// "Signed in as {{.Name}}" with Name a <strong>. The words around them
// come from the catalog, so each language puts them where its grammar
// wants.
type slots = map[string]templ.Component

// slotMark brackets a slot's name in the localized text: a control
// character no message contains, and msg takes it out of the data.
const slotMark = "\x1f"

// msg renders the message key with data, each slot's component in place
// of its variable; the text around the slots is escaped.
func msg(key string, data locale.Data, s slots) templ.Component {
	return templ.ComponentFunc(func(ctx context.Context, w io.Writer) error {
		d := make(locale.Data, len(data)+len(s))
		for k, v := range data {
			if str, ok := v.(string); ok {
				v = strings.ReplaceAll(str, slotMark, "")
			}
			d[k] = v
		}
		for name := range s {
			d[name] = slotMark + name + slotMark
		}
		for i, part := range strings.Split(locale.Td(ctx, key, d), slotMark) {
			if c, ok := s[part]; ok && i%2 == 1 {
				if err := c.Render(ctx, w); err != nil {
					return err
				}
				continue
			}
			if _, err := io.WriteString(w, templ.EscapeString(part)); err != nil {
				return err
			}
		}
		return nil
	})
}

// isoTime is the datetime attribute of a <time>: the instant, in UTC.
func isoTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// buttonText is a provider button's words: the brand's own wording where
// the catalog has it ("Sign in with GitHub", "카카오 로그인"), else
// "Continue with {label}".
func buttonText(ctx context.Context, b ProviderButton) string {
	key := "login.button." + b.Name
	if l := locale.From(ctx); l != nil && l.Has(key) {
		return l.T(key)
	}
	return locale.Td(ctx, "login.button_generic", locale.Data{"Label": b.Label})
}

// unavailableID is the id of a provider button's "temporarily
// unavailable" note; list tells the lists of one page apart.
func unavailableID(list, provider string) string { return list + "-unavailable-" + provider }

// providerData is the template data naming a provider account: its
// provider and who it is.
func providerData(v IdentityView) locale.Data {
	return locale.Data{"Provider": v.ProviderLabel, "Account": v.Label()}
}

// zoneName is the time zone the person chose, "" before prefs.js told us.
func zoneName(ctx context.Context) string {
	if l := locale.From(ctx); l != nil {
		return l.ZoneName()
	}
	return ""
}

// pressed is an aria-pressed value.
func pressed(on bool) string {
	if on {
		return "true"
	}
	return "false"
}

// emailState says what the provider shared about an account's email:
// "verified", "unverified" or "none".
func emailState(v IdentityView) string {
	switch {
	case v.Email == "":
		return "none"
	case v.EmailVerified:
		return "verified"
	}
	return "unverified"
}

// emailNote says in words what the provider shared and what it means.
func emailNote(ctx context.Context, v IdentityView) string {
	d := locale.Data{"Provider": v.ProviderLabel}
	switch emailState(v) {
	case "none":
		return locale.Td(ctx, "identity.no_email_note", d)
	case "verified":
		return locale.Td(ctx, "identity.email_verified_note", d)
	}
	return locale.Td(ctx, "identity.email_unverified_note", d)
}
