package sqlstore

// UniqueViolation is the duplicate-key test of a driver ("sqlite",
// "postgres"), for the external tests.
func UniqueViolation(driver string) func(error) bool {
	if driver == "postgres" {
		return postgresDialect.uniqueViolation
	}
	return sqliteDialect.uniqueViolation
}
