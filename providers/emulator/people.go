package emulator

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Person is a fake account at an emulated provider.
type Person struct {
	Provider string // "google", "facebook" or "x"
	Sub      string // the provider's stable subject / user id
	Name     string
	Email    string // may be empty: Facebook and X accounts need not have one
	// EmailVerified is what Google reports as email_verified. Facebook
	// never says, and X only reports confirmed emails.
	EmailVerified bool
	Username      string // X handle; empty elsewhere is fine
	CreatedAt     time.Time
}

// People lists the people of a provider, oldest first.
func (e *Emulator) People(ctx context.Context, provider string) ([]Person, error) {
	if _, ok := providers[provider]; !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProvider, provider)
	}
	rows, err := e.db.QueryContext(ctx, `SELECT sub, name, email, email_verified, username, created
		FROM emulator_people WHERE provider = $1 ORDER BY created, sub`, provider)
	if err != nil {
		return nil, fmt.Errorf("emulator: list people: %w", err)
	}
	defer rows.Close()
	var people []Person
	for rows.Next() {
		p, err := scanPerson(rows, provider)
		if err != nil {
			return nil, err
		}
		people = append(people, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("emulator: list people: %w", err)
	}
	return people, nil
}

type scanner interface{ Scan(dest ...any) error }

func scanPerson(s scanner, provider string) (Person, error) {
	p := Person{Provider: provider}
	var verified int
	var created int64
	if err := s.Scan(&p.Sub, &p.Name, &p.Email, &verified, &p.Username, &created); err != nil {
		return Person{}, fmt.Errorf("emulator: read person: %w", err)
	}
	p.EmailVerified = verified != 0
	p.CreatedAt = time.Unix(created, 0).UTC()
	return p, nil
}

// errNoPerson is returned by person for an unknown subject.
var errNoPerson = errors.New("emulator: no such person")

// person returns one person.
func (e *Emulator) person(ctx context.Context, provider, sub string) (Person, error) {
	row := e.db.QueryRowContext(ctx, `SELECT sub, name, email, email_verified, username, created
		FROM emulator_people WHERE provider = $1 AND sub = $2`, provider, sub)
	p, err := scanPerson(row, provider)
	if errors.Is(err, sql.ErrNoRows) {
		return Person{}, errNoPerson
	}
	return p, err
}

// AddPerson creates a person and returns it as stored. An empty Sub is
// generated in the provider's format (Google: 21 digits, Facebook: 16, X:
// 19); an empty Name is derived from the email; an empty X Username from
// the name; a zero CreatedAt means now. Times are kept to the second.
func (e *Emulator) AddPerson(ctx context.Context, p Person) (Person, error) {
	prov, ok := providers[p.Provider]
	if !ok {
		return Person{}, fmt.Errorf("%w: %q", ErrUnknownProvider, p.Provider)
	}
	if err := normalizePerson(&p, prov); err != nil {
		return Person{}, err
	}
	if p.CreatedAt.IsZero() {
		p.CreatedAt = e.now()
	}
	p.CreatedAt = time.Unix(p.CreatedAt.Unix(), 0).UTC()
	res, err := e.db.ExecContext(ctx, `INSERT INTO emulator_people
		(provider, sub, name, email, email_verified, username, created)
		VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING`,
		p.Provider, p.Sub, p.Name, p.Email, boolInt(p.EmailVerified), p.Username, p.CreatedAt.Unix())
	if err != nil {
		return Person{}, fmt.Errorf("emulator: add person: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return Person{}, fmt.Errorf("emulator: add person: %w", err)
	} else if n == 0 {
		return Person{}, fmt.Errorf("%w: %s %s", ErrPersonExists, p.Provider, p.Sub)
	}
	return p, nil
}

// normalizePerson validates p and fills in what may be derived. The
// consent form feeds it whatever a browser sends, so every field is checked.
func normalizePerson(p *Person, prov provider) error {
	p.Name = strings.TrimSpace(p.Name)
	p.Email = strings.TrimSpace(p.Email)
	p.Username = strings.TrimPrefix(strings.TrimSpace(p.Username), "@")
	p.Sub = strings.TrimSpace(p.Sub)
	if p.Email != "" {
		a, err := mail.ParseAddress(p.Email)
		if err != nil || a.Address != p.Email || len(p.Email) > 254 {
			return fmt.Errorf("%w: %q is not an email address", ErrInvalidPerson, p.Email)
		}
	}
	if p.Name == "" {
		p.Name = nameFromEmail(p.Email)
	}
	if err := checkText("name", p.Name, 200); err != nil {
		return err
	}
	if p.Sub == "" {
		p.Sub = randomDigits(prov.subDigits)
	}
	if len(p.Sub) > 255 || strings.ContainsFunc(p.Sub, func(r rune) bool { return r <= ' ' || r > '~' || r == '/' }) {
		// OIDC Core §2: sub is at most 255 ASCII characters; the slash is
		// excluded because the sub appears in avatar URL paths.
		return fmt.Errorf("%w: sub must be 1-255 printable ASCII characters without spaces or '/'", ErrInvalidPerson)
	}
	if prov.name == "x" && p.Username == "" {
		p.Username = usernameFrom(p.Name, p.Sub)
	}
	if err := checkText("username", p.Username, 50); err != nil {
		return err
	}
	return nil
}

func checkText(field, s string, max int) error {
	if !utf8.ValidString(s) || utf8.RuneCountInString(s) > max ||
		strings.ContainsFunc(s, unicode.IsControl) {
		return fmt.Errorf("%w: %s must be at most %d printable characters", ErrInvalidPerson, field, max)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// randomDigits returns n random decimal digits without a leading zero, the
// shape of the real providers' numeric user ids.
func randomDigits(n int) string {
	var b strings.Builder
	for i := range n {
		lo, span := int64(0), int64(10)
		if i == 0 {
			lo, span = 1, 9
		}
		d, _ := rand.Int(rand.Reader, big.NewInt(span))
		b.WriteByte(byte('0' + lo + d.Int64()))
	}
	return b.String()
}

// nameFromEmail turns "ada.lovelace@example.com" into "Ada Lovelace".
func nameFromEmail(email string) string {
	local, _, _ := strings.Cut(email, "@")
	words := strings.FieldsFunc(local, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == '+' })
	for i, w := range words {
		r, size := utf8.DecodeRuneInString(w)
		words[i] = string(unicode.ToUpper(r)) + w[size:]
	}
	if len(words) == 0 {
		return "Test User"
	}
	return strings.Join(words, " ")
}

// usernameFrom makes an X-style handle (letters, digits, underscore, at
// most 15) from a name, falling back on the subject.
func usernameFrom(name, sub string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' {
			b.WriteRune(r)
		}
	}
	u := b.String()
	if u == "" {
		u = "user" + sub[max(0, len(sub)-6):]
	}
	return u[:min(len(u), 15)]
}

// splitName splits a display name into given and family names the way the
// providers' first_name/last_name fields look.
func splitName(name string) (given, family string) {
	given, family, _ = strings.Cut(strings.TrimSpace(name), " ")
	return given, strings.TrimSpace(family)
}
