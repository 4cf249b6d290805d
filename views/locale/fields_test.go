package locale

import (
	"regexp"
	"testing"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
)

// reference is what go-i18n with a strict text/template gives, the way
// every message was rendered before the fast path.
func reference(l *Locale, key string, data Data, count any) string {
	cfg := &i18n.LocalizeConfig{MessageID: key, PluralCount: count, TemplateParser: strict, TemplateData: data}
	s, _ := l.loc.Localize(cfg)
	if s == "" {
		return key
	}
	return s
}

var fieldName = regexp.MustCompile(`{{\s*\.(\w+)\s*}}`)

// TestFieldsMatchGoI18n: for every message with data in both catalogs,
// Td and Tn give exactly what go-i18n's text/template gives, for data of
// strings, ints and other types, and show the key when a field is
// missing.
func TestFieldsMatchGoI18n(t *testing.T) {
	cat, err := New()
	if err != nil {
		t.Fatal(err)
	}
	checked, fast := 0, 0
	for _, lang := range []string{English, Korean} {
		l := cat.Locale(lang, nil)
		fast += len(cat.fields[lang])
		for key, srcs := range cat.Sources(lang) {
			names := map[string]bool{}
			for _, src := range srcs {
				for _, m := range fieldName.FindAllStringSubmatch(src, -1) {
					names[m[1]] = true
				}
			}
			if len(names) == 0 {
				continue
			}
			fills := []func(string) any{
				func(n string) any { return "<" + n + "> & 값" },
				func(n string) any { return len(n) },
				func(n string) any { return 90 * time.Minute },
				func(string) any { return nil },
			}
			for _, fill := range fills {
				data := Data{}
				for n := range names {
					if n != "Count" {
						data[n] = fill(n)
					}
				}
				if got, want := l.Td(key, data), reference(l, key, data, nil); got != want {
					t.Errorf("%s Td(%q, %v) = %q, want %q", lang, key, data, got, want)
				}
				for _, n := range []int{0, 1, 2, 5, 21} {
					d := Data{"Count": n}
					for k, v := range data {
						d[k] = v
					}
					if got, want := l.Tn(key, n, data), reference(l, key, d, n); got != want {
						t.Errorf("%s Tn(%q, %d, %v) = %q, want %q", lang, key, n, data, got, want)
					}
				}
				checked++
			}
			// A field missing from the data shows the key, as before.
			for missing := range names {
				data := Data{}
				for n := range names {
					if n != missing {
						data[n] = "x"
					}
				}
				if missing != "Count" {
					if got := l.Td(key, data); got != key || reference(l, key, data, nil) != key {
						t.Errorf("%s Td(%q) without %s = %q, want the key", lang, key, missing, got)
					}
				}
			}
		}
	}
	if checked < 100 || fast < 40 {
		t.Errorf("checked %d cases, %d messages on the fast path; is the catalog still read?", checked, fast)
	}
}

func TestSplitFields(t *testing.T) {
	for src, ok := range map[string]bool{
		"Hi {{.Name}}!":            true,
		"{{.A}}{{.B}}":             true,
		"{{ .Name }}":              false,
		"{{.Name | printf \"x\"}}": false,
		"{{if .A}}a{{end}}":        false,
		"{{- .A}}":                 false,
		"{{.A.B}}":                 false,
		"{{.A":                     false,
		"plain":                    false,
	} {
		if _, got := splitFields(src); got != ok {
			t.Errorf("splitFields(%q) = %v, want %v", src, got, ok)
		}
	}
}
