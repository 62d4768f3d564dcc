package fleet

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	_ "modernc.org/sqlite"             // driver "sqlite"
)

// Errors of the store; test them with errors.Is.
var (
	// ErrNotFound: no such site, command or record.
	ErrNotFound = errors.New("fleet: not found")
	// ErrExists: a site with this id exists already.
	ErrExists = errors.New("fleet: already exists")
	// ErrRevoked: the site is revoked.
	ErrRevoked = errors.New("fleet: site revoked")
	// ErrTokenInvalid, ErrTokenUsed, ErrTokenExpired: an enrollment token
	// that is unknown (or of another site), already traded, or past its
	// expiry.
	ErrTokenInvalid = errors.New("fleet: enrollment token invalid")
	ErrTokenUsed    = errors.New("fleet: enrollment token already used")
	ErrTokenExpired = errors.New("fleet: enrollment token expired")
)

// Clock tells the time; tests give a fake one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// Options configures Open.
type Options struct {
	// Driver is SQLite (default) or Postgres; DSN is the SQLite file
	// name or the PostgreSQL URL.
	Driver string
	DSN    string
	Clock  Clock        // nil: the system clock
	Logger *slog.Logger // nil: discard
}

// Store is the fleet store. It is safe for concurrent use.
type Store struct {
	db    *sql.DB
	d     dialect
	clock Clock
	log   *slog.Logger
	// flushes counts the flushes of write transactions' statements
	// (txQueue): round trips on PostgreSQL, which tests bound.
	flushes atomic.Int64
	// auditSeq orders the audit entries written in one millisecond.
	auditSeq atomic.Uint64
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens the database and brings its schema up to date.
func Open(ctx context.Context, opts Options) (*Store, error) {
	return open(ctx, opts, math.MaxInt64)
}

// open opens the database and applies the migrations up to version
// upTo (tests start from an older schema).
func open(ctx context.Context, opts Options, upTo int64) (*Store, error) {
	d, err := dialectOf(opts.Driver)
	if err != nil {
		return nil, err
	}
	dsn := opts.DSN
	if d.name == SQLite {
		// WAL lets readers go on during a write; the busy timeout covers
		// the rare overlap with a checkpoint. synchronous FULL syncs the
		// WAL at every commit: a record is acknowledged once committed,
		// and NORMAL would lose the last commits to a power cut (group
		// commit keeps it one sync per batch). Statement journals (each
		// multi-row upsert's undo) stay in memory instead of temporary
		// files written page by page.
		dsn = "file:" + dsn + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)"
	}
	db, err := sql.Open(d.driver, dsn)
	if err != nil {
		return nil, fmt.Errorf("fleet: open %s: %w", d.name, err)
	}
	if d.name == SQLite {
		// SQLite has one writer: one connection serialises the store's
		// transactions instead of failing them with SQLITE_BUSY.
		db.SetMaxOpenConns(1)
	}
	s := &Store{db: db, d: d, clock: opts.Clock, log: opts.Logger}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.migrate(ctx, upTo); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Driver is the engine the store runs on (SQLite or Postgres).
func (s *Store) Driver() string { return s.d.name }

// migrationLock names PostgreSQL's advisory lock that lets one replica
// at a time migrate a schema; the others wait, then find nothing to do.
// (SQLite's file has one writer and one watchtower.)
const migrationLock = `hashtext('constellation fleet migrations ' || current_schema())`

// migrate applies the migrations the database has not seen, up to
// version upTo, each in its own transaction, in the order of their
// numbers.
func (s *Store) migrate(ctx context.Context, upTo int64) error {
	if s.d.name == Postgres {
		// The lock belongs to a session: hold one connection for it.
		conn, err := s.db.Conn(ctx)
		if err != nil {
			return fmt.Errorf("fleet: migrations: %w", err)
		}
		defer conn.Close()
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock(`+migrationLock+`)`); err != nil {
			return fmt.Errorf("fleet: migrations: lock: %w", err)
		}
		defer func() {
			_, _ = conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock(`+migrationLock+`)`)
		}()
	}
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("fleet: migrations table: %w", err)
	}
	files, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("fleet: migrations: %w", err)
	}
	slices.Sort(files)
	for _, f := range files {
		num, _, _ := strings.Cut(path.Base(f), "_")
		version, err := strconv.ParseInt(num, 10, 64)
		if err != nil {
			return fmt.Errorf("fleet: migration %s: want a numbered file name", f)
		}
		if version > upTo {
			break
		}
		body, err := migrations.ReadFile(f)
		if err != nil {
			return fmt.Errorf("fleet: migration %s: %w", f, err)
		}
		err = s.rawTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM schema_migrations WHERE version = ?`), version).Scan(&n); err != nil || n > 0 {
				return err
			}
			for _, stmt := range statements(string(body)) {
				if _, err := tx.ExecContext(ctx, stmt); err != nil {
					return fmt.Errorf("%s: %w", firstLine(stmt), err)
				}
			}
			_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`), version, s.now())
			if err == nil {
				s.log.Info("schema migrated", "version", version, "driver", s.d.name)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("fleet: migration %s: %w", f, err)
		}
	}
	return nil
}

// statements splits a migration into its statements, without comments.
func statements(body string) []string {
	var lines []string
	for l := range strings.SplitSeq(body, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var out []string
	for stmt := range strings.SplitSeq(strings.Join(lines, "\n"), ";") {
		if stmt = strings.TrimSpace(stmt); stmt != "" {
			out = append(out, stmt)
		}
	}
	return out
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(s, "\n")
	return l
}

// inTx runs fn in a transaction, committed when fn returns nil. It is
// the write path of every audited change: when ctx carries a pending
// audit entry (WithAudit) not yet written, the entry goes in the same
// transaction, after fn's statements, so that the change and its entry
// are both committed or neither.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	p := pendingAudit(ctx)
	err := s.rawTx(ctx, func(tx *sql.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if p == nil {
			return nil
		}
		query, args := s.auditInsert(p.Audit, p.Action, p.Target, OutcomeOK, p.Message)
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
	if err == nil && p != nil {
		p.written.Store(true)
	}
	return err
}

// rawTx runs fn in a transaction, committed when fn returns nil.
func (s *Store) rawTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// exec, query and queryRow rebind a query for the store's engine.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) exec(ctx context.Context, q querier, query string, args ...any) (sql.Result, error) {
	return q.ExecContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) query(ctx context.Context, q querier, query string, args ...any) (*sql.Rows, error) {
	return q.QueryContext(ctx, s.d.rebind(query), args...)
}

func (s *Store) queryRow(ctx context.Context, q querier, query string, args ...any) *sql.Row {
	return q.QueryRowContext(ctx, s.d.rebind(query), args...)
}

// now is the clock's time in the store's unit.
func (s *Store) now() int64 { return s.clock.Now().UnixMilli() }

// ms converts a time to the store's unit; the zero time is 0.
func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// fromMS converts back; 0 is the zero time.
func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}
