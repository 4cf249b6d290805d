package locale_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/views/locale"
)

// rawCatalog reads a message file as plain JSON: key → plural form →
// source ("other" for a plain string).
func rawCatalog(t *testing.T, lang string) map[string]map[string]string {
	t.Helper()
	buf, err := os.ReadFile(filepath.Join("messages", lang+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var raw map[string]any
	if err := json.Unmarshal(buf, &raw); err != nil {
		t.Fatalf("%s.json: %v", lang, err)
	}
	out := map[string]map[string]string{}
	for key, v := range raw {
		switch v := v.(type) {
		case string:
			out[key] = map[string]string{"other": v}
		case map[string]any:
			forms := map[string]string{}
			for form, s := range v {
				str, ok := s.(string)
				if !ok {
					t.Fatalf("%s.json: %s.%s is not a string", lang, key, form)
				}
				forms[form] = str
			}
			out[key] = forms
		default:
			t.Fatalf("%s.json: %s is a %T", lang, key, v)
		}
	}
	return out
}

var templateVar = regexp.MustCompile(`\{\{\s*\.([A-Za-z]+)\s*\}\}`)

// variables lists the {{.Name}}s of every form of a message.
func variables(forms map[string]string) []string {
	seen := map[string]bool{}
	for _, s := range forms {
		for _, m := range templateVar.FindAllStringSubmatch(s, -1) {
			seen[m[1]] = true
		}
	}
	var out []string
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}

// TestCatalogsComplete fails when a key is missing in either language, or
// when a translation uses other template variables than the English text
// (a Korean message that drops {{.Account}} would silently lose it).
func TestCatalogsComplete(t *testing.T) {
	en, ko := rawCatalog(t, locale.English), rawCatalog(t, locale.Korean)
	if len(en) < 100 {
		t.Fatalf("en has %d keys; the catalog did not load", len(en))
	}
	for _, pair := range []struct {
		name     string
		from, to map[string]map[string]string
	}{{"ko", en, ko}, {"en", ko, en}} {
		for key := range pair.from {
			if _, ok := pair.to[key]; !ok {
				t.Errorf("%s.json lacks %q", pair.name, key)
			}
		}
	}
	for key, enForms := range en {
		koForms, ok := ko[key]
		if !ok {
			continue
		}
		if diff := cmp.Diff(variables(enForms), variables(koForms)); diff != "" {
			t.Errorf("%q: template variables differ (-en +ko):\n%s", key, diff)
		}
		for lang, forms := range map[string]map[string]string{"en": enForms, "ko": koForms} {
			if strings.TrimSpace(forms["other"]) == "" {
				t.Errorf("%s %q: no \"other\" form", lang, key)
			}
			for form, s := range forms {
				if strings.Count(s, "{{") != len(templateVar.FindAllString(s, -1)) {
					t.Errorf("%s %q (%s): only {{.Name}} is allowed in a message: %q", lang, key, form, s)
				}
			}
		}
		// English needs its "one" form wherever a count is shown.
		if slices.Contains(variables(enForms), "Count") && enForms["one"] == "" {
			t.Errorf("en %q counts but has no \"one\" form", key)
		}
	}
	// Korean has no plural forms but "other": a "one" would never show.
	for key, forms := range ko {
		if len(forms) > 1 || forms["other"] == "" {
			t.Errorf("ko %q: forms %v, want \"other\" only", key, forms)
		}
	}
}

// TestEveryMessageLocalizes renders every message of both languages with
// every variable filled, through go-i18n, so a template that does not
// parse or a plural that go-i18n cannot pick fails here, not on a page.
func TestEveryMessageLocalizes(t *testing.T) {
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{locale.English, locale.Korean} {
		l := cat.Locale(lang, nil)
		for key, forms := range rawCatalog(t, lang) {
			data := locale.Data{}
			for _, v := range variables(forms) {
				data[v] = "X"
			}
			for _, n := range []int{1, 2} {
				got := l.Tn(key, n, data)
				if got == key || strings.Contains(got, "<no value>") || strings.Contains(got, "{{") {
					t.Errorf("%s %q (count %d) = %q", lang, key, n, got)
				}
			}
		}
	}
}

func TestPlurals(t *testing.T) {
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	en, ko := cat.Locale(locale.English, nil), cat.Locale(locale.Korean, nil)
	for _, tc := range []struct {
		l     *locale.Locale
		count int
		want  string
	}{
		{en, 1, "Signed out 1 other session."},
		{en, 3, "Signed out 3 other sessions."},
		{ko, 1, "다른 세션 1개에서 로그아웃했습니다."},
		{ko, 3, "다른 세션 3개에서 로그아웃했습니다."},
	} {
		if got := tc.l.Tn("notice.other_sessions_signed_out", tc.count, nil); got != tc.want {
			t.Errorf("%s count %d: %q, want %q", tc.l.Lang(), tc.count, got, tc.want)
		}
	}
	if got := en.Td("notice.removed", locale.Data{"Provider": "Google", "Account": "<a@b>"}); got != "Removed your Google account <a@b>." {
		t.Errorf("Td = %q (escaping is the view's job, not the catalog's)", got)
	}
	// A variable the caller forgot shows the key, never "<no value>".
	if got := en.Td("notice.removed", locale.Data{"Provider": "Google"}); got != "notice.removed" {
		t.Errorf("Td with a missing variable = %q, want the key", got)
	}
	if got := en.T("no.such.key"); got != "no.such.key" {
		t.Errorf("T of a missing key = %q, want the key", got)
	}
}

func TestNegotiate(t *testing.T) {
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		cookie, accept, want string
	}{
		{"", "", "en"},
		{"", "ko", "ko"},
		{"", "ko-KR,ko;q=0.9,en-US;q=0.8,en;q=0.7", "ko"},
		{"", "en-GB,en;q=0.9,ko;q=0.8", "en"},
		{"", "ja-JP,ko;q=0.5", "ko"},
		{"", "fr-FR,fr;q=0.9", "en"},
		{"", "*", "en"},
		{"", "not a header ;;; q=x", "en"},
		{"ko", "en-US", "ko"}, // the switcher's choice wins
		{"en", "ko", "en"},
		{"xx", "ko", "ko"},  // an unknown cookie is ignored
		{"KO", "", "en"},    // only the exact codes the switcher sets
		{"ko-KR", "", "en"}, // likewise
	} {
		if got := cat.Negotiate(tc.cookie, tc.accept); got != tc.want {
			t.Errorf("Negotiate(%q, %q) = %q, want %q", tc.cookie, tc.accept, got, tc.want)
		}
	}
}

func TestZone(t *testing.T) {
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"Asia/Seoul", true},
		{"America/Argentina/Buenos_Aires", true},
		{"Etc/GMT+5", true},
		{"UTC", true},
		{"Local", false}, // the server's zone, not the person's
		{"", false},
		{"Not/AZone", false},
		{"../../../etc/passwd", false},
		{"Asia/../Asia/Seoul", false},
		{"/etc/localtime", false},
		{"Asia/Seoul\x00", false},
		{strings.Repeat("A", 65), false},
	} {
		z, ok := cat.Zone(tc.name)
		if ok != tc.ok || (ok && z.String() != tc.name) {
			t.Errorf("Zone(%q) = %v, %v; want ok=%v", tc.name, z, ok, tc.ok)
		}
	}
}

// TestDateTime: dates and times in each language and zone.
func TestDateTime(t *testing.T) {
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	seoul, _ := cat.Zone("Asia/Seoul")
	ny, _ := cat.Zone("America/New_York")
	at := time.Date(2026, 11, 26, 15, 4, 0, 0, time.UTC)
	for _, tc := range []struct {
		lang string
		zone *time.Location
		t    time.Time
		want string
	}{
		{"en", nil, at, "Nov 26, 2026, 3:04 PM UTC"},
		{"ko", nil, at, "2026년 11월 26일 오후 3:04 UTC"},
		{"en", seoul, at, "Nov 27, 2026, 12:04 AM"},
		{"ko", seoul, at, "2026년 11월 27일 오전 12:04"},
		{"en", ny, at, "Nov 26, 2026, 10:04 AM"},
		{"ko", ny, at, "2026년 11월 26일 오전 10:04"},
		{"ko", nil, time.Date(2026, 1, 2, 12, 30, 0, 0, time.UTC), "2026년 1월 2일 오후 12:30 UTC"},
		{"ko", nil, time.Date(2026, 1, 2, 0, 5, 0, 0, time.UTC), "2026년 1월 2일 오전 12:05 UTC"},
		{"en", nil, time.Date(2026, 1, 2, 0, 5, 0, 0, time.UTC), "Jan 2, 2026, 12:05 AM UTC"},
		// Summer time in New York: the zone's offset of that day, not of today.
		{"en", ny, time.Date(2026, 7, 1, 15, 4, 0, 0, time.UTC), "Jul 1, 2026, 11:04 AM"},
	} {
		l := cat.Locale(tc.lang, tc.zone)
		if got := l.DateTime(tc.t); got != tc.want {
			t.Errorf("%s %v DateTime(%v) = %q, want %q", tc.lang, tc.zone, tc.t, got, tc.want)
		}
	}
	day := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	for lang, want := range map[string]string{"en": "December 3, 2026", "ko": "2026년 12월 3일"} {
		// A calendar day stays that day whatever the zone.
		if got := cat.Locale(lang, ny).Date(day); got != want {
			t.Errorf("%s Date = %q, want %q", lang, got, want)
		}
	}
	// Through a context, as views call it; without one, English and UTC.
	ctx := locale.With(context.Background(), cat.Locale("ko", seoul))
	if got := locale.DateTime(ctx, at); got != "2026년 11월 27일 오전 12:04" {
		t.Errorf("DateTime(ctx) = %q", got)
	}
	if got := locale.DateTime(context.Background(), at); got != "Nov 26, 2026, 3:04 PM UTC" {
		t.Errorf("DateTime without a Locale = %q", got)
	}
}
