package locale

import (
	"errors"
	"regexp"
	"strconv"
	"strings"

	"github.com/nicksnyder/go-i18n/v2/i18n/template"
)

// fieldAction is the only template action the fast path renders: a
// field of the data, {{.Name}}.
var fieldAction = regexp.MustCompile(`^\.([A-Za-z_][A-Za-z0-9_]*)$`)

// errMissingField is what a message reports when its data lacks one of
// its fields, as text/template's missingkey=error does.
var errMissingField = errors.New("locale: message data lacks a field")

// fieldTemplate is a message whose actions are all plain fields, split
// into literal text and field names: lits[0] fields[0] lits[1] ...
// fields[n-1] lits[n]. It renders by concatenation what text/template
// would for string and int values; for any other value it runs the
// text/template it was parsed from, so the output is always the same.
type fieldTemplate struct {
	lits   []string
	fields []string
	slow   template.ParsedTemplate
}

// splitFields splits src into a fieldTemplate, or reports false when src
// uses any template syntax other than {{.Name}}.
func splitFields(src string) (*fieldTemplate, bool) {
	t := &fieldTemplate{}
	for {
		i := strings.Index(src, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(src[i:], "}}")
		if j < 0 {
			return nil, false
		}
		m := fieldAction.FindStringSubmatch(src[i+2 : i+j])
		if m == nil {
			return nil, false
		}
		t.lits = append(t.lits, src[:i])
		t.fields = append(t.fields, m[1])
		src = src[i+j+2:]
	}
	if len(t.fields) == 0 {
		return nil, false
	}
	t.lits = append(t.lits, src)
	return t, true
}

// Execute fills the fields in from data, a Data.
func (t *fieldTemplate) Execute(data any) (string, error) {
	d, ok := data.(Data)
	if !ok {
		return t.slow.Execute(data)
	}
	var b strings.Builder
	for i, f := range t.fields {
		v, ok := d[f]
		if !ok {
			return "", errMissingField
		}
		b.WriteString(t.lits[i])
		switch v := v.(type) {
		case string:
			b.WriteString(v)
		case int:
			b.WriteString(strconv.Itoa(v))
		default:
			return t.slow.Execute(data)
		}
	}
	b.WriteString(t.lits[len(t.fields)])
	return b.String(), nil
}

// fieldParser is the template parser Linkport hands go-i18n: messages of
// plain fields become fieldTemplates, the rest strict text/templates.
// go-i18n still picks the message and its plural form, and caches what
// Parse returns per message and form.
type fieldParser struct{}

// Cacheable reports that go-i18n may keep what Parse returns.
func (fieldParser) Cacheable() bool { return true }

// Parse parses src as a fieldTemplate when it can, else as strict
// text/template.
func (fieldParser) Parse(src, leftDelim, rightDelim string) (template.ParsedTemplate, error) {
	slow, err := strict.Parse(src, leftDelim, rightDelim)
	if err != nil {
		return nil, err
	}
	if (leftDelim != "" && leftDelim != "{{") || (rightDelim != "" && rightDelim != "}}") {
		return slow, nil
	}
	t, ok := splitFields(src)
	if !ok {
		return slow, nil
	}
	t.slow = slow
	return t, nil
}
