package handlers_test

import (
	"bufio"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// metricsOf scrapes /metrics and returns each sample line's value by its
// series, e.g. `linkport_sign_ins_total{provider="google"}`.
func metricsOf(t *testing.T, p *portal) map[string]float64 {
	t.Helper()
	res := p.browser().get("/metrics")
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	if sc := res.Header.Values("Set-Cookie"); len(sc) != 0 {
		t.Errorf("/metrics sets cookies %q: it must not touch sessions", sc)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(res.Body))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q", line)
		}
		out[line[:i]] = v
	}
	return out
}

// /metrics counts sign-ins, links, removals and failures by provider and
// reason; request latency by route pattern and status class, never by the
// path as sent; and the time of session store and index calls.
func TestMetrics(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.mustSignIn("google", ann)
	b.mustLink("facebook", annFB)
	uid := b.userID()
	fb := p.identityID(uid, "facebook", annFB.Sub)
	if res := b.unlink(fb, true, false); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("unlink: %d", res.StatusCode)
	}
	// Failures: an unknown state at Google, a made-up provider in the
	// path, removing the last account.
	b.get("/auth/google/callback?code=c&state=nope")
	b.get("/auth/no-such-provider-12345/callback?code=c&state=nope")
	b.unlink(p.identityID(uid, "google", ann.Sub), true, false)
	b.get("/accounts/identities/987654/unlink") // GET on a POST route
	b.get("/no/such/page/424242")

	m := metricsOf(t, p)
	for series, want := range map[string]float64{
		`linkport_sign_ins_total{provider="google"}`:                                                 1,
		`linkport_links_total{provider="facebook"}`:                                                  1,
		`linkport_unlinks_total{provider="facebook"}`:                                                1,
		`linkport_auth_failures_total{event="sign_in",provider="google",reason="unknown_state"}`:     1,
		`linkport_auth_failures_total{event="sign_in",provider="unknown",reason="unknown_provider"}`: 1,
		`linkport_auth_failures_total{event="unlink",provider="unknown",reason="last_identity"}`:     1,
		// Two successful callbacks (sign-in, link) and two failed ones,
		// one with a made-up provider: one route.
		`linkport_http_request_duration_seconds_count{method="GET",route="/auth/:provider/callback",status="3xx"}`: 4,
		// The 405 and the 404 match no route.
		`linkport_http_request_duration_seconds_count{method="GET",route="unmatched",status="4xx"}`: 2,
	} {
		if got := m[series]; got != want {
			t.Errorf("%s = %v, want %v", series, got, want)
		}
	}
	for _, series := range []string{
		`linkport_http_request_duration_seconds_count{method="GET",route="/accounts",status="2xx"}`,
		`linkport_http_request_duration_seconds_count{method="POST",route="/accounts/identities/:id/unlink",status="3xx"}`,
		`linkport_http_request_duration_seconds_count{method="POST",route="/accounts/identities/:id/unlink",status="4xx"}`,
	} {
		if m[series] < 1 {
			t.Errorf("%s not counted", series)
		}
	}
	// No index_get: on SQLite the index row is read with the session
	// (session_find, one statement for both).
	for _, op := range []string{"session_find", "session_commit", "index_start", "index_rotate"} {
		if m[`linkport_store_seconds_count{op="`+op+`"}`] < 1 {
			t.Errorf("no %s timed", op)
		}
	}
	for series := range m {
		for _, raw := range []string{"987654", "424242", "no-such-provider-12345", "nope"} {
			if strings.Contains(series, raw) {
				t.Errorf("series %s holds %q from a request", series, raw)
			}
		}
	}
	// A portal's metrics are its own: another one has counted nothing.
	if got := metricsOf(t, newPortal(t))[`linkport_sign_ins_total{provider="google"}`]; got != 0 {
		t.Errorf("a new portal counts %v sign-ins: the registry is shared", got)
	}
}

var requestIDField = regexp.MustCompile(`"request_id":"([0-9a-f]{24})"`)

// Every log line of a request carries its request id, once: the access
// line, audit lines, and errors logged deep in the handlers.
func TestLogLinesCarryRequestID(t *testing.T) {
	br := &breaker{err: sqliteCantOpen(t)}
	p := newBrokenPortal(t, br)
	b := p.browser()
	b.mustSignIn("google", ann)
	b.get("/auth/google/callback?code=c&state=nope")
	br.down(true)
	b.get("/accounts")
	b.get("/readyz")
	br.down(false)
	br.accounts.Store(true)
	res := b.get("/accounts")
	br.accounts.Store(false)

	lines := strings.Split(strings.TrimSpace(p.logs.String()), "\n")
	if len(lines) < 10 {
		t.Fatalf("only %d log lines", len(lines))
	}
	for _, l := range lines {
		if n := len(requestIDField.FindAllString(l, -1)); n != 1 || strings.Count(l, `"request_id"`) != 1 {
			t.Errorf("%d request ids in %s", n, l)
		}
	}
	// The failed page's reference finds its lines: the access line and
	// the error.
	ref := res.Header.Get("X-Request-ID")
	var msgs []string
	for _, l := range lines {
		if strings.Contains(l, `"request_id":"`+ref+`"`) {
			msgs = append(msgs, regexp.MustCompile(`"msg":"([^"]*)"`).FindStringSubmatch(l)[1])
		}
	}
	if strings.Join(msgs, ",") != "request failed,request" {
		t.Errorf("lines of request %s: %q, want the error and the access line", ref, msgs)
	}
}
