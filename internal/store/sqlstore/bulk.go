package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// chunkSizes are the row counts of the multi-row statements bulk writes
// use: n rows go out as the fewest statements of these sizes (largest
// first, capped by the dialect's parameter limit). A small fixed set of
// statement texts can be prepared once per store and reused, instead of
// parsing a statement of a new size in every group commit. A group commit
// of the engine holds tens of rows per table: sizes close together keep
// it to a few statements (each costs more than a row).
var chunkSizes = []int{1024, 256, 64, 32, 16, 8, 4, 2, 1}

// maxInList bounds the values of one "IN (...)" list.
const maxInList = 1000

// rowFunc appends the values of row i to args.
type rowFunc func(i int, args []any) ([]any, error)

// bulkSpec is one kind of multi-row statement.
type bulkSpec struct {
	ncols int
	build func(rows int) string
}

// insertSpec is a multi-row INSERT: head is "INSERT INTO t (a, b, ...)",
// tail follows the VALUES list (an ON CONFLICT clause, or "").
func insertSpec(head string, ncols int, tail string) *bulkSpec {
	return &bulkSpec{ncols: ncols, build: func(rows int) string {
		return head + " VALUES " + valuesList(rows, ncols, nil) + tail
	}}
}

// updateSpec updates rows of table by id from a VALUES list: the first
// value of each row is the id, and set assigns columns from v.column2,
// v.column3, ... (both databases name the columns of a VALUES list
// column1, column2, ...). cond, unless empty, is a further condition on
// the rows updated. types are the SQL types of the values: the CASTs let
// PostgreSQL type the parameters. Rows must have distinct ids.
func updateSpec(table, set, cond string, types ...string) *bulkSpec {
	if cond != "" {
		cond = " AND " + cond
	}
	return &bulkSpec{ncols: len(types), build: func(rows int) string {
		return "UPDATE " + table + " SET " + set + " FROM (VALUES " +
			valuesList(rows, len(types), types) + ") AS v WHERE " + table + ".id = v.column1" + cond
	}}
}

type stmtKey struct {
	spec *bulkSpec
	rows int
}

// warm prepares, once per store, the statements of every chunk size of
// specs. It runs before a write transaction begins: on SQLite the one
// write connection is busy during the transaction, so preparing there
// would wait for itself.
func (s *Store) warm(ctx context.Context, specs ...*bulkSpec) error {
	for _, spec := range specs {
		for _, rows := range chunkSizes {
			k := stmtKey{spec, rows}
			if rows*spec.ncols > s.d.maxParams {
				continue
			}
			if _, ok := s.stmts.Load(k); ok {
				continue
			}
			st, err := s.w.PrepareContext(ctx, s.rq.sql(spec.build(rows)))
			if err != nil {
				return fmt.Errorf("store: prepare: %w", err)
			}
			if _, loaded := s.stmts.LoadOrStore(k, st); loaded {
				_ = st.Close()
			}
		}
	}
	return nil
}

// bulk writes n rows with the fewest statements of the chunk sizes,
// using the statements warm prepared (parsing one otherwise).
func (s *Store) bulk(ctx context.Context, tx conn, spec *bulkSpec, n int, row rowFunc) error {
	_, err := s.bulkCount(ctx, tx, spec, n, row)
	return err
}

// bulkCount is bulk, returning the rows the statements affected.
func (s *Store) bulkCount(ctx context.Context, tx conn, spec *bulkSpec, n int, row rowFunc) (int64, error) {
	var affected int64
	var args []any
	for done := 0; done < n; {
		size := 1
		for _, c := range chunkSizes {
			if c*spec.ncols <= s.d.maxParams && c <= n-done {
				size = c
				break
			}
		}
		args = args[:0]
		for i := done; i < done+size; i++ {
			var err error
			if args, err = row(i, args); err != nil {
				return affected, err
			}
		}
		var res sql.Result
		var err error
		if st, ok := s.stmts.Load(stmtKey{spec, size}); ok {
			res, err = tx.tx.StmtContext(ctx, st.(*sql.Stmt)).ExecContext(ctx, args...)
		} else {
			res, err = tx.ExecContext(ctx, spec.build(size), args...)
		}
		if err != nil {
			return affected, err
		}
		k, err := res.RowsAffected()
		if err != nil {
			return affected, err
		}
		affected += k
		done += size
	}
	return affected, nil
}

// valuesList returns "(?, ?), (?, ?)" for rows x ncols parameters, each
// wrapped in CAST(? AS type) when types is set.
func valuesList(rows, ncols int, types []string) string {
	var row strings.Builder
	row.WriteByte('(')
	for c := range ncols {
		if c > 0 {
			row.WriteString(", ")
		}
		if types != nil {
			row.WriteString("CAST(? AS " + types[c] + ")")
		} else {
			row.WriteByte('?')
		}
	}
	row.WriteByte(')')
	return strings.TrimSuffix(strings.Repeat(row.String()+", ", rows), ", ")
}

// chunks calls fn with successive slices of at most size items.
func chunks[T any](items []T, size int, fn func([]T) error) error {
	for len(items) > 0 {
		n := min(size, len(items))
		if err := fn(items[:n]); err != nil {
			return err
		}
		items = items[n:]
	}
	return nil
}

// filter builds a WHERE clause. Parameters are positional ("?"), so
// conditions and params must be added in the order they appear in the
// query text.
type filter struct {
	conds []string
	args  []any
}

// add appends a condition whose "?"s stand for args.
func (f *filter) add(cond string, args ...any) {
	f.conds = append(f.conds, cond)
	f.args = append(f.args, args...)
}

// in appends "col IN (...)" unless vals is empty.
func (f *filter) in(col string, vals []any) {
	if len(vals) == 0 {
		return
	}
	f.add(col+" IN ("+placeholders(len(vals))+")", vals...)
}

// where returns " WHERE a AND b", or "" without conditions.
func (f *filter) where() string {
	if len(f.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(f.conds, " AND ")
}

// param adds one argument and returns its placeholder.
func (f *filter) param(v any) string {
	f.args = append(f.args, v)
	return "?"
}

// limit returns " LIMIT ?" with n as its argument, or "" when n <= 0
// (no limit).
func (f *filter) limit(n int) string {
	if n <= 0 {
		return ""
	}
	return " LIMIT " + f.param(n)
}

// eq adds "col = v" unless v is the zero value (no filter).
func eq[T comparable](f *filter, col string, v T) {
	var zero T
	if v != zero {
		f.add(col+" = ?", v)
	}
}

type allocKey string

// warmAlloc prepares the ID allocation query of tables (SQLite), before a
// write transaction begins, like warm.
func (s *Store) warmAlloc(ctx context.Context, tables ...string) error {
	if s.d.name != "sqlite" {
		return nil
	}
	for _, t := range tables {
		if _, ok := s.stmts.Load(allocKey(t)); ok {
			continue
		}
		st, err := s.w.PrepareContext(ctx, sqliteAllocSQL(t))
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		if _, loaded := s.stmts.LoadOrStore(allocKey(t), st); loaded {
			_ = st.Close()
		}
	}
	return nil
}

func (s *Store) allocStmt(table string) *sql.Stmt {
	if st, ok := s.stmts.Load(allocKey(table)); ok {
		return st.(*sql.Stmt)
	}
	return nil
}
