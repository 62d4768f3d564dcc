package fleet

import (
	"context"
	"database/sql"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// A txQueue runs the statements of one write transaction in as few round
// trips as the logic allows: statements are queued, and flush runs all
// that are queued, in order. On PostgreSQL a flush is one pipeline (a
// pgx.Batch: every statement sent at once, one round trip for them all),
// the transaction's BEGIN going with the first flush and its COMMIT with
// the last; on SQLite, in process, a flush runs the statements one by
// one in a database/sql transaction, where a round trip costs nothing.
// The logic that queues statements is the same for both: it flushes
// where it needs a result (the keys that were new, a group's state),
// and reads a statement's result only in its callback or after flush.
//
// A statement that fails ends the flush with its error: the statements
// after it do not run, and the transaction is rolled back (inQueue).
type txQueue struct {
	d       dialect
	pending []queued
	// err is the first error of a statement that could not be queued
	// (a value of an unexpected type); the next flush returns it.
	err error
	// run runs statements in the transaction, and commits it after
	// them when commit is set.
	run func(ctx context.Context, stmts []queued, commit bool) error
	// flushes counts the flushes (Store.flushes).
	flushes *atomic.Int64
}

// queued is one statement of a txQueue.
type queued struct {
	label string // what the statement writes, for its error
	query string // in the engine's placeholders
	args  []any
	// rows, when set, gets each row the statement returns; else done,
	// when set, gets the number of rows the statement changed.
	rows func(scanner) error
	done func(rowsAffected int64)
}

// scanner is a row of a result: *sql.Rows and pgx.Rows both are.
type scanner interface{ Scan(dest ...any) error }

// exec queues a statement; done, when not nil, gets the number of rows
// it changed once it ran.
func (q *txQueue) exec(label, query string, done func(rowsAffected int64), args ...any) {
	q.pending = append(q.pending, queued{label: label, query: q.d.rebind(query), args: args, done: done})
}

// query queues a statement that returns rows, each handed to scan once
// it ran.
func (q *txQueue) query(label, query string, scan func(scanner) error, args ...any) {
	q.pending = append(q.pending, queued{label: label, query: q.d.rebind(query), args: args, rows: scan})
}

// insertRows queues the multi-row statement head (INSERT INTO t (columns)),
// the rows of args (cols values each), tail, in the form the engine
// takes best (dialect.rowStatements); no rows, no statement. scan, when
// not nil, gets each row the statement returns (RETURNING).
func (q *txQueue) insertRows(label, head string, cols int, tail string, args []any, scan func(scanner) error) {
	stmts, err := q.d.rowStatements(head, cols, tail, args)
	if err != nil {
		if q.err == nil {
			q.err = fmt.Errorf("%s: %w", label, err)
		}
		return
	}
	for _, st := range stmts {
		q.pending = append(q.pending, queued{label: label, query: q.d.rebind(st.query), args: st.args, rows: scan})
	}
}

// flush runs the statements queued, in order.
func (q *txQueue) flush(ctx context.Context) error {
	return q.send(ctx, false)
}

// commit runs the statements queued and commits the transaction.
func (q *txQueue) commit(ctx context.Context) error {
	return q.send(ctx, true)
}

func (q *txQueue) send(ctx context.Context, commit bool) error {
	if q.err != nil {
		return q.err
	}
	stmts := q.pending
	q.pending = nil
	if len(stmts) == 0 && !commit {
		return nil
	}
	q.flushes.Add(1)
	return q.run(ctx, stmts, commit)
}

// inQueue runs fn with a txQueue on a transaction of its own, committed
// (with what fn left queued) when fn returns nil, rolled back otherwise.
// It applies the appliances' records, which are not audited: unlike
// inTx, it writes no pending audit entry, on either engine.
func (s *Store) inQueue(ctx context.Context, fn func(q *txQueue) error) error {
	if s.d.name == Postgres {
		return s.inPipeline(ctx, fn)
	}
	return s.rawTx(ctx, func(tx *sql.Tx) error {
		// rawTx commits once the last statements ran.
		q := &txQueue{d: s.d, flushes: &s.flushes, run: func(ctx context.Context, stmts []queued, _ bool) error {
			for _, st := range stmts {
				if err := runSQL(ctx, tx, st); err != nil {
					return err
				}
			}
			return nil
		}}
		if err := fn(q); err != nil {
			return err
		}
		return q.commit(ctx)
	})
}

// runSQL runs one statement in a database/sql transaction.
func runSQL(ctx context.Context, tx *sql.Tx, st queued) error {
	if st.rows == nil {
		res, err := tx.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return fmt.Errorf("%s: %w", st.label, err)
		}
		if st.done != nil {
			n, err := res.RowsAffected()
			if err != nil {
				return fmt.Errorf("%s: %w", st.label, err)
			}
			st.done(n)
		}
		return nil
	}
	rows, err := tx.QueryContext(ctx, st.query, st.args...)
	if err != nil {
		return fmt.Errorf("%s: %w", st.label, err)
	}
	defer rows.Close()
	return st.scanAll(rows)
}

// resultRows is a statement's result: *sql.Rows and pgx.Rows both are.
type resultRows interface {
	scanner
	Next() bool
	Err() error
}

// scanAll hands each row of rows to st.rows, errors labelled with what
// the statement writes.
func (st queued) scanAll(rows resultRows) error {
	for rows.Next() {
		if err := st.rows(rows); err != nil {
			return fmt.Errorf("%s: %w", st.label, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", st.label, err)
	}
	return nil
}

// inPipeline is inQueue on PostgreSQL: the queue's flushes go as
// pipelines on the pgx connection under database/sql, the transaction
// begun by the first and committed by the last.
func (s *Store) inPipeline(ctx context.Context, fn func(q *txQueue) error) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		dc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection %T is not pgx's", driverConn)
		}
		pc := dc.Conn()
		begun := false
		q := &txQueue{d: s.d, flushes: &s.flushes, run: func(ctx context.Context, stmts []queued, commit bool) error {
			b := &pgx.Batch{}
			if !begun {
				queueControl(b, "begin")
				begun = true
			}
			for _, st := range stmts {
				queuePipelined(b, st)
			}
			if commit {
				queueControl(b, "commit")
			}
			return pc.SendBatch(ctx, b).Close()
		}}
		err := fn(q)
		if err == nil {
			if err = q.commit(ctx); err == nil {
				return nil
			}
		}
		// A statement that failed left the transaction aborted (or fn
		// stopped with it open): end it here, so the connection goes
		// back to the pool clean. Were the rollback to fail, pgx's
		// database/sql driver drops a connection that is still in a
		// transaction or closed before it is used again.
		if begun && !pc.IsClosed() && pc.PgConn().TxStatus() != 'I' {
			_, _ = pc.Exec(context.WithoutCancel(ctx), "rollback")
		}
		return err
	})
}

// queuePipelined queues st in b, its error labelled with what it writes.
func queuePipelined(b *pgx.Batch, st queued) {
	qq := b.Queue(st.query, st.args...)
	if st.rows != nil {
		qq.Fn = func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err != nil {
				return fmt.Errorf("%s: %w", st.label, err)
			}
			defer rows.Close()
			return st.scanAll(rows)
		}
		return
	}
	qq.Fn = func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("%s: %w", st.label, err)
		}
		if st.done != nil {
			st.done(tag.RowsAffected())
		}
		return nil
	}
}

// queueControl queues a transaction control statement (begin, commit).
func queueControl(b *pgx.Batch, stmt string) {
	b.Queue(stmt).Fn = func(br pgx.BatchResults) error {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
		// A COMMIT of a transaction that failed answers ROLLBACK, not an
		// error. None is sent after a failure (a failed statement ends
		// its pipeline), but a commit that did not happen must not pass.
		if stmt == "commit" && tag.String() != "COMMIT" {
			return fmt.Errorf("commit: the transaction ended with %s", tag)
		}
		return nil
	}
}
