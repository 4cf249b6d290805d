// Package locale holds Linkport's message catalogs (English and Korean)
// and what a request needs to read them: the language chosen for it, its
// time zone, and the functions that views and handlers call to get their
// words (T, Td, Tn) and their dates (DateTime, Date) in that language.
//
// The catalogs are go-i18n message files embedded in the binary. A Catalog
// is built once at start and never changes; each request carries a Locale
// in its context.Context, so a templ component reads its words with
// T(ctx, "login.heading") like any other value of the request.
package locale

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"maps"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/nicksnyder/go-i18n/v2/i18n"
	"github.com/nicksnyder/go-i18n/v2/i18n/template"
	"golang.org/x/text/language"
)

// The languages Linkport speaks, as cookie values and <html lang>.
const (
	English = "en"
	Korean  = "ko"
)

// Language is one choice of the language switcher.
type Language struct {
	Code string // "en"
	Name string // the language named in itself: "English", "한국어"
}

// Languages lists the languages of the switcher, the default first.
func Languages() []Language {
	return []Language{{English, "English"}, {Korean, "한국어"}}
}

//go:embed messages/*.json
var files embed.FS

// Data is the template data of a message: {{.Name}} reads Data{"Name": ...}.
type Data = map[string]any

// Catalog is the loaded catalogs and the language matcher. It is built
// once by New and safe for concurrent use.
type Catalog struct {
	bundle  *i18n.Bundle
	matcher language.Matcher
	codes   []string                   // Languages' codes, in the matcher's order
	locs    map[string]*i18n.Localizer // one per language, shared by requests
	plain   map[string]map[string]string
	// fields holds, per language, the messages of one form whose
	// template is only {{.Name}} fields, split ready for Td.
	fields  map[string]map[string]*fieldTemplate
	sources map[string]map[string][]string
	// zones caches the time zones people chose: time.LoadLocation reads
	// and parses a zoneinfo file on every call. Only names that loaded
	// are kept, so it holds at most the IANA database.
	zones sync.Map // string → *time.Location
}

// strict makes a message whose data lacks one of its variables fail
// instead of printing "<no value>"; T then shows the key, which the
// tests look for.
var strict = &template.TextParser{Option: "missingkey=error"}

// New loads the embedded catalogs. It fails when a file does not parse or
// a language has no file.
func New() (*Catalog, error) {
	b := i18n.NewBundle(language.English)
	c := &Catalog{
		bundle:  b,
		locs:    map[string]*i18n.Localizer{},
		plain:   map[string]map[string]string{},
		fields:  map[string]map[string]*fieldTemplate{},
		sources: map[string]map[string][]string{},
	}
	var tags []language.Tag
	for _, l := range Languages() {
		name := path.Join("messages", l.Code+".json")
		buf, err := fs.ReadFile(files, name)
		if err != nil {
			return nil, fmt.Errorf("locale: %w", err)
		}
		mf, err := b.ParseMessageFileBytes(buf, name)
		if err != nil {
			return nil, fmt.Errorf("locale: %s: %w", name, err)
		}
		tags = append(tags, language.Make(l.Code))
		c.codes = append(c.codes, l.Code)
		c.locs[l.Code] = i18n.NewLocalizer(b, l.Code)
		plain, fields, sources := map[string]string{}, map[string]*fieldTemplate{}, map[string][]string{}
		for _, m := range mf.Messages {
			sources[m.ID] = forms(m)
			// Most messages are one fixed string: kept ready, they skip
			// go-i18n's language matching on every call.
			if m.Zero != "" || m.One != "" || m.Two != "" || m.Few != "" || m.Many != "" {
				continue
			}
			if !strings.Contains(m.Other, "{{") {
				plain[m.ID] = m.Other
				continue
			}
			// Messages of plain fields are filled in by concatenation
			// rather than by running a text/template for every call.
			if pt, err := (fieldParser{}).Parse(m.Other, m.LeftDelim, m.RightDelim); err == nil {
				if ft, ok := pt.(*fieldTemplate); ok {
					fields[m.ID] = ft
				}
			}
		}
		c.plain[l.Code], c.fields[l.Code], c.sources[l.Code] = plain, fields, sources
	}
	c.matcher = language.NewMatcher(tags)
	return c, nil
}

// forms lists the sources of a message, one per plural form it has.
func forms(m *i18n.Message) []string {
	var out []string
	for _, s := range []string{m.Zero, m.One, m.Two, m.Few, m.Many, m.Other} {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Sources returns every message of a language, by key: its source text,
// one entry per plural form. Tests compare the languages with it.
func (c *Catalog) Sources(lang string) map[string][]string {
	return maps.Clone(c.sources[lang])
}

// Supported reports whether lang is one of Languages' codes.
func (c *Catalog) Supported(lang string) bool {
	_, ok := c.locs[lang]
	return ok
}

// Negotiate picks the language of a request: the cookie's when it names a
// supported language, else the best match of the Accept-Language header,
// else English.
func (c *Catalog) Negotiate(cookie, acceptLanguage string) string {
	if c.Supported(cookie) {
		return cookie
	}
	if acceptLanguage == "" || len(acceptLanguage) > 512 {
		return English
	}
	tags, _, err := language.ParseAcceptLanguage(acceptLanguage)
	if err != nil || len(tags) == 0 {
		return English
	}
	_, i, conf := c.matcher.Match(tags...)
	if conf == language.No {
		return English
	}
	return c.codes[i]
}

// zoneName is what an IANA time zone name may look like: no dots, so no
// path can climb out of the zoneinfo directory.
var zoneName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$`)

// Zone loads an IANA time zone by name, as a browser's
// Intl.DateTimeFormat reports it ("Asia/Seoul"). It reports false for
// anything else, "Local" included: the server's own zone means nothing
// to the person.
func (c *Catalog) Zone(name string) (*time.Location, bool) {
	if len(name) > 64 || name == "Local" || !zoneName.MatchString(name) {
		return nil, false
	}
	if z, ok := c.zones.Load(name); ok {
		return z.(*time.Location), true
	}
	z, err := time.LoadLocation(name)
	if err != nil {
		return nil, false
	}
	c.zones.Store(name, z)
	return z, true
}

// Locale is the language and time zone of one request.
type Locale struct {
	cat  *Catalog
	lang string
	loc  *i18n.Localizer
	zone *time.Location // nil: none chosen, times are shown in UTC and say so
}

// Locale returns the Locale of lang (English when unsupported) and zone
// (nil when the person has not told us theirs).
func (c *Catalog) Locale(lang string, zone *time.Location) *Locale {
	if !c.Supported(lang) {
		lang = English
	}
	return &Locale{cat: c, lang: lang, loc: c.locs[lang], zone: zone}
}

// Lang is the language code: "en" or "ko".
func (l *Locale) Lang() string { return l.lang }

// ZoneName is the IANA name of the chosen time zone, or "" when none was
// chosen.
func (l *Locale) ZoneName() string {
	if l.zone == nil {
		return ""
	}
	return l.zone.String()
}

// Has reports whether the catalog has a message key.
func (l *Locale) Has(key string) bool {
	_, ok := l.cat.sources[l.lang][key]
	return ok
}

// T returns the message key. A key the catalog lacks comes back as is, so
// a missing translation is visible (and the tests fail) rather than blank.
func (l *Locale) T(key string) string {
	if s, ok := l.cat.plain[l.lang][key]; ok {
		return s
	}
	return l.localize(key, nil, nil)
}

// Td returns the message key filled in with data.
func (l *Locale) Td(key string, data Data) string {
	if data == nil {
		return l.T(key)
	}
	if t, ok := l.cat.fields[l.lang][key]; ok {
		if s, err := t.Execute(data); err == nil && s != "" {
			return s
		}
		return key
	}
	return l.localize(key, data, nil)
}

// Tn returns the plural form of the message key for count, filled in with
// data and {{.Count}}.
func (l *Locale) Tn(key string, count int, data Data) string {
	d := make(Data, len(data)+1)
	maps.Copy(d, data)
	d["Count"] = count
	return l.localize(key, d, count)
}

func (l *Locale) localize(key string, data Data, count any) string {
	cfg := &i18n.LocalizeConfig{MessageID: key, PluralCount: count, TemplateParser: fieldParser{}}
	if data != nil {
		cfg.TemplateData = data
	}
	// go-i18n may answer and report an error at once: a count whose plural
	// form the message lacks falls back to "other". Only no answer at all
	// (no such key, a variable missing from data) shows the key.
	s, _ := l.loc.Localize(cfg)
	if s == "" {
		return key
	}
	return s
}

type ctxKey struct{}

// With returns ctx carrying l.
func With(ctx context.Context, l *Locale) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// From returns the Locale that ctx carries, or nil.
func From(ctx context.Context) *Locale {
	l, _ := ctx.Value(ctxKey{}).(*Locale)
	return l
}

// Lang returns the language code of ctx's Locale; English without one.
func Lang(ctx context.Context) string {
	if l := From(ctx); l != nil {
		return l.lang
	}
	return English
}

// T returns the message key in the language of ctx. Without a Locale in
// ctx (a component rendered outside a request) it returns the key.
func T(ctx context.Context, key string) string {
	if l := From(ctx); l != nil {
		return l.T(key)
	}
	return key
}

// Td returns the message key in the language of ctx, filled in with data.
func Td(ctx context.Context, key string, data Data) string {
	if l := From(ctx); l != nil {
		return l.Td(key, data)
	}
	return key
}

// Tn returns the plural form of the message key for count in the language
// of ctx, filled in with data and {{.Count}}.
func Tn(ctx context.Context, key string, count int, data Data) string {
	if l := From(ctx); l != nil {
		return l.Tn(key, count, data)
	}
	return key
}
