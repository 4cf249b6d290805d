package views

import (
	"encoding/json"
	"strconv"
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
