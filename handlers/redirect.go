package handlers

import (
	"net/url"
	"strings"
)

// safeReturnPath returns next if it is a path on this site, else "/". It
// refuses anything a browser could read as another origin: a scheme,
// "//host", "/\host", backslashes, and control characters, including ones
// hidden behind percent-encoding (SECURITY.md A-09).
func safeReturnPath(next string) string {
	const fallback = "/"
	if next == "" || len(next) > 1024 || next[0] != '/' {
		return fallback
	}
	if len(next) > 1 && (next[1] == '/' || next[1] == '\\') {
		return fallback
	}
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return fallback
		}
	}
	decoded, err := url.PathUnescape(next)
	if err != nil {
		return fallback
	}
	if decoded != next && safeReturnPath(decoded) == fallback && decoded != fallback {
		return fallback
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") {
		return fallback
	}
	return next
}
