package store_test

// SECURITY.md E-04b on each engine, named by its id: the schema itself
// refuses an identity that is incomplete. (E-04a, the rollback of a
// half-created account, is accounts' TestE04a_NoHalfCreatedAccounts; E-06a
// on the store is TestSQLiteWaitsForWriter, and through HTTP
// handlers' TestE06a_LoginsWaitForWriteLock; E-10a is
// TestE10a_ConcurrentLinkOfSameIdentity.)

import (
	"strings"
	"testing"

	"github.com/linkport/linkport/store"
)

// E-04b: identities have CHECK constraints against an empty subject or provider, and
// NOT NULL on provider, subject and user_id, and user_id must name a
// user — through the store (testConstraints) and in raw SQL, so no code
// path can write such a row.
func TestE04b_SchemaRefusesIncompleteIdentities(t *testing.T) {
	forEachEngine(t, func(t *testing.T, open func(opts ...store.Option) testDB) {
		db := open()
		testConstraints(t, db)

		u, _ := createUser(t, db, "google", "e04b-owner", at(0))
		insert := `INSERT INTO identities (user_id, provider, subject, created_at, last_used_at) VALUES (?, ?, ?, ?, ?)`
		if db.isPostgreSQL {
			insert = `INSERT INTO identities (user_id, provider, subject, created_at, last_used_at) VALUES ($1, $2, $3, $4, $5)`
		}
		when := at(0).Unix() // both engines keep unix seconds
		for _, tc := range []struct {
			name string
			args []any
			want []string // any of these in the error
		}{
			{"empty subject", []any{u.ID, "google", ""}, []string{"CHECK", "check"}},
			{"empty provider", []any{u.ID, "", "e04b-1"}, []string{"CHECK", "check"}},
			{"NULL subject", []any{u.ID, "google", nil}, []string{"NOT NULL", "not-null", "null value"}},
			{"NULL provider", []any{u.ID, nil, "e04b-2"}, []string{"NOT NULL", "not-null", "null value"}},
			{"NULL user_id", []any{nil, "google", "e04b-3"}, []string{"NOT NULL", "not-null", "null value"}},
			{"no such user", []any{u.ID + 1000, "google", "e04b-4"}, []string{"FOREIGN KEY", "foreign key"}},
		} {
			_, err := db.DB.ExecContext(t.Context(), insert, append(tc.args, when, when)...)
			ok := false
			for _, w := range tc.want {
				ok = ok || err != nil && strings.Contains(err.Error(), w)
			}
			if !ok {
				t.Errorf("%s: error = %v, want a constraint error (%s)", tc.name, err, strings.Join(tc.want, " / "))
			}
		}
	})
}
