package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/accord-iam/accord/internal/store"
)

// unwritableError is a write the store refused because of the store
// itself (read-only, full), named as such: "unable to open database file
// (14)" tells an operator nothing, "database file is read-only: PATH"
// does. The database's own words stay in the text.
type unwritableError struct {
	msg string
	err error
}

func (e *unwritableError) Error() string { return e.msg }

func (e *unwritableError) Unwrap() []error {
	if e.err == nil {
		return []error{store.ErrUnwritable}
	}
	return []error{store.ErrUnwritable, e.err}
}

func unwritable(msg string, err error) error {
	if err != nil {
		msg += " (" + err.Error() + ")"
	}
	return &unwritableError{msg: msg, err: err}
}

// SQLite primary result codes (an extended code keeps its primary code in
// the low byte).
const (
	sqliteReadOnly = 8
	sqliteIOErr    = 10
	sqliteFull     = 13
	sqliteCantOpen = 14
)

// named returns err, or err named as a read-only or full store when that
// is why it failed.
func (s *Store) named(err error) error {
	if err == nil || errors.Is(err, store.ErrUnwritable) {
		return err
	}
	if s.d.name == "sqlite" {
		var se interface{ Code() int }
		if !errors.As(err, &se) {
			return err
		}
		switch se.Code() & 0xff {
		case sqliteReadOnly, sqliteIOErr, sqliteFull, sqliteCantOpen:
			return nameSQLite(s.path, err)
		}
		return err
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "53100": // disk_full
			return unwritable("disk full: the PostgreSQL server has no space left", err)
		case pgErr.Code == "25006": // read_only_sql_transaction
			return unwritable("database is read-only: the PostgreSQL server accepts no writes (a standby, or default_transaction_read_only)", err)
		}
	}
	return err
}

// nameSQLite names why the SQLite file at path could not be opened or
// written. The file system is asked first: it knows a read-only mount or a
// full disk for certain, where SQLite reports either as several codes.
func nameSQLite(path string, err error) error {
	if why := fsProblem(path); why != "" {
		return unwritable(why, err)
	}
	var se interface{ Code() int }
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqliteReadOnly:
			return unwritable("database file is read-only: "+path, err)
		case sqliteFull:
			return unwritable("disk full: "+path, err)
		}
	}
	return err
}

// ProbeWrite proves, as far as anything can, that the store accepts
// writes now (readiness, and `enforce --wait` deciding whether it can go
// on). A committed write is required: a rolled-back transaction proves
// nothing. On PostgreSQL the commit waits for its WAL flush, so it fails
// on a full disk or a read-only server. On SQLite a small commit is not
// enough: WAL frames are rewritten in place after a checkpoint, and a
// file opened before a chmod stays writable, so a one-row commit can
// succeed on a full disk. The file system is therefore asked as well:
// a read-only mount, a file or directory without write permission, or
// less than minFree bytes free is named and fails the probe.
func (s *Store) ProbeWrite(ctx context.Context) error {
	if s.d.name == "sqlite" {
		if why := fsProblem(s.path); why != "" {
			return unwritable(why, nil)
		}
	}
	return s.write(ctx, func(tx conn) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO store_probe (id, at) VALUES (1, ?)
			ON CONFLICT (id) DO UPDATE SET at = excluded.at`, micros(s.now()))
		if err != nil {
			return fmt.Errorf("store write probe: %w", err)
		}
		return nil
	})
}

// minFree is the free space under which a SQLite store is called full: a
// run's commit of a few thousand actions needs about this much.
const minFree = 1 << 20
