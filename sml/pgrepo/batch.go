package pgrepo

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// stmt is a statement queued in a transaction.
type stmt struct {
	sql  string
	args []any
	// write marks a write that may wait until a read needs it, or the commit; the other statements (BEGIN, the
	// lock, CLOSE of a cursor) go with the next round trip.
	write bool
	table string
	// bulk is set on an upsert that may be sent together with others of its kind, as one statement.
	bulk *bulk
}

// bulk is an upsert of one row that several queued ones share as one multi-row statement (unnest of arrays).
type bulk struct {
	table string
	// multi is the statement of many rows: its parameters are one array per column.
	multi string
	// key is the conflict key of a row (one statement may not touch a row twice: the last put wins).
	key func(args []any) string
}

// tx is one transaction: writes are queued until a read needs them (it reads a key written since the last round
// trip, or lists, or counts) or the commit, and then sent in one round trip with the read.
type tx struct {
	ctx     context.Context
	conn    *pgx.Conn
	write   bool
	queued  []stmt
	sent    bool
	lastTag string
	// dirty holds the keys written by the queued writes; all is set when a queued write touches keys not
	// listed (a delete by zone, a bulk put).
	dirty map[string]struct{}
	all   bool
	// err is the first database error: it fails the transaction, whatever fn returns.
	err error
	// moved is the last serial PutZone gave each zone (notified at commit).
	moved   map[string]uint32
	cursors int
	// cache holds rows read by Prefetch (absent{} for a row that does not exist); a write of a row removes it.
	cache map[string]any
}

// absent is the cached answer "no such row".
type absent struct{}

// queue queues a statement that is sent with the next round trip.
func (t *tx) queue(sql string, args ...any) {
	t.queued = append(t.queued, stmt{sql: sql, args: args})
}

// put queues a write of the row key ("" = of rows not named).
func (t *tx) put(key, table, sql string, args ...any) error {
	if t.err != nil {
		return t.err
	}
	t.queued = append(t.queued, stmt{sql: sql, args: args, write: true, table: table})
	t.mark(key)
	return nil
}

// putBulk queues an upsert of kind b.
func (t *tx) putBulk(b *bulk, key, sql string, args ...any) error {
	if t.err != nil {
		return t.err
	}
	t.queued = append(t.queued, stmt{sql: sql, args: args, write: true, table: b.table, bulk: b})
	t.mark(key)
	return nil
}

func (t *tx) mark(key string) {
	if key == "" {
		t.all = true
		t.cache = nil
		return
	}
	delete(t.cache, key)
	if t.dirty == nil {
		t.dirty = map[string]struct{}{}
	}
	t.dirty[key] = struct{}{}
}

// needs reports whether a read of key must send the queued writes first ("" = a read of many keys).
func (t *tx) needs(key string) bool {
	if key == "" || t.all {
		return true
	}
	_, ok := t.dirty[key]
	return ok
}

func (t *tx) fail(err error) error {
	if t.err == nil {
		t.err = unavailable(fmt.Errorf("postgres: %w", err))
	}
	return t.err
}

// send sends the queued statements (the writes only when flush is set) and then the query q (when not "") in
// one round trip; read reads q's rows (and must not call the transaction).
func (t *tx) send(flush bool, q string, args []any, read func(pgx.Rows) error) error {
	if t.err != nil {
		return t.err
	}
	var out []stmt
	if flush {
		out = coalesce(t.queued)
		t.queued = t.queued[:0]
		t.dirty, t.all = nil, false
	} else {
		kept := t.queued[:0]
		for _, s := range t.queued {
			if s.write {
				kept = append(kept, s)
			} else {
				out = append(out, s)
			}
		}
		t.queued = kept
	}
	if len(out) == 0 && q != "" {
		// A read alone: no batch.
		t.sent = true
		if err := readRows(t.conn.Query(t.ctx, q, args...))(read); err != nil {
			return t.fail(err)
		}
		return nil
	}
	b := &pgx.Batch{}
	for _, s := range out {
		b.Queue(s.sql, s.args...)
	}
	if q != "" {
		b.Queue(q, args...)
	}
	if b.Len() == 0 {
		return nil
	}
	t.sent = true
	br := t.conn.SendBatch(t.ctx, b)
	for range out {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return t.fail(err)
		}
		t.lastTag = tag.String()
	}
	if q != "" {
		if err := readRows(br.Query())(read); err != nil {
			_ = br.Close()
			return t.fail(err)
		}
	}
	if err := br.Close(); err != nil {
		return t.fail(err)
	}
	return nil
}

// get runs a query of at most one row, that reads the row key ("" = many rows); found is false when it has none.
func (t *tx) get(key, q string, args []any, dest ...any) (found bool, err error) {
	err = t.send(t.needs(key), q, args, func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		found = true
		return rows.Scan(dest...)
	})
	return found, err
}

// coalesce joins the queued upserts of each bulk kind into one statement: it is sent where the first of them was,
// or before the next other write of its table (order matters within a table only), or before the next statement
// that is not a write (which may read anything).
func coalesce(in []stmt) []stmt {
	out := make([]stmt, 0, len(in))
	type group struct {
		at    int // index in out of its placeholder
		rows  [][]any
		index map[string]int
	}
	groups := map[*bulk]*group{}
	finish := func(b *bulk, g *group) {
		delete(groups, b)
		if len(g.rows) == 1 {
			out[g.at].args = g.rows[0] // the single-row statement
			return
		}
		out[g.at] = stmt{sql: b.multi, args: columns(g.rows), write: true, table: b.table}
	}
	closeAll := func(table string) {
		for b, g := range groups {
			if table == "" || b.table == table {
				finish(b, g)
			}
		}
	}
	for _, s := range in {
		switch {
		case s.bulk != nil:
			g := groups[s.bulk]
			if g == nil {
				g = &group{at: len(out), index: map[string]int{}}
				groups[s.bulk] = g
				out = append(out, s) // placeholder: the single-row form until close
			}
			k := s.bulk.key(s.args)
			if i, ok := g.index[k]; ok {
				g.rows[i] = s.args
			} else {
				g.index[k] = len(g.rows)
				g.rows = append(g.rows, s.args)
			}
		case s.write:
			closeAll(s.table)
			out = append(out, s)
		default:
			closeAll("")
			out = append(out, s)
		}
	}
	closeAll("")
	return out
}

// columns turns rows into one array per column, the parameters of a bulk statement.
func columns(rows [][]any) []any {
	cols := make([]any, len(rows[0]))
	for c := range cols {
		switch rows[0][c].(type) {
		case string:
			a := make([]string, len(rows))
			for i, r := range rows {
				a[i] = r[c].(string)
			}
			cols[c] = a
		case []byte:
			a := make([][]byte, len(rows))
			for i, r := range rows {
				a[i] = r[c].([]byte)
			}
			cols[c] = a
		case int64:
			a := make([]int64, len(rows))
			for i, r := range rows {
				a[i] = r[c].(int64)
			}
			cols[c] = a
		default:
			a := make([]any, len(rows))
			for i, r := range rows {
				a[i] = r[c]
			}
			cols[c] = a
		}
	}
	return cols
}

// keyOf joins the parts of a row's key.
func keyOf(parts ...string) string { return strings.Join(parts, "\x00") }

// cursorName names the transaction's next cursor.
func (t *tx) cursorName() string {
	t.cursors++
	return "c" + strconv.Itoa(t.cursors)
}

// readRows returns a function that hands the rows of a query to read and closes them: the query's error, read's,
// or the rows' own.
func readRows(rows pgx.Rows, err error) func(read func(pgx.Rows) error) error {
	return func(read func(pgx.Rows) error) error {
		if err != nil {
			return err
		}
		err := read(rows)
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		return err
	}
}
