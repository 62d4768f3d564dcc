package fleet

import (
	"fmt"
	"strconv"
	"strings"
)

// Drivers the store runs on.
const (
	SQLite   = "sqlite"   // modernc.org/sqlite
	Postgres = "postgres" // github.com/jackc/pgx/v5/stdlib
)

// dialect isolates what differs between the engines.
type dialect struct {
	name string
	// driver is the database/sql driver name.
	driver string
}

func dialectOf(name string) (dialect, error) {
	switch name {
	case SQLite, "":
		return dialect{name: SQLite, driver: "sqlite"}, nil
	case Postgres:
		return dialect{name: Postgres, driver: "pgx"}, nil
	}
	return dialect{}, fmt.Errorf("fleet: unknown driver %q (want %s or %s)", name, SQLite, Postgres)
}

// rebind turns the '?' placeholders of query into PostgreSQL's $1, $2...
// The store's SQL has no '?' anywhere else.
func (d dialect) rebind(query string) string {
	if d.name != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// maxParams bounds the parameters of one statement: SQLite's default
// limit is 32766, PostgreSQL's 65535.
const maxParams = 30000
