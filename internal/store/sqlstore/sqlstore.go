// Package sqlstore is accord's store on database/sql: one implementation
// for SQLite (modernc.org/sqlite, pure Go, the embedded default) and
// PostgreSQL (pgx), with a versioned schema per dialect migrated on open.
//
// Both dialects share one layout and one set of queries: times are unix
// microseconds, dates are YYYY-MM-DD text and structured values are JSON
// text. The differences (ID allocation, row locking, pools) live in
// dialect.go.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/accord-iam/accord/internal/store"
)

var _ store.Store = (*Store)(nil)

// Store implements store.Store on SQLite or PostgreSQL.
type Store struct {
	// w runs every write transaction. On SQLite it holds one connection
	// that begins transactions IMMEDIATE, so writers queue in Go instead
	// of failing with SQLITE_BUSY; on PostgreSQL w and r are one pool.
	w *sql.DB
	r *sql.DB
	// rq reads outside transactions, from r.
	rq  conn
	d   dialect
	now func() time.Time
	// path is the SQLite database file ("" on PostgreSQL): named when it
	// cannot be written, and the lock of its one executor sits beside it.
	path string
	// stmts holds the prepared bulk statements (see warm).
	stmts sync.Map
	// cache holds the other prepared statements, by text.
	cache *stmtCache
}

// Option tunes Open.
type Option func(*options)

type options struct {
	maxConns int
	now      func() time.Time
}

// WithMaxConns bounds the connections of the read pool (SQLite) or the
// whole pool (PostgreSQL).
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = n } }

// WithNow sets the clock used where a method takes no time argument
// (defaults of CreateRun and PutPerson).
func WithNow(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Open opens (creating if needed) and migrates a store. driver is "sqlite",
// whose dsn is a file path, or "postgres" (also "pgx"), whose dsn is a
// PostgreSQL URL or keyword/value string.
func Open(ctx context.Context, driver, dsn string, opts ...Option) (*Store, error) {
	o := options{now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	s := &Store{now: o.now, cache: &stmtCache{}}
	var err error
	switch driver {
	case "sqlite", "sqlite3":
		s.d, s.path = sqliteDialect, dsn
		s.w, s.r, err = openSQLite(ctx, dsn, cmp.Or(o.maxConns, max(4, runtime.GOMAXPROCS(0))))
		if err != nil && dsn != "" {
			err = nameSQLite(dsn, err)
		}
	case "postgres", "postgresql", "pgx":
		s.d = postgresDialect
		s.w, err = openPostgres(ctx, dsn, cmp.Or(o.maxConns, max(10, 2*runtime.GOMAXPROCS(0))))
		s.r = s.w
	default:
		return nil, fmt.Errorf("store driver %q: unknown (want sqlite or postgres)", driver)
	}
	if err != nil {
		return nil, err
	}
	s.rq = s.conn(s.r)
	return s, nil
}

// OpenSQLite opens the SQLite database file at path.
func OpenSQLite(ctx context.Context, path string, opts ...Option) (*Store, error) {
	return Open(ctx, "sqlite", path, opts...)
}

// Close closes the pools.
func (s *Store) Close() error {
	var err error
	s.stmts.Range(func(k, v any) bool {
		err = errors.Join(err, v.(*sql.Stmt).Close())
		s.stmts.Delete(k)
		return true
	})
	err = errors.Join(err, s.cache.close())
	err = errors.Join(err, s.w.Close())
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	return err
}

// Ping checks both pools.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if s.r != s.w {
		if err := s.r.PingContext(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
	}
	return nil
}

// Driver reports the dialect: "sqlite" or "postgres".
func (s *Store) Driver() string { return s.d.name }

// DB exposes the write pool for tools and tests that need raw SQL.
func (s *Store) DB() *sql.DB { return s.w }

// queryer is what read helpers need from a pool or a transaction.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// conn runs queries written with "?" placeholders. SQLite takes them as
// they are: positional parameters bind in constant time, whereas "$N" are
// named parameters that the driver resolves by a linear search each,
// quadratic for a thousand-row INSERT. PostgreSQL gets "$1, $2, ...".
type conn struct {
	q  queryer
	tx *sql.Tx // set inside transactions
	// writeTx: tx is a write transaction (on the write pool); otherwise a
	// read snapshot on the read pool.
	writeTx bool
	pg      bool
	db      *sql.DB // the pool, outside transactions
	cache   *stmtCache
}

func (s *Store) conn(q queryer) conn {
	tx, _ := q.(*sql.Tx)
	db, _ := q.(*sql.DB)
	return conn{q: q, tx: tx, db: db, pg: s.d.name == "postgres", cache: s.cache}
}

// stmt returns a prepared statement for text, or nil to run it as is.
func (c conn) stmt(ctx context.Context, text string) *sql.Stmt {
	switch {
	case c.cache == nil:
		return nil
	case c.tx != nil && c.writeTx:
		return c.cache.txStmt(ctx, c.tx, text)
	case c.tx != nil:
		if st := c.cache.readStmtLoaded(text); st != nil {
			return c.tx.StmtContext(ctx, st)
		}
		return nil
	case c.db != nil:
		return c.cache.readStmt(ctx, c.db, text)
	}
	return nil
}

func (c conn) sql(query string) string {
	if !c.pg {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + len(query)/8)
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

func (c conn) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	text := c.sql(query)
	if st := c.stmt(ctx, text); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.q.QueryContext(ctx, text, args...)
}

func (c conn) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	text := c.sql(query)
	if st := c.stmt(ctx, text); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.q.QueryRowContext(ctx, text, args...)
}

func (c conn) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	text := c.sql(query)
	if st := c.stmt(ctx, text); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return c.q.ExecContext(ctx, text, args...)
}

func (c conn) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	return c.q.PrepareContext(ctx, c.sql(query))
}

// write runs fn in one write transaction, retrying it from the start when
// PostgreSQL aborts it for a deadlock or serialization failure (several
// engine processes committing at once). fn must not keep effects outside
// tx across tries other than overwriting what it sets.
func (s *Store) write(ctx context.Context, fn func(tx conn) error) error {
	for try := 1; ; try++ {
		err := s.tryWrite(ctx, fn)
		if err == nil || try >= 5 || !s.d.retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return err
		}
	}
}

func (s *Store) tryWrite(ctx context.Context, fn func(tx conn) error) (err error) {
	s.cache.prepareWrites(ctx, s.w)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.named(fmt.Errorf("store: begin: %w", err))
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	c := s.conn(tx)
	c.writeTx = true
	if err = fn(c); err != nil {
		return s.named(err)
	}
	if err = tx.Commit(); err != nil {
		return s.named(fmt.Errorf("store: commit: %w", err))
	}
	return nil
}

// read runs fn in one read-only snapshot, so that multi-query reads (a
// run and its counts) are consistent. A SQLite read transaction is a
// snapshot already; PostgreSQL needs REPEATABLE READ for one.
func (s *Store) read(ctx context.Context, fn func(tx conn) error) error {
	var opts *sql.TxOptions
	if s.d.name == "postgres" {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	return fn(s.conn(tx))
}

// notFound wraps store.ErrNotFound with what was looked for.
func notFound(what string, key any) error {
	return fmt.Errorf("%s %v: %w", what, key, store.ErrNotFound)
}

// placeholders returns "?, ?, ..." for n parameters.
func placeholders(n int) string {
	if n == 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// each runs query and calls fn with every row that scan reads. An error
// of fn ends the walk and comes back as it is; database errors are
// wrapped with what.
func each[T any](ctx context.Context, q conn, what, query string, args []any, scan func(scanner) (T, error), fn func(T) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if err := fn(v); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// all collects the rows of query.
func all[T any](ctx context.Context, q conn, what, query string, args []any, scan func(scanner) (T, error)) ([]T, error) {
	var out []T
	err := each(ctx, q, what, query, args, scan, func(v T) error {
		out = append(out, v)
		return nil
	})
	return out, err
}

func scanString(sc scanner) (string, error) {
	var s string
	err := sc.Scan(&s)
	return s, err
}

func scanInt64(sc scanner) (int64, error) {
	var n int64
	err := sc.Scan(&n)
	return n, err
}

// count is a row of a GROUP BY key, COUNT(*) query.
type count struct {
	key string
	n   int
}

func scanCount(sc scanner) (count, error) {
	var c count
	err := sc.Scan(&c.key, &c.n)
	return c, err
}

func scanStrings2(sc scanner) ([2]string, error) {
	var r [2]string
	err := sc.Scan(&r[0], &r[1])
	return r, err
}
