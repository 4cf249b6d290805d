package store

import "database/sql"

// ReadDB exposes the read connections of s to the external tests.
func ReadDB(s *SQLite) *sql.DB { return s.read }
