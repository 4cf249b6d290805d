package accounts

import (
	"fmt"
	"net/url"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on what a provider may put into a profile or a request into Meta.
const (
	maxProviderBytes = 64
	maxSubjectBytes  = 255
	maxNameRunes     = 200
	maxEmailBytes    = 320 // RFC 5321 path limits: 64 local + @ + 255 domain
	maxURLBytes      = 2048
	maxIPBytes       = 64
	maxUserAgent     = 512
)

// cleanProfile checks the key of p and tidies the rest. Provider and Subject
// are opaque and compared byte for byte, so they are checked, not trimmed.
// Display fields are trimmed, stripped of control characters and capped; an
// email or URL that cannot be used whole is dropped rather than cut.
func cleanProfile(p Profile) (Profile, error) {
	if err := checkKey("provider", p.Provider, maxProviderBytes); err != nil {
		return Profile{}, err
	}
	if err := checkKey("subject", p.Subject, maxSubjectBytes); err != nil {
		return Profile{}, err
	}
	p.Name = cleanText(p.Name, maxNameRunes)
	p.Nickname = cleanText(p.Nickname, maxNameRunes)
	p.Email = cleanEmail(p.Email)
	if p.Email == "" {
		p.EmailVerified = false
	}
	p.AvatarURL = cleanURL(p.AvatarURL)
	return p, nil
}

// checkKey reports whether v can be half of an identity key.
func checkKey(field, v string, max int) error {
	switch {
	case v == "":
		return fmt.Errorf("%w: empty %s", ErrInvalidProfile, field)
	case len(v) > max:
		return fmt.Errorf("%w: %s longer than %d bytes", ErrInvalidProfile, field, max)
	case !utf8.ValidString(v):
		return fmt.Errorf("%w: %s is not UTF-8", ErrInvalidProfile, field)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("%w: control character in %s", ErrInvalidProfile, field)
	}
	return nil
}

// cleanText trims s, removes invalid UTF-8, control characters and bidi
// controls (which can make a name display as something else), and keeps at
// most max runes.
func cleanText(s string, max int) string {
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = strings.TrimSpace(string([]rune(s)[:max]))
	}
	return s
}

// cleanEmail trims s and drops it when it is too long, not UTF-8, holds
// control characters or spaces, or has no '@'. It is never used to find a
// user, so no deeper check is needed.
func cleanEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxEmailBytes || !utf8.ValidString(s) ||
		strings.IndexFunc(s, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) >= 0 ||
		!strings.Contains(s, "@") {
		return ""
	}
	return s
}

// cleanURL trims s and drops it unless it is an absolute http or https URL
// with a host, no longer than maxURLBytes.
func cleanURL(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > maxURLBytes {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return ""
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http":
		return s
	}
	return ""
}

// cleanMeta trims and caps what a request says about itself.
func cleanMeta(m Meta) Meta {
	return Meta{
		IP:        capBytes(cleanText(m.IP, maxIPBytes), maxIPBytes),
		UserAgent: capBytes(cleanText(m.UserAgent, maxUserAgent), maxUserAgent),
	}
}

// capBytes cuts s to at most max bytes without splitting a rune.
func capBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
