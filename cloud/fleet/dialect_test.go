package fleet

import (
	"slices"
	"strings"
	"testing"
)

// PostgreSQL's multi-row statement has one text whatever the number of
// rows (it is prepared once), one array per column; SQLite's is cut to
// stay under its parameter limit, every value kept in order.
func TestRowStatements(t *testing.T) {
	pg, _ := dialectOf(Postgres)
	lite, _ := dialectOf(SQLite)
	stop := int64(5)
	rows := func(n int) []any {
		var args []any
		for i := range n {
			var p *int64
			if i%2 == 0 {
				p = &stop
			}
			args = append(args, "s", int64(i), i, true, p)
		}
		return args
	}
	one, err := pg.rowStatements(`INSERT INTO t (a, b, c, d, e)`, 5, ` ON CONFLICT DO NOTHING`, rows(1))
	if err != nil {
		t.Fatal(err)
	}
	many, err := pg.rowStatements(`INSERT INTO t (a, b, c, d, e)`, 5, ` ON CONFLICT DO NOTHING`, rows(10000))
	if err != nil {
		t.Fatal(err)
	}
	want := `INSERT INTO t (a, b, c, d, e) SELECT * FROM unnest(?::text[], ?::bigint[], ?::bigint[], ?::boolean[], ?::bigint[]) ON CONFLICT DO NOTHING`
	if len(one) != 1 || len(many) != 1 || one[0].query != want || many[0].query != want {
		t.Fatalf("PostgreSQL: %+v, %d statements; want one %q", one, len(many), want)
	}
	if ids := many[0].args[2].([]int64); len(ids) != 10000 || ids[9999] != 9999 {
		t.Errorf("column c: %d values", len(ids))
	}
	if stops := many[0].args[4].([]*int64); stops[0] == nil || *stops[0] != 5 || stops[1] != nil {
		t.Errorf("column e: %v", stops[:2])
	}

	args := rows(10000)
	stmts, err := lite.rowStatements(`INSERT INTO t (a, b, c, d, e)`, 5, ``, args)
	if err != nil {
		t.Fatal(err)
	}
	var all []any
	for _, st := range stmts {
		if n := strings.Count(st.query, "?"); n != len(st.args) || n > maxParams || !strings.HasPrefix(st.query, `INSERT INTO t (a, b, c, d, e) VALUES (?, ?, ?, ?, ?),`) {
			t.Errorf("SQLite: %d placeholders, %d values: %.60s", n, len(st.args), st.query)
		}
		all = append(all, st.args...)
	}
	if len(stmts) != 2 || !slices.Equal(all, args) {
		t.Errorf("SQLite: %d statements of %d values, want 2 of %d in all", len(stmts), len(all), len(args))
	}

	if st, err := pg.rowStatements(`INSERT INTO t (a)`, 1, ``, nil); err != nil || st != nil {
		t.Errorf("no rows: %v, %v; want no statement", st, err)
	}
}

// Values a column cannot hold are an error, not a panic.
func TestRowStatementsRefuse(t *testing.T) {
	pg, _ := dialectOf(Postgres)
	for name, args := range map[string][]any{
		"a row cut short":   {"a", int64(1), "b"},
		"mixed types":       {"a", int64(1), int64(2), int64(3)},
		"an unhandled type": {"a", 1.5},
		"a nil":             {nil, int64(1)},
	} {
		if _, err := pg.rowStatements(`INSERT INTO t (a, b)`, 2, ``, args); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}
