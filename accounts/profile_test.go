package accounts

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCleanProfile(t *testing.T) {
	base := Profile{Provider: "google", Subject: " sub "}
	with := func(f func(p *Profile)) Profile {
		p := base
		f(&p)
		return p
	}
	for _, tc := range []struct {
		name    string
		in, out Profile
	}{
		{"subject kept byte for byte", base, base},
		{
			"text trimmed and stripped",
			with(func(p *Profile) { p.Name, p.Nickname = " \tAda\r\n", "\u200fnick\u202a " }),
			with(func(p *Profile) { p.Name, p.Nickname = "Ada", "nick" }),
		},
		{
			"name capped at 200 runes",
			with(func(p *Profile) { p.Name = strings.Repeat("ß", 300) }),
			with(func(p *Profile) { p.Name = strings.Repeat("ß", 200) }),
		},
		{
			"invalid UTF-8 removed from name",
			with(func(p *Profile) { p.Name = "A\xffda" }),
			with(func(p *Profile) { p.Name = "Ada" }),
		},
		{
			"email trimmed, verified kept",
			with(func(p *Profile) { p.Email, p.EmailVerified = "  a@example.com ", true }),
			with(func(p *Profile) { p.Email, p.EmailVerified = "a@example.com", true }),
		},
		{
			"email without @ dropped with its verification",
			with(func(p *Profile) { p.Email, p.EmailVerified = "not-an-email", true }),
			base,
		},
		{
			"email with inner space dropped",
			with(func(p *Profile) { p.Email, p.EmailVerified = "a b@example.com", true }),
			base,
		},
		{
			"email over 320 bytes dropped",
			with(func(p *Profile) { p.Email, p.EmailVerified = strings.Repeat("a", 310)+"@example.com", true }),
			base,
		},
		{
			"empty email is never verified",
			with(func(p *Profile) { p.EmailVerified = true }),
			base,
		},
		{
			"https avatar kept",
			with(func(p *Profile) { p.AvatarURL = " https://example.com/a.png?s=96 " }),
			with(func(p *Profile) { p.AvatarURL = "https://example.com/a.png?s=96" }),
		},
		{
			"http avatar kept, scheme case-insensitive",
			with(func(p *Profile) { p.AvatarURL = "HTTP://example.com/a.png" }),
			with(func(p *Profile) { p.AvatarURL = "HTTP://example.com/a.png" }),
		},
		{"javascript avatar dropped", with(func(p *Profile) { p.AvatarURL = "javascript:alert(1)" }), base},
		{"data avatar dropped", with(func(p *Profile) { p.AvatarURL = "data:image/png;base64,AAAA" }), base},
		{"relative avatar dropped", with(func(p *Profile) { p.AvatarURL = "//example.com/a.png" }), base},
		{"avatar without host dropped", with(func(p *Profile) { p.AvatarURL = "https:///a.png" }), base},
		{
			"avatar over 2048 bytes dropped",
			with(func(p *Profile) { p.AvatarURL = "https://example.com/" + strings.Repeat("a", 2048) }),
			base,
		},
	} {
		got, err := cleanProfile(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if diff := cmp.Diff(tc.out, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}

func TestCleanMeta(t *testing.T) {
	got := cleanMeta(Meta{IP: " 192.0.2.1 ", UserAgent: "agent\r\nX-Injected: 1" + strings.Repeat("é", 400)})
	if got.IP != "192.0.2.1" {
		t.Errorf("IP = %q", got.IP)
	}
	if strings.ContainsAny(got.UserAgent, "\r\n") || len(got.UserAgent) > maxUserAgent {
		t.Errorf("UserAgent = %q (%d bytes), want no control characters and at most %d bytes",
			got.UserAgent, len(got.UserAgent), maxUserAgent)
	}
}
