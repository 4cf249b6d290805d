package handlers_test

// Security tests for how a sign-in finds its account: by (provider,
// subject), never by email (SECURITY.md C-01).

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/linkport/linkport/providers/emulator"
)

// userOf returns the user id of an identity, or 0.
func (p *portal) userOf(provider, subject string) int64 {
	p.t.Helper()
	var id int64
	_ = p.db.DB().QueryRow("SELECT user_id FROM identities WHERE provider = ? AND subject = ?", provider, subject).Scan(&id)
	return id
}

// C-01a: another subject with the same (verified) email is another account.
func TestC01a_SameEmailOtherSubjectIsNotSameUser(t *testing.T) {
	p := newPortal(t)
	p.browser().mustSignIn("google", emulator.Person{Sub: "100000000000000000001", Name: "X One", Email: "x@example.com", EmailVerified: true})
	b := p.browser()
	page := b.mustSignIn("google", emulator.Person{Sub: "100000000000000000002", Name: "X Two", Email: "x@example.com", EmailVerified: true})
	u1, u2 := p.userOf("google", "100000000000000000001"), p.userOf("google", "100000000000000000002")
	if u1 == 0 || u2 == 0 || u1 == u2 {
		t.Errorf("users of the two subjects: %d and %d, want two different accounts", u1, u2)
	}
	if diff := cmp.Diff([]string{"google"}, identitiesOn(page.Body)); diff != "" {
		t.Errorf("second person's identities (-want +got):\n%s", diff)
	}
}

// C-01b: the same subject with a changed email is still the same account.
func TestC01b_SameSubjectNewEmailIsSameUser(t *testing.T) {
	p := newPortal(t)
	const sub = "100000000000000000003"
	p.browser().mustSignIn("google", emulator.Person{Sub: sub, Name: "Ann", Email: "x@example.com", EmailVerified: true})
	u1 := p.userOf("google", sub)
	var before int64
	if err := p.db.DB().QueryRow("SELECT id FROM identities WHERE user_id = ?", u1).Scan(&before); err != nil {
		t.Fatal(err)
	}
	// The emulator has no API to change a person; its table is the
	// provider's own record of the account.
	if _, err := p.db.DB().Exec("UPDATE emulator_people SET email = 'y@example.com' WHERE provider = 'google' AND sub = ?", sub); err != nil {
		t.Fatal(err)
	}
	page := p.browser().mustSignIn("google", emulator.Person{Sub: sub})
	if got := p.userOf("google", sub); got != u1 {
		t.Errorf("user after the email change = %d, want %d", got, u1)
	}
	var ids []int64
	rows, err := p.db.DB().Query("SELECT id FROM identities WHERE user_id = ?", u1)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		_ = rows.Scan(&id)
		ids = append(ids, id)
	}
	rows.Close()
	if diff := cmp.Diff([]int64{before}, ids); diff != "" || p.count("users") != 1 {
		t.Errorf("identities of the user (-want +got):\n%s; users = %d, want 1", diff, p.count("users"))
	}
	if !strings.Contains(page.Body, "y@example.com") {
		t.Error("/accounts does not show the provider's new email")
	}
}

// C-01c: the same id at two providers is two identities of two people.
func TestC01c_SameIDAtTwoProvidersIsTwoUsers(t *testing.T) {
	p := newPortal(t)
	p.browser().mustSignIn("facebook", emulator.Person{Sub: "12345", Name: "Fay"})
	p.browser().mustSignIn("x", emulator.Person{Sub: "12345", Name: "Xena"})
	fb, x := p.userOf("facebook", "12345"), p.userOf("x", "12345")
	if fb == 0 || x == 0 || fb == x {
		t.Errorf("users of facebook/12345 and x/12345: %d and %d, want two different accounts", fb, x)
	}
	if n := p.count("identities"); n != 2 {
		t.Errorf("identities = %d, want 2", n)
	}
}

// C-01d: the schema makes (provider, subject) unique, and no index lets
// email find anybody.
func TestC01d_SchemaKeysIdentityBySubject(t *testing.T) {
	p := newPortal(t)
	db := p.db.DB()
	type index struct {
		name    string
		unique  bool
		columns []string
	}
	indexes := func(table string) []index {
		rows, err := db.Query("SELECT name, \"unique\" FROM pragma_index_list(?)", table)
		if err != nil {
			t.Fatal(err)
		}
		var out []index
		for rows.Next() {
			var ix index
			if err := rows.Scan(&ix.name, &ix.unique); err != nil {
				t.Fatal(err)
			}
			out = append(out, ix)
		}
		rows.Close()
		for i := range out {
			cols, err := db.Query("SELECT name FROM pragma_index_info(?) ORDER BY seqno", out[i].name)
			if err != nil {
				t.Fatal(err)
			}
			for cols.Next() {
				var c string
				if err := cols.Scan(&c); err != nil {
					t.Fatal(err)
				}
				out[i].columns = append(out[i].columns, c)
			}
			cols.Close()
		}
		return out
	}
	var unique bool
	for _, ix := range indexes("identities") {
		if ix.unique && slices.Equal(ix.columns, []string{"provider", "subject"}) {
			unique = true
		}
	}
	if !unique {
		t.Errorf("no unique index on identities(provider, subject): %+v", indexes("identities"))
	}
	for _, table := range []string{"identities", "users"} {
		for _, ix := range indexes(table) {
			for _, c := range ix.columns {
				if c == "email" || c == "primary_email" {
					t.Errorf("index %s on %s covers %s", ix.name, table, c)
				}
			}
		}
	}
	// The constraint holds: a second row for the same identity is refused.
	if _, err := db.Exec(`INSERT INTO users (id, created_at, updated_at) VALUES (1, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO identities (user_id, provider, subject, created_at, last_used_at) VALUES (1, 'google', 'same', 0, 0)`
	if _, err := db.Exec(insert); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(insert); err == nil {
		t.Error("a second identities row for (google, same) was accepted")
	}
}
