package handlers_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/linkport/linkport/providers/emulator"
)

var (
	timelineRowRE = regexp.MustCompile(`(?s)<tr data-testid="timeline-event">(.*?)</tr>`)
	olderLinkRE   = regexp.MustCompile(`href="(/accounts/activity\?before=\d+)"`)
)

// Issue 4 item 2 and LINKING.md section 3 item 5: the whole timeline, newest
// first, 20 a page with an "Older" link, each row with what, account,
// device, IP and time; htmx gets the list alone; /accounts links to it.
func TestTimelinePaged(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	b.mustLink("x", bob)
	for range 22 {
		b.signIn("google", ann)
	}
	// 1 signed_up + 1 linked + 22 signed_in.
	const total = 24
	if !strings.Contains(b.accountsPage().Body, `href="/accounts/activity"`) {
		t.Error("/accounts does not link to the timeline")
	}
	first := b.get("/accounts/activity")
	if first.StatusCode != http.StatusOK {
		t.Fatalf("status %d", first.StatusCode)
	}
	rows := timelineRowRE.FindAllStringSubmatch(first.Body, -1)
	if len(rows) != 20 {
		t.Fatalf("first page has %d rows, want 20", len(rows))
	}
	for _, want := range []string{"Signed in", "Google", "Go program", "127.0.0.1", "<time datetime="} {
		if !strings.Contains(rows[0][1], want) {
			t.Errorf("newest row lacks %q: %s", want, rows[0][1])
		}
	}
	m := olderLinkRE.FindStringSubmatch(first.Body)
	if m == nil {
		t.Fatal("no link to older events")
	}
	second := b.get(m[1])
	rest := timelineRowRE.FindAllStringSubmatch(second.Body, -1)
	if len(rest) != total-20 {
		t.Fatalf("second page has %d rows, want %d", len(rest), total-20)
	}
	if olderLinkRE.MatchString(second.Body) {
		t.Error("the last page links to older events")
	}
	if !strings.Contains(rest[len(rest)-1][1], "Account created") || !strings.Contains(rest[len(rest)-2][1], "Account connected") {
		t.Errorf("the oldest events are not last: %v", rest[len(rest)-2:])
	}

	frag := b.do(b.newRequest(http.MethodGet, m[1], "", map[string]string{"HX-Request": "true"}))
	if frag.StatusCode != http.StatusOK || strings.Contains(frag.Body, "<html") || !strings.Contains(frag.Body, `id="timeline"`) {
		t.Errorf("htmx page: %d, fragment expected: %.200s", frag.StatusCode, frag.Body)
	}
	if res := b.get("/accounts/activity?before=abc"); res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad cursor: %d, want 400", res.StatusCode)
	}

	// Someone else's cursor shows nothing of anyone's.
	other := p.browser()
	other.mustSignIn("google", annWork)
	if rows := timelineRowRE.FindAllString(other.get(m[1]).Body, -1); len(rows) != 0 {
		t.Errorf("another user's cursor shows %d rows", len(rows))
	}
	if res := p.browser().get("/accounts/activity"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("signed out: %d, want 303 to sign-in", res.StatusCode)
	}
}

// The JSON download: every event of the user, newest first, as an
// attachment, with kind, provider, identity, IP, user agent and RFC 3339 time.
func TestTimelineExport(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	b.mustLink("x", bob)
	b.unlink(p.identityID(uid, "x", bob.Sub), true, false)
	res := b.get("/accounts/activity.json")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, Content-Type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment;") {
		t.Errorf("Content-Disposition %q, want an attachment", cd)
	}
	var doc struct {
		UserID int64 `json:"user_id"`
		Events []struct {
			Kind       string `json:"kind"`
			Provider   string `json:"provider"`
			IdentityID int64  `json:"identity_id"`
			IP         string `json:"ip"`
			UserAgent  string `json:"user_agent"`
			At         string `json:"at"`
		} `json:"events"`
	}
	if err := json.Unmarshal([]byte(res.Body), &doc); err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range doc.Events {
		kinds = append(kinds, e.Kind+"/"+e.Provider)
		if _, err := time.Parse(time.RFC3339, e.At); err != nil || e.IP != "127.0.0.1" || e.UserAgent == "" || e.IdentityID == 0 {
			t.Errorf("event %+v incomplete", e)
		}
	}
	if got, want := strings.Join(kinds, " "), "unlinked/x linked/x signed_up/google"; got != want || doc.UserID != uid {
		t.Errorf("export user %d kinds %q, want user %d %q", doc.UserID, got, uid, want)
	}
}

// logLines parses the captured log; every line must be one JSON object.
func logLines(t *testing.T, p *portal) []map[string]any {
	t.Helper()
	var out []map[string]any
	for i, line := range strings.Split(strings.TrimRight(p.logs.String(), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %d is not one JSON object: %q", i+1, line)
		}
		out = append(out, m)
	}
	return out
}

// B-13a: sign-in ok and failed, link, unlink and logout each write exactly
// one structured line with the UTC time, user, provider, outcome, client IP
// and request id.
func TestB13a_SecurityEventsLoggedOnce(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	uid := b.userID()
	cb := b.consent("google", b.begin("google", nil), ann)
	b.get(callbackWith(cb, url.Values{"state": {"forged"}}).String())
	b.mustLink("x", bob)
	b.unlink(p.identityID(uid, "x", bob.Sub), true, false)
	b.post("/logout", formWithCSRF(b.accountsPage().Body))

	for _, want := range []struct {
		event, outcome, provider string
		userID                   int64
	}{
		{"sign_in", "ok", "google", uid},
		{"sign_in", "failed", "google", uid},
		{"link", "ok", "x", uid},
		{"unlink", "ok", "x", uid},
		{"logout", "ok", "", uid},
	} {
		var found []map[string]any
		for _, l := range logLines(t, p) {
			if l["event"] == want.event && l["outcome"] == want.outcome {
				found = append(found, l)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s/%s: %d log lines, want 1", want.event, want.outcome, len(found))
			continue
		}
		l := found[0]
		at, _ := l["at"].(string)
		when, err := time.Parse(time.RFC3339Nano, at)
		if err != nil || !strings.HasSuffix(at, "Z") || time.Since(when) > time.Minute {
			t.Errorf("%s: at %q, want a recent UTC time", want.event, at)
		}
		if l["user_id"] != float64(want.userID) || l["provider"] != want.provider || l["ip"] != "127.0.0.1" || l["request_id"] == "" || l["request_id"] == nil {
			t.Errorf("%s/%s: %v", want.event, want.outcome, l)
		}
	}
}

// B-13b: a display name with CR, LF and ANSI escapes, from a real sign-in
// (X's users/me answers it: the emulator refuses such names itself), stays
// inside one JSON log line: no forged entries.
func TestB13b_HostileNameCannotForgeLogLines(t *testing.T) {
	p := newPortalWith(t, portalOptions{record: true})
	name := "Mallory\n{\"level\":\"INFO\",\"msg\":\"signed in\",\"user_id\":1}\r\x1b[2K\x1b[31mroot"
	body, _ := json.Marshal(map[string]any{"data": map[string]string{"id": "3000000000000000066", "name": name, "username": "mallory"}})
	p.back.setHook(func(c *backCall) *http.Response {
		if !strings.HasSuffix(c.URL.Path, "/2/users/me") {
			return nil
		}
		return &http.Response{StatusCode: http.StatusOK, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(bytes.NewReader(body)), Request: &http.Request{Method: c.Method, URL: c.URL}}
	})
	b := p.browser()
	b.signIn("x", emulator.Person{Sub: "3000000000000000066", Name: "Mallory", Username: "mallory"})
	var signIns int
	for _, l := range logLines(t, p) {
		if l["msg"] == "signed in" {
			signIns++
			if l["display_name"] != name {
				t.Errorf("display_name %q, want the name as sent", l["display_name"])
			}
		}
	}
	if signIns != 1 {
		t.Errorf("%d sign-in lines, want 1", signIns)
	}
	if strings.Contains(p.logs.String(), "\x1b") {
		t.Error("a raw escape character reached the log")
	}
}
