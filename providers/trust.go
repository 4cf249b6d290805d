package providers

import (
	"crypto/rand"
	"encoding/base64"

	"github.com/markbates/goth"
)

// maxSubjectBytes is the longest subject (OIDC sub, X or Facebook id) we
// accept: OIDC Core §2 caps sub at 255 ASCII characters, and the identities
// table relies on a bound.
const maxSubjectBytes = 255

// EmailVerified applies the provider's trust policy to a user returned by its
// FetchUser: true only when the provider is trusted to verify email addresses
// (Google and OIDC providers configured with TrustEmailVerified) and the
// verified ID token or userinfo said email_verified is true (a JSON true, or
// the string "true" that some providers send) for the same address as
// u.Email. Kakao and GitHub have rules of their own (kakaoEmailVerified,
// githubEmailVerified). Facebook, X and Naver never verify: an unverified
// address must not let anyone take over an account by email (C-02, C-08).
func (p *Provider) EmailVerified(u goth.User) bool {
	if !p.trustEmailVerified || u.Email == "" || u.Provider != p.Name() {
		return false
	}
	if p.verifyEmail != nil {
		return p.verifyEmail(u)
	}
	if email, _ := u.RawData["email"].(string); email != u.Email {
		return false
	}
	return claimTrue(u.RawData["email_verified"])
}

// kakaoEmailVerified is Kakao's rule: kakao_account must say the address
// is verified and also valid. Kakao marks an address invalid once another
// Kakao account has taken it over, so a verified but invalid address may
// now belong to someone else.
func kakaoEmailVerified(u goth.User) bool {
	account, _ := u.RawData["kakao_account"].(map[string]any)
	email, _ := account["email"].(string)
	return email == u.Email && account["is_email_verified"] == true && account["is_email_valid"] == true
}

// githubEmailVerified is GitHub's rule: the address must be one that
// /user/emails listed as verified. The public email of /user says nothing
// about verification on its own.
func githubEmailVerified(u goth.User) bool {
	verified, _ := u.RawData[githubEmailsKey].([]any)
	for _, v := range verified {
		if v == u.Email {
			return true
		}
	}
	return false
}

// claimTrue reports whether a JSON claim value means true.
func claimTrue(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return v == "true"
	}
	return false
}

// claimString returns a claim that is a JSON string, and "" for any other
// type, so that a wrong-typed claim can never panic (K3).
func claimString(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// validSubject reports whether id can identify a user: non-empty and within
// maxSubjectBytes.
func validSubject(id string) bool {
	return id != "" && len(id) <= maxSubjectBytes
}

// randomToken returns 32 random bytes, base64url without padding: the nonce
// format (256 bits, well over RFC 6749 §10.10's 128).
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
