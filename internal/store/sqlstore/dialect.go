package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"net/url"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers "pgx"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"modernc.org/sqlite" // registers "sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations
var migrations embed.FS

// dialect is everything that differs between SQLite and PostgreSQL.
type dialect struct {
	name  string
	goose goose.Dialect
	// maxParams bounds the parameters of one statement (SQLite's default
	// limit is 32766, PostgreSQL's 65535).
	maxParams int
	// skipLocked ends the lease candidate query: on PostgreSQL two
	// leasers skip each other's rows instead of taking the same job. On
	// SQLite the single writer already serializes leasers.
	skipLocked string
	// forUpdate ends a read of rows a transaction is about to rewrite
	// from what it read (entitlement lists), so concurrent writers on
	// PostgreSQL do not lose each other's updates.
	forUpdate string
	// serialize, when set, is run first in transactions that must not
	// interleave with one another (imports), across processes.
	serialize string
	// runLock, when set, is run first in transactions that make jobs
	// executable (new runs, approvals, retries), so that their check for
	// taken persons and their insert are one step across processes. The
	// unique index jobs_one_unfinished backs it; SQLite's single writer
	// serializes these transactions already.
	runLock string
	// reconLock, when set, is run first in StartRecon, so that its check
	// for a reconciliation of the cycle and its claim are one step across
	// processes.
	reconLock string
	// analyzeAfter, when set, is the size of a new run after which table
	// statistics are refreshed at once.
	analyzeAfter int
}

var sqliteDialect = dialect{
	name: "sqlite", goose: goose.DialectSQLite3, maxParams: 32000,
}

var postgresDialect = dialect{
	name: "postgres", goose: goose.DialectPostgres, maxParams: 65000,
	skipLocked: " FOR UPDATE OF j SKIP LOCKED",
	forUpdate:  " FOR UPDATE",
	// An arbitrary constant key for the import lock: "accord" in ASCII.
	serialize:    "SELECT pg_advisory_xact_lock(97990111114100)",
	runLock:      "SELECT pg_advisory_xact_lock(97990111114101)",
	reconLock:    "SELECT pg_advisory_xact_lock(97990111114102)",
	analyzeAfter: 10000,
}

// retryable reports whether a failed write transaction may simply be run
// again.
func (d dialect) retryable(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "40001" || pgErr.Code == "40P01"
	}
	return false
}

// uniqueViolation reports whether err is a duplicate key, by the
// driver's error code, not its words: PostgreSQL's unique_violation
// (23505), SQLite's extended codes for a UNIQUE or PRIMARY KEY constraint.
func (d dialect) uniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" // unique_violation
	}
	var liteErr *sqlite.Error
	if errors.As(err, &liteErr) {
		code := liteErr.Code()
		return code == sqlite3.SQLITE_CONSTRAINT_UNIQUE || code == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// allocIDs reserves n new IDs of table (ascending), so that bulk inserts
// can name their rows without relying on the order of RETURNING, which
// neither database promises for multi-row inserts.
func (d dialect) allocIDs(ctx context.Context, tx conn, table string, n int) ([]int64, error) {
	return d.allocIDsWith(ctx, tx, nil, table, n)
}

// sqliteAllocSQL finds the last ID of table. The write transaction is
// IMMEDIATE, so nobody else inserts until it ends. AUTOINCREMENT never
// reuses an ID, even of a deleted last row: honour sqlite_sequence as well
// as the live maximum.
func sqliteAllocSQL(table string) string {
	return `SELECT MAX((SELECT COALESCE(MAX(id), 0) FROM ` + table + `),
			COALESCE((SELECT seq FROM sqlite_sequence WHERE name = '` + table + `'), 0))`
}

// allocIDsWith is allocIDs using a statement prepared ahead (SQLite: the
// query costs more to parse than to run, and runs in every commit).
func (d dialect) allocIDsWith(ctx context.Context, tx conn, prepared *sql.Stmt, table string, n int) ([]int64, error) {
	if n == 0 {
		return nil, nil
	}
	if d.name == "sqlite" {
		var last int64
		var err error
		if prepared != nil && tx.tx != nil {
			err = tx.tx.StmtContext(ctx, prepared).QueryRowContext(ctx).Scan(&last)
		} else {
			err = tx.QueryRowContext(ctx, sqliteAllocSQL(table)).Scan(&last)
		}
		if err != nil {
			return nil, fmt.Errorf("allocate %s ids: %w", table, err)
		}
		ids := make([]int64, n)
		for i := range ids {
			ids[i] = last + 1 + int64(i)
		}
		return ids, nil
	}
	ids, err := all(ctx, tx, "allocate "+table+" ids",
		`SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)`, []any{table, n},
		func(sc scanner) (int64, error) {
			var id int64
			err := sc.Scan(&id)
			return id, err
		})
	if err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

// sqliteDSN builds the modernc DSN for path. Writers use WAL (readers
// never block the writer), synchronous=NORMAL (durable at checkpoints and
// safe from corruption in WAL) and IMMEDIATE transactions, so a write
// transaction takes the lock when it begins instead of failing halfway.
func sqliteDSN(path string, write bool) string {
	q := url.Values{}
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "1")
	q.Set("_time_format", "sqlite")
	q.Set("_synchronous", "NORMAL")
	if write {
		q.Set("_journal_mode", "WAL")
		q.Set("_txlock", "immediate")
	} else {
		q.Set("_query_only", "1")
	}
	q.Add("_pragma", "temp_store(MEMORY)")
	return path + "?" + q.Encode()
}

func openSQLite(ctx context.Context, path string, readConns int) (w, r *sql.DB, err error) {
	switch {
	case path == "":
		return nil, nil, errors.New("sqlite store: empty database path")
	case strings.ContainsAny(path, "?#") || path == ":memory:" || strings.HasPrefix(path, "file:"):
		// A query in the path would be taken as driver parameters, and an
		// in-memory database would be a different one per pool.
		return nil, nil, fmt.Errorf("sqlite store %q: want a plain file path", path)
	}
	w, err = sql.Open("sqlite", sqliteDSN(path, true))
	if err != nil {
		return nil, nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)
	// Migrating first also switches the file to WAL before any reader
	// opens it.
	if err := migrate(ctx, w, sqliteDialect); err != nil {
		_ = w.Close()
		return nil, nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	r, err = sql.Open("sqlite", sqliteDSN(path, false))
	if err != nil {
		_ = w.Close()
		return nil, nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	r.SetMaxOpenConns(readConns)
	r.SetMaxIdleConns(readConns)
	if err := r.PingContext(ctx); err != nil {
		_ = w.Close()
		_ = r.Close()
		return nil, nil, fmt.Errorf("sqlite store %s: %w", path, err)
	}
	return w, r, nil
}

func openPostgres(ctx context.Context, dsn string, conns int) (*sql.DB, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		// pgx may echo the DSN, password included: say only what failed.
		return nil, errors.New("postgres store: invalid connection string")
	}
	db.SetMaxOpenConns(conns)
	db.SetMaxIdleConns(conns)
	if err := migrate(ctx, db, postgresDialect); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("postgres store: %w", err)
	}
	return db, nil
}

// migrate applies the embedded migrations of d that db lacks. The
// provider is local (no goose globals), so stores in one process do not
// interfere; on PostgreSQL a session advisory lock keeps processes that
// start together from migrating twice.
func migrate(ctx context.Context, db *sql.DB, d dialect) error {
	fsys, err := fs.Sub(migrations, "migrations/"+d.name)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
	}
	if d.name == "postgres" {
		// One lock per database and schema: stores in other schemas of the
		// same database (tests, tenants) migrate without waiting on it.
		var where string
		if err := db.QueryRowContext(ctx, `SELECT current_database() || '.' || COALESCE(current_schema(), '')`).Scan(&where); err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		h := fnv.New64a()
		_, _ = h.Write([]byte("accord migrations " + where))
		locker, err := lock.NewPostgresSessionLocker(
			lock.WithLockID(int64(h.Sum64()>>1)),
			lock.WithLockTimeout(1, 300),
		)
		if err != nil {
			return fmt.Errorf("migrations: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(d.goose, db, fsys, opts...)
	if err != nil {
		return fmt.Errorf("migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}
