package handlers_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// TestProfileHeaderFollowsAnHTMXChange: the htmx answer to a change carries
// the profile header out of band, so "Signed in as" shows the new display
// name at once, after choosing another source and after removing the
// source (the fallback), as the notice says. Found by the browser journey
// TestJourneyProfileSources: the header kept the old name until a reload.
func TestProfileHeaderFollowsAnHTMXChange(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	page := b.mustLink("facebook", annFB)
	fbID := p.identityID(b.userID(), "facebook", annFB.Sub)
	token := formWithCSRF(page.Body)["csrf_token"][0]
	const oobHeader = `<div id="profile" class="profile" hx-swap-oob="true">`

	res := b.postHTMX("/accounts/profile", token, url.Values{"display_name": {strconv.FormatInt(fbID, 10)}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, oobHeader) {
		t.Fatalf("htmx profile change: %d, header out of band: %v", res.StatusCode, strings.Contains(res.Body, oobHeader))
	}
	if got := displayName(res.Body); got != annFB.Name {
		t.Errorf("after choosing Facebook the header says %q, want %q", got, annFB.Name)
	}

	res = b.unlinkWith(token, fbID, true, true)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.Body, oobHeader) {
		t.Fatalf("htmx unlink: %d, header out of band: %v", res.StatusCode, strings.Contains(res.Body, oobHeader))
	}
	if got := displayName(res.Body); got != ann.Name {
		t.Errorf("after removing the Facebook account that gave the name, the header says %q, want %q", got, ann.Name)
	}
}
