package fleet

// OpenUpTo opens a store with the migrations up to version upTo only.
var OpenUpTo = open

// Flushes is the number of flushes of s's write transactions so far (on
// PostgreSQL, their round trips).
func Flushes(s *Store) int64 { return s.flushes.Load() }
