package locale_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/linkport/linkport/views/locale"
)

// The code that asks for messages: the templ views and the handlers.
var codeGlobs = []string{"../*.templ", "../*.go", "../../handlers/*.go"}

var (
	// callKey finds the key of T(ctx, "k"), Td(ctx, "k", ...), Tn(ctx,
	// "k", ...) (locale.T, l.T, ...) and of the views' msg("k", ...).
	callKey = regexp.MustCompile(`\b(?:T|Td|Tn)\(\s*[A-Za-z_][\w.()]*\s*,\s*"([^"]*)"|\bmsg\(\s*"([^"]*)"`)
	// literal is any double-quoted string without escapes.
	literal = regexp.MustCompile(`"([a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+\.?)"`)
)

// TestKeysInCodeExist scans the views and handlers for the message keys
// they use and fails on one that is in neither catalog. Keys passed as
// arguments (a problem's heading, a page title, an event's words) are
// caught as string literals that start with one of the catalog's
// namespaces ("error.", "event.", ...); a literal ending in "." is a
// prefix the code completes ("login.button." + provider), and must start
// some key.
func TestKeysInCodeExist(t *testing.T) {
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	en, ko := cat.Sources(locale.English), cat.Sources(locale.Korean)
	namespaces := map[string]bool{}
	for key := range en {
		ns, _, _ := strings.Cut(key, ".")
		namespaces[ns] = true
	}
	var files []string
	for _, g := range codeGlobs {
		m, err := filepath.Glob(g)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			if !strings.HasSuffix(f, "_test.go") && !strings.HasSuffix(f, "_templ.go") {
				files = append(files, f)
			}
		}
	}
	if len(files) < 20 {
		t.Fatalf("found only %d files to scan: %v", len(files), files)
	}
	used := map[string]string{} // key → where
	for _, f := range files {
		buf, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src := string(buf)
		for _, m := range callKey.FindAllStringSubmatch(src, -1) {
			used[m[1]+m[2]] = f
		}
		for _, m := range literal.FindAllStringSubmatch(src, -1) {
			ns, _, _ := strings.Cut(m[1], ".")
			if namespaces[ns] {
				used[m[1]] = f
			}
		}
	}
	if len(used) < 150 {
		t.Errorf("found only %d keys in the code; is the scan still finding the calls?", len(used))
	}
	for key, where := range used {
		for lang, msgs := range map[string]map[string][]string{"en": en, "ko": ko} {
			if strings.HasSuffix(key, ".") {
				if !hasPrefix(msgs, key) {
					t.Errorf("%s uses keys %q…, but %s has none", where, key, lang)
				}
				continue
			}
			if _, ok := msgs[key]; !ok {
				t.Errorf("%s uses %q, missing in %s", where, key, lang)
			}
		}
	}
}

func hasPrefix(msgs map[string][]string, prefix string) bool {
	for k := range msgs {
		if strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

// TestBrandedButtons: every provider Linkport ships has its brand's own
// button wording in both languages; others get the generic one.
func TestBrandedButtons(t *testing.T) {
	cat, err := locale.New()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{
		"google":   {"Continue with Google", "Google 계정으로 계속하기"},
		"facebook": {"Continue with Facebook", "Facebook으로 계속하기"},
		"x":        {"Continue with X", "X로 계속하기"},
		"github":   {"Sign in with GitHub", "GitHub로 로그인"},
		"kakao":    {"Login with Kakao", "카카오 로그인"},
		"naver":    {"Log in with NAVER", "네이버 로그인"},
	}
	for name, w := range want {
		for i, lang := range []string{locale.English, locale.Korean} {
			if got := cat.Locale(lang, nil).T("login.button." + name); got != w[i] {
				t.Errorf("%s %s button = %q, want %q", lang, name, got, w[i])
			}
		}
	}
	if got := cat.Locale(locale.Korean, nil).Td("login.button_generic", locale.Data{"Label": "Corp SSO"}); got != "Corp SSO 계정으로 계속하기" {
		t.Errorf("generic ko button = %q", got)
	}
}
