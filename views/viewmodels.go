// Package views holds the templ components that render Linkport's screens.
// Components take the small view-model structs declared here, never
// database rows or provider types, so a screen can be rendered and tested
// on its own. Their words come from the catalogs of package locale, in the
// language of the Locale that the rendering context carries; times are
// time.Time values that the views format in that Locale's language and
// zone.
package views

import "time"

// Layout is what every full page needs besides its own content.
type Layout struct {
	Title     string
	CSRFToken string
	// Assets maps a logical asset name ("app.css", "htmx.min.js") to its
	// content-hashed URL.
	Assets   map[string]string
	SignedIn bool
	// Next is the local path the switchers return to: this page.
	Next string
	// Theme is the colour scheme the person chose: "light" or "dark"; ""
	// follows the browser's prefers-color-scheme.
	Theme string
}

// Asset returns the hashed URL of a logical asset name.
func (l Layout) Asset(name string) string {
	if u, ok := l.Assets[name]; ok {
		return u
	}
	return "/static/" + name
}

// ProviderButton is one choice on the login page.
type ProviderButton struct {
	Name  string // URL name: google, facebook, x, or a configured OIDC name
	Label string // "Google", "X (Twitter)"
	Icon  string // hashed icon URL
	// Unavailable marks a provider whose recent sign-ins failed at the
	// provider: shown as "temporarily unavailable", still usable.
	Unavailable bool
}

// LoginPage is the provider chooser.
type LoginPage struct {
	Providers []ProviderButton
	Next      string // local return path, carried in a hidden field
	Notice    string // e.g. "You are signed out."
}

// IdentityView is one connected account on the accounts page.
type IdentityView struct {
	ID            int64
	Provider      string
	ProviderLabel string
	Icon          string
	Name          string
	Nickname      string
	Email         string
	EmailVerified bool
	AvatarURL     string
	LinkedAt      time.Time
	LastUsedAt    time.Time
	Current       bool // the identity this session signed in with
}

// AccountsPage is "Connected accounts".
type AccountsPage struct {
	DisplayName string
	AvatarURL   string
	Connected   ConnectedSection
	Providers   []ProviderButton // "link another account" choices
	Activity    []EventView      // the newest security events
}

// ConnectedSection is the part of the accounts page that htmx replaces
// after a change: a notice, the list, and the profile choices.
type ConnectedSection struct {
	Notice        string
	NoticeIsError bool
	Identities    []IdentityView
	NameSource    int64 // identity that supplies the display name
	AvatarSource  int64 // identity that supplies the avatar
	// DisplayName and AvatarURL are the profile as it is after a change,
	// for the header that ConnectedUpdate sends along.
	DisplayName string
	AvatarURL   string
}

// EventView is one line of the security activity.
type EventView struct {
	What     string
	Provider string
	IP       string
	At       time.Time
}

// LinkConfirmPage previews the provider account about to be connected.
type LinkConfirmPage struct {
	ID      string
	Account IdentityView
}

// ConflictPage explains that the provider account belongs to another
// Linkport account, and offers the ways on.
type ConflictPage struct {
	ID      string
	Account IdentityView
}

// MergePage previews a merge of the other account into this one.
type MergePage struct {
	ID         string
	Account    IdentityView // the provider account that revealed the other account
	Moving     []IdentityView
	Keeping    []IdentityView
	Events     int
	KeepName   string
	KeepAvatar string
	Problem    string
}

// ErrorPage is the friendly page shown for every failure.
type ErrorPage struct {
	Status    int
	Heading   string
	Message   string
	ActionURL string // where the way back leads (a local path)
	Action    string // its label
	RequestID string
}
