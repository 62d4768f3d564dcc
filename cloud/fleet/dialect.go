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
// limit is 32766.
const maxParams = 30000

// stmtText is a statement and its arguments.
type stmtText struct {
	query string
	args  []any
}

// rowStatements renders the multi-row statement head (INSERT INTO t
// (columns)), the rows of args (cols values each), tail, with '?'
// placeholders; no rows, no statement.
//
// SQLite takes the rows as VALUES, in statements of at most maxParams
// parameters. PostgreSQL takes them as one array per column, unnested
// into rows: a statement whose text and parameters do not depend on the
// number of rows, so it is parsed and prepared once per connection
// rather than once per batch size, its plan is cached, its parameters
// are a few arrays rather than thousands of values, and no limit cuts it.
func (d dialect) rowStatements(head string, cols int, tail string, args []any) ([]stmtText, error) {
	if cols <= 0 || len(args)%cols != 0 {
		return nil, fmt.Errorf("%d values for rows of %d columns", len(args), cols)
	}
	if len(args) == 0 {
		return nil, nil
	}
	if d.name == Postgres {
		st, err := unnestRows(head, cols, tail, args)
		if err != nil {
			return nil, err
		}
		return []stmtText{st}, nil
	}
	var out []stmtText
	per := maxParams / cols * cols
	row := "(?" + strings.Repeat(", ?", cols-1) + ")"
	for len(args) > 0 {
		chunk := args[:min(len(args), per)]
		args = args[len(chunk):]
		var q strings.Builder
		q.Grow(len(head) + len(tail) + 8 + len(chunk)/cols*(len(row)+1))
		q.WriteString(head)
		q.WriteString(" VALUES ")
		for i := range len(chunk) / cols {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(row)
		}
		q.WriteString(tail)
		out = append(out, stmtText{q.String(), chunk})
	}
	return out, nil
}

// unnestRows is rowStatements for PostgreSQL: head SELECT * FROM
// unnest(one typed array per column) tail. A column's type is the Go
// type of its values: string (text), int and int64 (bigint), bool
// (boolean), *int64 (bigint, nil being NULL).
func unnestRows(head string, cols int, tail string, args []any) (stmtText, error) {
	n := len(args) / cols
	arrays := make([]any, cols)
	var q strings.Builder
	q.WriteString(head)
	q.WriteString(" SELECT * FROM unnest(")
	for c := range cols {
		if c > 0 {
			q.WriteString(", ")
		}
		var err error
		switch args[c].(type) {
		case string:
			arrays[c], err = column(args, cols, c, n, func(v any) (string, bool) { s, ok := v.(string); return s, ok })
			q.WriteString("?::text[]")
		case int, int64:
			arrays[c], err = column(args, cols, c, n, func(v any) (int64, bool) {
				switch v := v.(type) {
				case int:
					return int64(v), true
				case int64:
					return v, true
				}
				return 0, false
			})
			q.WriteString("?::bigint[]")
		case bool:
			arrays[c], err = column(args, cols, c, n, func(v any) (bool, bool) { b, ok := v.(bool); return b, ok })
			q.WriteString("?::boolean[]")
		case *int64:
			arrays[c], err = column(args, cols, c, n, func(v any) (*int64, bool) { p, ok := v.(*int64); return p, ok })
			q.WriteString("?::bigint[]")
		default:
			err = fmt.Errorf("column %d: values of type %T", c, args[c])
		}
		if err != nil {
			return stmtText{}, err
		}
	}
	q.WriteString(")")
	q.WriteString(tail)
	return stmtText{q.String(), arrays}, nil
}

// column gathers column c of the n rows of args (cols values each) into
// one slice, converting each value with conv.
func column[T any](args []any, cols, c, n int, conv func(any) (T, bool)) ([]T, error) {
	out := make([]T, n)
	for r := range n {
		v, ok := conv(args[r*cols+c])
		if !ok {
			return nil, fmt.Errorf("column %d, row %d: a value of type %T among values of type %T", c, r, args[r*cols+c], args[c])
		}
		out[r] = v
	}
	return out, nil
}
