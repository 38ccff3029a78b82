// Package pgrepo implements the SML's repository (sml.Repo), its console store (sml.ConsoleStore) and its change
// feed (sml.ChangeFeed) on PostgreSQL, in the schema "sml" (internal/pgstore; the tables are in migrations/ and
// docs/sml.md). Several SML nodes may share one database.
//
// Transactions. Every write transaction (Update and Batch) takes one transaction-level advisory lock first: the
// SML's writers run one at a time across all nodes, as bbolt's single writer does on one, so serials and journal
// sequence numbers never race. View is a read-only REPEATABLE READ snapshot.
//
// Round trips. A use case reads a few keys and writes a few rows per participant; one round trip per statement
// would make a batch of 100 participants slow. So writes are queued in the transaction and sent with the next read
// (which then sees them: a read-your-writes transaction) or with the COMMIT, in one pipelined batch; BEGIN and the
// lock travel with the first read. A listing reads through a cursor in chunks, so its callback may read and write.
package pgrepo

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/zone"
)

// Schema is the PostgreSQL schema of the SML's tables.
const Schema = "sml"

// Channel is the LISTEN/NOTIFY channel of committed zone changes: payload "<zone> <serial>".
const Channel = "sml_changes"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the schema's migrations (files NNN_name.sql, applied in order by pgstore.Open).
func Migrations() (fs.FS, error) { return fs.Sub(migrationFiles, "migrations") }

// The repository's interface has no context: each transaction is bounded by a timeout instead. A write may rebuild
// a whole zone's name index (after a change of a domain's record settings); a view may stream a whole zone to a
// secondary (AXFR) from one snapshot.
const (
	DefaultTimeout     = 5 * time.Minute
	DefaultViewTimeout = 30 * time.Minute
)

// Options tune Open.
type Options struct {
	Log *slog.Logger
	// Timeout bounds each write transaction (Update, Batch); default DefaultTimeout.
	Timeout time.Duration
	// ViewTimeout bounds each View; default DefaultViewTimeout.
	ViewTimeout time.Duration
	// MaxConns bounds the connection pool (default: pgxpool's).
	MaxConns int32
}

// Repo is the SML's repository on PostgreSQL. It implements sml.Repo and sml.ChangeFeed.
type Repo struct {
	db                   *pgstore.DB
	timeout, viewTimeout time.Duration
}

var (
	_ sml.Repo         = (*Repo)(nil)
	_ sml.ChangeFeed   = (*Repo)(nil)
	_ sml.ConsoleStore = ConsoleStore{}
)

// Open connects to dsn, migrates the schema "sml" (refusing a schema newer than this binary, with
// pgstore.ErrNewerSchema) and returns the repository. Close it when done.
func Open(ctx context.Context, dsn string, o Options) (*Repo, error) {
	m, err := Migrations()
	if err != nil {
		return nil, err
	}
	db, err := pgstore.Open(ctx, dsn, Schema, m, pgstore.Options{Log: o.Log, MaxConns: o.MaxConns})
	if err != nil {
		return nil, err
	}
	return New(db, o), nil
}

// New returns the repository on an open database (whose search_path is the schema "sml").
func New(db *pgstore.DB, o Options) *Repo {
	r := &Repo{db: db, timeout: o.Timeout, viewTimeout: o.ViewTimeout}
	if r.timeout <= 0 {
		r.timeout = DefaultTimeout
	}
	if r.viewTimeout <= 0 {
		r.viewTimeout = DefaultViewTimeout
	}
	return r
}

// DB is the database the repository is on.
func (r *Repo) DB() *pgstore.DB { return r.db }

// Close closes the connection pool.
func (r *Repo) Close() { r.db.Close() }

// Ping checks that the database answers (pgstore.ErrUnavailable when it does not).
func (r *Repo) Ping(ctx context.Context) error { return r.db.Ping(ctx) }

// Console returns the console's users and sessions in the same database.
func (r *Repo) Console() ConsoleStore { return NewConsoleStore(r.db) }

// Update runs fn in one read-write transaction, under the SML's write lock, and commits it.
func (r *Repo) Update(fn func(sml.Tx) error) error { return r.run(true, fn) }

// Batch is Update: each call commits on its own (the write lock serialises writers anyway).
func (r *Repo) Batch(fn func(sml.Tx) error) error { return r.run(true, fn) }

// View runs fn in a read-only REPEATABLE READ snapshot.
func (r *Repo) View(fn func(sml.Tx) error) error { return r.run(false, fn) }

// Watch implements sml.ChangeFeed: it listens on Channel until ctx ends, reconnecting when the connection is lost.
func (r *Repo) Watch(ctx context.Context, changed func(zone string, serial uint32), reconnected func()) {
	r.db.Listen(ctx, Channel, func(payload string) {
		i := strings.LastIndexByte(payload, ' ')
		if i < 0 {
			return
		}
		n, err := strconv.ParseUint(payload[i+1:], 10, 32)
		if err != nil {
			return
		}
		changed(payload[:i], uint32(n))
	}, reconnected)
}

// writeLock is taken by every write transaction: the SML's writers of all nodes run one at a time.
const writeLock = "SELECT pg_advisory_xact_lock(hashtext('signpost sml writer'))"

func (r *Repo) run(write bool, fn func(sml.Tx) error) (err error) {
	timeout := r.timeout
	if !write {
		timeout = r.viewTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	pc, err := r.db.Pool.Acquire(ctx)
	if err != nil {
		return unavailable(fmt.Errorf("postgres: %w", err))
	}
	t := &tx{ctx: ctx, conn: pc.Conn(), write: write}
	defer func() {
		// A failed (or panicking) transaction is rolled back; a connection that cannot is closed, so that the
		// pool never hands out one inside a transaction.
		if c := t.conn.PgConn(); !c.IsClosed() && c.TxStatus() != 'I' {
			rctx, rcancel := context.WithTimeout(context.Background(), 5*time.Second)
			if _, rerr := t.conn.Exec(rctx, "ROLLBACK"); rerr != nil {
				_ = t.conn.Close(rctx)
			}
			rcancel()
		}
		pc.Release()
	}()
	if write {
		t.queue("BEGIN")
		t.queue(writeLock)
	} else {
		t.queue("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
	}
	begin := len(t.queued)
	err = fn(t)
	if t.err != nil {
		// A database error comes first: a use case may have turned a failed read into a business answer.
		return t.err
	}
	if err != nil {
		return err
	}
	if !t.sent && len(t.queued) == begin {
		return nil // nothing read or written: the transaction never started
	}
	zones := make([]string, 0, len(t.moved))
	for z := range t.moved {
		zones = append(zones, z)
	}
	sort.Strings(zones)
	for _, z := range zones {
		t.queue("SELECT pg_notify($1, $2)", Channel, z+" "+strconv.FormatUint(uint64(t.moved[z]), 10))
	}
	t.queue("COMMIT")
	if err := t.send(true, "", nil, nil); err != nil {
		return err
	}
	if t.lastTag != "COMMIT" {
		return fmt.Errorf("postgres: the transaction was not committed (%s)", t.lastTag)
	}
	return nil
}

// unavailable wraps err with pgstore.ErrUnavailable when it says the database could not be reached.
func unavailable(err error) error {
	if err == nil || errors.Is(err, pgstore.ErrUnavailable) || !pgstore.IsConnectionError(err) {
		return err
	}
	return fmt.Errorf("%w: %w", pgstore.ErrUnavailable, err)
}

// listChunk is how many rows a listing fetches per round trip.
const listChunk = 1000

// list calls fn for each row of query in order, fetched through a cursor in chunks: fn may use the transaction.
// fn returning sml.ErrStop ends the listing without error.
func list[T any](t *tx, query string, args []any, scan func(pgx.Rows) (T, error), fn func(T) error) error {
	if t.err != nil {
		return t.err
	}
	name := t.cursorName()
	t.queue("DECLARE "+name+" NO SCROLL CURSOR FOR "+query, args...)
	fetch := "FETCH " + strconv.Itoa(listChunk) + " FROM " + name
	for {
		var chunk []T
		err := t.send(true, fetch, nil, func(rows pgx.Rows) error {
			for rows.Next() {
				v, err := scan(rows)
				if err != nil {
					return err
				}
				chunk = append(chunk, v)
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, v := range chunk {
			if err := fn(v); err != nil {
				t.queue("CLOSE " + name)
				if errors.Is(err, sml.ErrStop) {
					return nil
				}
				return err
			}
		}
		if len(chunk) < listChunk {
			t.queue("CLOSE " + name)
			return nil
		}
	}
}

// smpKey is the key of an SMP: its lower-cased ID (SMP IDs are case-insensitive; they become DNS labels).
func smpKey(id string) string { return strings.ToLower(id) }

func nanos(t time.Time) int64 { return t.UnixNano() }

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

const smpColumns = "id, logical, physical, owner, domain, created, updated, cert_not_after"

func scanSMP(rows pgx.Rows) (sml.SMP, error) {
	var s sml.SMP
	var created, updated, notAfter int64
	if err := rows.Scan(&s.ID, &s.LogicalAddress, &s.PhysicalAddress, &s.Owner, &s.Domain, &created, &updated, &notAfter); err != nil {
		return s, err
	}
	s.Created, s.Updated = fromNanos(created), fromNanos(updated)
	if notAfter != 0 {
		s.CertNotAfter = fromNanos(notAfter)
	}
	return s, nil
}

// one reads the row key with q and scan; found is false when there is none.
func one[T any](t *tx, key, q string, args []any, scan func(pgx.Rows) (T, error)) (v T, found bool, err error) {
	err = t.send(t.needs(key), q, args, func(rows pgx.Rows) error {
		if !rows.Next() {
			return nil
		}
		found = true
		v, err = scan(rows)
		return err
	})
	if err != nil {
		var zero T
		return zero, false, err
	}
	return v, found, nil
}

func (t *tx) SMP(id string) (sml.SMP, bool, error) {
	k := smpKey(id)
	return one(t, keyOf("smps", k), "SELECT "+smpColumns+" FROM smps WHERE key = $1", []any{k}, scanSMP)
}

func (t *tx) PutSMP(s sml.SMP) error {
	var notAfter int64
	if !s.CertNotAfter.IsZero() {
		notAfter = nanos(s.CertNotAfter)
	}
	k := smpKey(s.ID)
	return t.put(keyOf("smps", k), "smps", `INSERT INTO smps (key, `+smpColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (key) DO UPDATE SET id = excluded.id, logical = excluded.logical, physical = excluded.physical,
		owner = excluded.owner, domain = excluded.domain, created = excluded.created, updated = excluded.updated,
		cert_not_after = excluded.cert_not_after`,
		k, s.ID, s.LogicalAddress, s.PhysicalAddress, s.Owner, s.Domain, nanos(s.Created), nanos(s.Updated), notAfter)
}

func (t *tx) DeleteSMP(id string) error {
	k := smpKey(id)
	return t.put(keyOf("smps", k), "smps", "DELETE FROM smps WHERE key = $1", k)
}

func (t *tx) EachSMP(fn func(sml.SMP) error) error {
	return list(t, "SELECT "+smpColumns+" FROM smps ORDER BY key", nil, scanSMP, fn)
}

const participantColumns = "zone, scheme, value, smp_id, service, created, updated"

func scanParticipant(rows pgx.Rows) (sml.Participant, error) {
	var p sml.Participant
	var created, updated int64
	if err := rows.Scan(&p.Domain, &p.ID.Scheme, &p.ID.Value, &p.SMPID, &p.Service, &created, &updated); err != nil {
		return p, err
	}
	p.Created, p.Updated = fromNanos(created), fromNanos(updated)
	return p, nil
}

func participantRow(zone string, id identifier.ID) string {
	return keyOf("participants", zone, id.Scheme, id.Value)
}

const participantUpsert = ` ON CONFLICT (zone, scheme, value) DO UPDATE SET smp = excluded.smp, smp_id = excluded.smp_id,
	service = excluded.service, created = excluded.created, updated = excluded.updated`

var participantBulk = &bulk{table: "participants",
	multi: `INSERT INTO participants (zone, scheme, value, smp, smp_id, service, created, updated)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])` + participantUpsert,
	key: func(a []any) string { return keyOf(a[0].(string), a[1].(string), a[2].(string)) },
}

func (t *tx) Participant(zone string, id identifier.ID) (sml.Participant, bool, error) {
	k := participantRow(zone, id)
	switch v := t.cache[k].(type) {
	case sml.Participant:
		return v, true, nil
	case absent:
		return sml.Participant{}, false, nil
	}
	return one(t, k, "SELECT "+participantColumns+" FROM participants WHERE zone = $1 AND scheme = $2 AND value = $3",
		[]any{zone, id.Scheme, id.Value}, scanParticipant)
}

func (t *tx) PutParticipant(p sml.Participant) error {
	return t.putBulk(participantBulk, participantRow(p.Domain, p.ID), `INSERT INTO participants (zone, scheme, value, smp, smp_id, service, created, updated)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`+participantUpsert,
		p.Domain, p.ID.Scheme, p.ID.Value, smpKey(p.SMPID), p.SMPID, p.Service, nanos(p.Created), nanos(p.Updated))
}

func (t *tx) DeleteParticipant(p sml.Participant) error {
	return t.put(participantRow(p.Domain, p.ID), "participants", "DELETE FROM participants WHERE zone = $1 AND scheme = $2 AND value = $3",
		p.Domain, p.ID.Scheme, p.ID.Value)
}

func (t *tx) EachParticipant(zone string, fn func(sml.Participant) error) error {
	return list(t, "SELECT "+participantColumns+" FROM participants WHERE zone = $1 ORDER BY scheme, value",
		[]any{zone}, scanParticipant, fn)
}

// EachOfSMP lists in the order of sml.ParticipantKey: zone, NUL, scheme, NUL, value. NUL sorts before every
// other byte, and text holds none, so that is the order of the rows by (zone, scheme, value) bytewise.
func (t *tx) EachOfSMP(smpID, after string, fn func(sml.Participant, string) error) error {
	q := "SELECT " + participantColumns + " FROM participants WHERE smp = $1"
	args := []any{smpKey(smpID)}
	if after != "" {
		parts := strings.SplitN(after, "\x00", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		// The keys after the cursor: a cursor of three parts is a participant's key (skipped); a shorter one is
		// a prefix of keys (included).
		op := ">="
		if strings.Count(after, "\x00") >= 2 {
			op = ">"
			if i := strings.IndexByte(parts[2], 0); i >= 0 {
				parts[2] = parts[2][:i] // "v\x00..." sorts after "v" and before any longer value
			}
		}
		q += " AND (zone, scheme, value) " + op + " ($2, $3, $4)"
		args = append(args, parts[0], parts[1], parts[2])
	}
	q += " ORDER BY zone, scheme, value"
	return list(t, q, args, scanParticipant, func(p sml.Participant) error {
		return fn(p, string(sml.ParticipantKey(p.Domain, p.ID)))
	})
}

func (t *tx) CountOfZone(zone string) int {
	var n int
	if _, err := t.get("", "SELECT count(*) FROM participants WHERE zone = $1", []any{zone}, &n); err != nil {
		return 0
	}
	return n
}

func (t *tx) CountOfSMP(smpID string) int {
	var n int
	if _, err := t.get("", "SELECT count(*) FROM participants WHERE smp = $1", []any{smpKey(smpID)}, &n); err != nil {
		return 0
	}
	return n
}

func nameRow(zone string, hash []byte) string { return keyOf("names", zone, string(hash)) }

const nameUpsert = ` ON CONFLICT (zone, hash) DO UPDATE SET what = excluded.what`

var nameBulk = &bulk{table: "names",
	multi: `INSERT INTO names (zone, hash, what) SELECT * FROM unnest($1::text[], $2::bytea[], $3::text[])` + nameUpsert,
	key:   func(a []any) string { return keyOf(a[0].(string), string(a[1].([]byte))) },
}

func (t *tx) Name(zone, owner string) (string, bool) {
	h := sml.NameHash(owner)
	k := nameRow(zone, h)
	switch v := t.cache[k].(type) {
	case string:
		return v, true
	case absent:
		return "", false
	}
	var what string
	found, err := t.get(k, "SELECT what FROM names WHERE zone = $1 AND hash = $2", []any{zone, h}, &what)
	if err != nil {
		return "", false
	}
	return what, found
}

// Prefetch implements sml.Prefetcher: it reads the participants ids of zone and the names owners of its index in
// one round trip, for the reads of Participant and Name that follow.
func (t *tx) Prefetch(zone string, ids []identifier.ID, owners []string) error {
	if len(ids) == 0 && len(owners) == 0 {
		return nil
	}
	schemes, values := make([]string, len(ids)), make([]string, len(ids))
	for i, id := range ids {
		schemes[i], values[i] = id.Scheme, id.Value
	}
	hashes := make([][]byte, len(owners))
	for i, o := range owners {
		hashes[i] = sml.NameHash(o)
	}
	found := map[string]any{}
	err := t.send(true, `SELECT 'p', p.scheme, p.value, p.smp_id, p.service, p.created, p.updated, NULL::bytea
			FROM unnest($2::text[], $3::text[]) AS k (scheme, value), LATERAL (SELECT * FROM participants
				WHERE zone = $1 AND scheme = k.scheme AND value = k.value LIMIT 1) AS p
		UNION ALL
		SELECT 'n', NULL, NULL, n.what, NULL, NULL, NULL, n.hash
			FROM unnest($4::bytea[]) AS h, LATERAL (SELECT * FROM names WHERE zone = $1 AND hash = h LIMIT 1) AS n`,
		[]any{zone, schemes, values, hashes}, func(rows pgx.Rows) error {
			for rows.Next() {
				var kind string
				var scheme, value, service *string
				var what string
				var created, updated *int64
				var hash []byte
				if err := rows.Scan(&kind, &scheme, &value, &what, &service, &created, &updated, &hash); err != nil {
					return err
				}
				if kind == "n" {
					found[nameRow(zone, hash)] = what
					continue
				}
				id := identifier.ID{Scheme: *scheme, Value: *value}
				found[participantRow(zone, id)] = sml.Participant{ID: id, SMPID: what, Service: *service, Domain: zone,
					Created: fromNanos(*created), Updated: fromNanos(*updated)}
			}
			return nil
		})
	if err != nil {
		return err
	}
	if t.cache == nil {
		t.cache = map[string]any{}
	}
	for _, id := range ids {
		k := participantRow(zone, id)
		if v, ok := found[k]; ok {
			t.cache[k] = v
		} else {
			t.cache[k] = absent{}
		}
	}
	for _, h := range hashes {
		k := nameRow(zone, h)
		if v, ok := found[k]; ok {
			t.cache[k] = v
		} else {
			t.cache[k] = absent{}
		}
	}
	return nil
}

func (t *tx) PutName(zone, owner, what string) error {
	return t.PutNameHash(zone, sml.NameHash(owner), what)
}

// namesChunk bounds the names of one statement of PutNames.
const namesChunk = 20000

func (t *tx) PutNames(zone string, owners []string, what string) error {
	hashes := make([][]byte, len(owners))
	for i, o := range owners {
		hashes[i] = sml.NameHash(o)
	}
	// One INSERT may not touch a row twice: two owners differing only in case have one hash.
	slices.SortFunc(hashes, func(a, b []byte) int { return strings.Compare(string(a), string(b)) })
	hashes = slices.CompactFunc(hashes, func(a, b []byte) bool { return string(a) == string(b) })
	for len(hashes) > 0 {
		n := min(len(hashes), namesChunk)
		if err := t.put("", "names", `INSERT INTO names (zone, hash, what) SELECT $1, h, $3 FROM unnest($2::bytea[]) AS h`+nameUpsert,
			zone, hashes[:n], what); err != nil {
			return err
		}
		hashes = hashes[n:]
	}
	return nil
}

func (t *tx) DeleteName(zone, owner string) error {
	h := sml.NameHash(owner)
	return t.put(nameRow(zone, h), "names", "DELETE FROM names WHERE zone = $1 AND hash = $2", zone, h)
}

func (t *tx) DeleteNames(zone string) error {
	return t.put("", "names", "DELETE FROM names WHERE zone = $1", zone)
}

type name struct {
	hash []byte
	what string
}

func (t *tx) EachName(zone string, fn func(hash []byte, what string) error) error {
	return list(t, "SELECT hash, what FROM names WHERE zone = $1 ORDER BY hash", []any{zone},
		func(rows pgx.Rows) (name, error) {
			var n name
			err := rows.Scan(&n.hash, &n.what)
			return n, err
		}, func(n name) error { return fn(n.hash, n.what) })
}

func (t *tx) PutNameHash(zone string, hash []byte, what string) error {
	if len(hash) != sml.NameHashLen {
		return fmt.Errorf("name hash of %d bytes, want %d", len(hash), sml.NameHashLen)
	}
	return t.putBulk(nameBulk, nameRow(zone, hash), `INSERT INTO names (zone, hash, what) VALUES ($1, $2, $3)`+nameUpsert, zone, hash, what)
}

const zoneColumns = "serial, first_seq, next_seq, participants, settings"

func (t *tx) Zone(name string) (sml.ZoneState, bool, error) {
	var z sml.ZoneState
	var serial, first, next int64
	found, err := t.get(keyOf("zones", name), "SELECT "+zoneColumns+" FROM zones WHERE zone = $1", []any{name},
		&serial, &first, &next, &z.Participants, &z.Settings)
	if err != nil || !found {
		return sml.ZoneState{}, false, err
	}
	z.Serial, z.FirstSeq, z.NextSeq = uint32(serial), uint64(first), uint64(next)
	return z, true, nil
}

func (t *tx) PutZone(name string, z sml.ZoneState) error {
	if err := t.put(keyOf("zones", name), "zones", `INSERT INTO zones (zone, `+zoneColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (zone) DO UPDATE SET serial = excluded.serial, first_seq = excluded.first_seq,
		next_seq = excluded.next_seq, participants = excluded.participants, settings = excluded.settings`,
		name, int64(z.Serial), int64(z.FirstSeq), int64(z.NextSeq), z.Participants, z.Settings); err != nil {
		return err
	}
	if t.moved == nil {
		t.moved = map[string]uint32{}
	}
	t.moved[name] = z.Serial
	return nil
}

type zoneRow struct {
	name string
	st   sml.ZoneState
}

func (t *tx) EachZone(fn func(string, sml.ZoneState) error) error {
	return list(t, "SELECT zone, "+zoneColumns+" FROM zones ORDER BY zone", nil, func(rows pgx.Rows) (zoneRow, error) {
		var r zoneRow
		var serial, first, next int64
		err := rows.Scan(&r.name, &serial, &first, &next, &r.st.Participants, &r.st.Settings)
		r.st.Serial, r.st.FirstSeq, r.st.NextSeq = uint32(serial), uint64(first), uint64(next)
		return r, err
	}, func(r zoneRow) error { return fn(r.name, r.st) })
}

func (t *tx) DomainSettings(zone string) (string, bool) {
	var s string
	found, err := t.get(keyOf("domains", zone), "SELECT settings FROM domains WHERE zone = $1", []any{zone}, &s)
	if err != nil {
		return "", false
	}
	return s, found
}

func (t *tx) PutDomainSettings(zone, settings string) error {
	return t.put(keyOf("domains", zone), "domains", `INSERT INTO domains (zone, settings) VALUES ($1, $2)
		ON CONFLICT (zone) DO UPDATE SET settings = excluded.settings`, zone, settings)
}

func migrationRow(zone string, id identifier.ID) string {
	return keyOf("migrations", zone, id.Scheme, id.Value)
}

func (t *tx) Migration(zone string, id identifier.ID) (sml.MigrationRecord, bool, error) {
	var m sml.MigrationRecord
	found, err := t.get(migrationRow(zone, id), "SELECT smp, hash, prepared, expires FROM migrations WHERE zone = $1 AND scheme = $2 AND value = $3",
		[]any{zone, id.Scheme, id.Value}, &m.SMPID, &m.Hash, &m.Prepared, &m.Expires)
	if err != nil || !found {
		return sml.MigrationRecord{}, false, err
	}
	return m, true, nil
}

func (t *tx) PutMigration(zone string, id identifier.ID, m sml.MigrationRecord) error {
	hash := m.Hash
	if hash == nil {
		hash = []byte{}
	}
	return t.put(migrationRow(zone, id), "migrations", `INSERT INTO migrations (zone, scheme, value, smp, hash, prepared, expires) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (zone, scheme, value) DO UPDATE SET smp = excluded.smp, hash = excluded.hash,
		prepared = excluded.prepared, expires = excluded.expires`, zone, id.Scheme, id.Value, m.SMPID, hash, m.Prepared, m.Expires)
}

func (t *tx) DeleteMigration(zone string, id identifier.ID) error {
	return t.put(migrationRow(zone, id), "migrations", "DELETE FROM migrations WHERE zone = $1 AND scheme = $2 AND value = $3", zone, id.Scheme, id.Value)
}

type migrationEntry struct {
	zone string
	id   identifier.ID
	m    sml.MigrationRecord
}

func (t *tx) EachMigration(fn func(string, identifier.ID, sml.MigrationRecord) error) error {
	return list(t, "SELECT zone, scheme, value, smp, hash, prepared, expires FROM migrations ORDER BY zone, scheme, value", nil,
		func(rows pgx.Rows) (migrationEntry, error) {
			var r migrationEntry
			err := rows.Scan(&r.zone, &r.id.Scheme, &r.id.Value, &r.m.SMPID, &r.m.Hash, &r.m.Prepared, &r.m.Expires)
			return r, err
		}, func(r migrationEntry) error { return fn(r.zone, r.id, r.m) })
}

func journalRow(zone string, seq uint64) string {
	return keyOf("journal", zone, strconv.FormatUint(seq, 10))
}

func (t *tx) PutJournal(zone string, seq uint64, c zone.Change) error {
	v, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return t.put(journalRow(zone, seq), "journal", `INSERT INTO journal (zone, seq, from_serial, to_serial, change) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (zone, seq) DO UPDATE SET from_serial = excluded.from_serial, to_serial = excluded.to_serial,
		change = excluded.change`, zone, int64(seq), int64(c.From), int64(c.To), v)
}

func (t *tx) Journal(z string, seq uint64) (zone.Change, bool, error) {
	var v []byte
	found, err := t.get(journalRow(z, seq), "SELECT change FROM journal WHERE zone = $1 AND seq = $2", []any{z, int64(seq)}, &v)
	if err != nil || !found {
		return zone.Change{}, false, err
	}
	var c zone.Change
	if err := json.Unmarshal(v, &c); err != nil {
		return zone.Change{}, false, fmt.Errorf("decode journal entry %d of %s: %w", seq, z, err)
	}
	return c, true, nil
}

func (t *tx) DeleteJournal(zone string, seq uint64) error {
	return t.put(journalRow(zone, seq), "journal", "DELETE FROM journal WHERE zone = $1 AND seq = $2", zone, int64(seq))
}

func (t *tx) DeleteJournals(zone string) error {
	return t.put("", "journal", "DELETE FROM journal WHERE zone = $1", zone)
}

func scanCertChange(rows pgx.Rows) (sml.CertChange, error) {
	var c sml.CertChange
	var at, created int64
	err := rows.Scan(&c.Old, &c.New, &c.Domain, &at, &created)
	c.At, c.Created = fromNanos(at), fromNanos(created)
	return c, err
}

func (t *tx) CertChange(old string) (sml.CertChange, bool, error) {
	return one(t, keyOf("cert_changes", old), "SELECT old, new, domain, at, created FROM cert_changes WHERE old = $1", []any{old}, scanCertChange)
}

func (t *tx) PutCertChange(c sml.CertChange) error {
	return t.put(keyOf("cert_changes", c.Old), "cert_changes", `INSERT INTO cert_changes (old, new, domain, at, created) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (old) DO UPDATE SET new = excluded.new, domain = excluded.domain, at = excluded.at,
		created = excluded.created`, c.Old, c.New, c.Domain, nanos(c.At), nanos(c.Created))
}

func (t *tx) EachCertChange(fn func(sml.CertChange) error) error {
	return list(t, "SELECT old, new, domain, at, created FROM cert_changes ORDER BY old", nil, scanCertChange, fn)
}
