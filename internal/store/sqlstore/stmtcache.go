package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// stmtCache keeps prepared statements by their SQL text. SQLite spends
// more time parsing a query such as the lease than running it, and every
// engine round runs the same few; PostgreSQL saves a planning round trip.
//
// Reads outside transactions prepare on the read pool at first use.
// Inside a write transaction a statement can only be used if it was
// prepared before the transaction began: on SQLite the one write
// connection is the transaction's, and preparing on the pool would wait
// for it forever. So a query first seen inside a transaction runs
// unprepared and is noted; the next write prepares it beforehand.
type stmtCache struct {
	read    sync.Map // text -> *sql.Stmt on the read pool
	write   sync.Map // text -> *sql.Stmt on the write pool
	pending sync.Map // text -> struct{}: seen in a transaction, not yet prepared
	size    atomic.Int64
}

// maxCached bounds the cache: queries whose text varies with their
// arguments (IN lists of any length) must not fill memory.
const maxCached = 512

func (c *stmtCache) full() bool { return c.size.Load() >= maxCached }

// readStmt returns the read-pool statement for text, preparing it once.
func (c *stmtCache) readStmt(ctx context.Context, db *sql.DB, text string) *sql.Stmt {
	if st, ok := c.read.Load(text); ok {
		return st.(*sql.Stmt)
	}
	if c.full() {
		return nil
	}
	st, err := db.PrepareContext(ctx, text)
	if err != nil {
		return nil // the unprepared query will report the error
	}
	if prev, loaded := c.read.LoadOrStore(text, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt)
	}
	c.size.Add(1)
	return st
}

// readStmtLoaded returns the read-pool statement for text if one was
// prepared already (a read snapshot cannot prepare on its own pool).
func (c *stmtCache) readStmtLoaded(text string) *sql.Stmt {
	if st, ok := c.read.Load(text); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// txStmt returns the write-pool statement for text bound to tx, or nil
// (noting the text to prepare before the next transaction).
func (c *stmtCache) txStmt(ctx context.Context, tx *sql.Tx, text string) *sql.Stmt {
	if st, ok := c.write.Load(text); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt))
	}
	if !c.full() {
		c.pending.Store(text, struct{}{})
	}
	return nil
}

// prepareWrites prepares, outside any transaction, the statements noted
// inside earlier ones.
func (c *stmtCache) prepareWrites(ctx context.Context, db *sql.DB) {
	c.pending.Range(func(k, _ any) bool {
		text := k.(string)
		c.pending.Delete(text)
		if _, ok := c.write.Load(text); ok || c.full() {
			return true
		}
		st, err := db.PrepareContext(ctx, text)
		if err != nil {
			return true
		}
		if _, loaded := c.write.LoadOrStore(text, st); loaded {
			_ = st.Close()
		} else {
			c.size.Add(1)
		}
		return true
	})
}

func (c *stmtCache) close() error {
	var first error
	for _, m := range []*sync.Map{&c.read, &c.write} {
		m.Range(func(k, v any) bool {
			if err := v.(*sql.Stmt).Close(); err != nil && first == nil {
				first = err
			}
			m.Delete(k)
			return true
		})
	}
	return first
}
