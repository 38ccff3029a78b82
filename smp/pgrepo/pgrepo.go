// Package pgrepo implements the SMP's repository (smp.Repository) on PostgreSQL, in the schema "smp" of the
// database of store.dsn. Its tables are in migrations/ (embedded, applied by pgstore.Open at start): groups,
// versions (kept after a group is deleted), metadata, documents, users, tokens, settings, registrations (the
// pending ones are the outbox, by seq) and the console's sessions (sessions.go). Identifiers are stored in their
// canonical form ("scheme::value"), and every paged or ordered text column is COLLATE "C", so that pages follow
// the bytewise order of the bbolt backend (smp/boltrepo).
//
// View reads one REPEATABLE READ snapshot. Update is one READ COMMITTED transaction that first takes the schema's
// writer lock (a transaction advisory lock): writers run one at a time across every node on the database, as in
// bbolt, so the service's read-check-write transactions (version checks, registration intents) stay atomic. Within
// a process the writers queue first (giving up when their context ends), so that they do not hold the pool's connections while they wait. Every
// failure to reach the database comes out wrapping pgstore.ErrUnavailable.
package pgrepo

import (
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/pgstore"
	"github.com/signpost-project/signpost/smp"
)

// Schema is the PostgreSQL schema of the SMP's tables.
const Schema = "smp"

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations returns the schema's migrations (files NNN_name.sql in tern's format).
func Migrations() (fs.FS, error) { return fs.Sub(migrationFiles, "migrations") }

// Open connects to dsn and migrates the schema "smp" (see pgstore.Open).
func Open(ctx context.Context, dsn string, log *slog.Logger) (*pgstore.DB, error) {
	m, err := Migrations()
	if err != nil {
		return nil, err
	}
	return pgstore.Open(ctx, dsn, Schema, m, pgstore.Options{Log: log})
}

// Repo is an smp.Repository on a pgstore.DB opened with the schema "smp". It is also the smp.ChangeFeed of the
// nodes that share the database (changes.go).
type Repo struct {
	DB *pgstore.DB
	// writer queues this process's writers before they take a connection: only one of them at a time waits for
	// the database's writer lock, so that waiting writers never hold the pool's connections away from readers.
	writer     chan struct{}
	writerOnce sync.Once

	nodeOnce sync.Once
	node     string
}

// New returns the repository on db.
func New(db *pgstore.DB) *Repo { return &Repo{DB: db} }

// View runs fn in a read-only transaction on one snapshot.
func (r *Repo) View(ctx context.Context, fn func(smp.ReadTx) error) error {
	return unavailable(r.DB.View(ctx, func(t pgx.Tx) error { return fn(&tx{ctx: ctx, t: t}) }))
}

// unavailable makes a failure to reach the database the SMP's KindUnavailable (still wrapping
// pgstore.ErrUnavailable): the edges answer it with "try again later" (HTTP 503 with Retry-After).
func unavailable(err error) error {
	if err != nil && errors.Is(err, pgstore.ErrUnavailable) && smp.KindOf(err) != smp.KindUnavailable {
		return smp.Unavailable(err)
	}
	return err
}

// writerLock serializes the SMP's writers on one database (bbolt's single writer). The transaction is READ
// COMMITTED whatever the database's default, so that each statement after the lock sees every earlier writer's
// commit (a snapshot taken before the lock was granted would not).
const writerLock = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED; " +
	"SELECT pg_advisory_xact_lock(hashtextextended('signpost writer ' || current_schema(), 0))"

// Update runs fn in one read-write transaction, committed durably or not at all.
func (r *Repo) Update(ctx context.Context, fn func(smp.WriteTx) error) error {
	sem := r.sem()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-sem }()
	return unavailable(r.DB.Update(ctx, func(t pgx.Tx) error {
		if _, err := t.Exec(ctx, writerLock); err != nil {
			return dbErr("take the writer lock", err)
		}
		x := &tx{ctx: ctx, t: t, ch: &changes{}}
		if err := fn(x); err != nil {
			return err
		}
		return r.announce(ctx, t, x.ch)
	}))
}

func (r *Repo) sem() chan struct{} {
	r.writerOnce.Do(func() { r.writer = make(chan struct{}, 1) })
	return r.writer
}

type tx struct {
	ctx context.Context
	t   pgx.Tx
	ch  *changes // what a write transaction changed, announced to the other nodes at its end; nil when reading
}

// dbErr says what failed; a failure to reach the database wraps pgstore.ErrUnavailable.
func dbErr(what string, err error) error {
	if err == nil {
		return nil
	}
	if pgstore.IsConnectionError(err) && !errors.Is(err, pgstore.ErrUnavailable) {
		return fmt.Errorf("smp store: %s: %w: %w", what, pgstore.ErrUnavailable, err)
	}
	return fmt.Errorf("smp store: %s: %w", what, err)
}

// parseID turns a stored canonical identifier back into an ID.
func parseID(s string) identifier.ID {
	if i := strings.Index(s, identifier.Separator); i >= 0 {
		return identifier.ID{Scheme: s[:i], Value: s[i+len(identifier.Separator):]}
	}
	return identifier.ID{Value: s}
}

// limitArg is SQL's LIMIT for a limit argument: a negative one is no limit, as in the bbolt backend.
func limitArg(limit int) any {
	if limit < 0 {
		return nil
	}
	return limit
}

// ts is a time as stored: NULL for the zero time, else UTC (timestamptz keeps microseconds).
func ts(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}
}

func fromTS(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time.UTC()
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (x *tx) Group(p identifier.ID) (smp.ServiceGroup, uint64, bool, error) {
	var (
		version pgtype.Int8
		owner   pgtype.Text
		inSML   pgtype.Bool
		exts    []string
	)
	key := p.String()
	err := x.t.QueryRow(x.ctx, `SELECT v.version, g.owner, g.in_sml, g.extensions
		FROM (SELECT $1::text COLLATE "C" AS participant) k
		LEFT JOIN versions v ON v.participant = k.participant
		LEFT JOIN groups g ON g.participant = k.participant`, key).Scan(&version, &owner, &inSML, &exts)
	if err != nil {
		return smp.ServiceGroup{}, 0, false, dbErr("read service group", err)
	}
	v := uint64(version.Int64)
	if !inSML.Valid {
		return smp.ServiceGroup{}, v, false, nil
	}
	return smp.ServiceGroup{Participant: parseID(key), Owner: owner.String, InSML: inSML.Bool, Extensions: nilIfEmpty(exts)}, v, true, nil
}

func (x *tx) Metadata(p, d identifier.ID) (smp.ServiceMetadata, bool, error) {
	var body []byte
	err := x.t.QueryRow(x.ctx, `SELECT body FROM metadata WHERE participant = $1 AND document_type = $2`,
		p.String(), d.String()).Scan(&body)
	if errors.Is(err, pgx.ErrNoRows) {
		return smp.ServiceMetadata{}, false, nil
	}
	if err != nil {
		return smp.ServiceMetadata{}, false, dbErr("read service metadata", err)
	}
	sm, err := smp.UnmarshalMetadata(body)
	return sm, err == nil, err
}

func (x *tx) MetadataOf(p identifier.ID) ([]smp.ServiceMetadata, error) {
	rows, err := x.t.Query(x.ctx, `SELECT body FROM metadata WHERE participant = $1 ORDER BY document_type`, p.String())
	if err != nil {
		return nil, dbErr("list service metadata", err)
	}
	var out []smp.ServiceMetadata
	var body []byte
	_, err = pgx.ForEachRow(rows, []any{&body}, func() error {
		sm, err := smp.UnmarshalMetadata(body)
		out = append(out, sm)
		return err
	})
	if err != nil {
		return out, dbErr("list service metadata", err)
	}
	return out, nil
}

func (x *tx) Groups(after string, limit int) ([]smp.GroupInfo, error) {
	rows, err := x.t.Query(x.ctx, `SELECT g.participant, g.owner, g.in_sml, g.extensions,
			(SELECT count(*) FROM metadata m WHERE m.participant = g.participant)
		FROM groups g WHERE g.participant > $1 ORDER BY g.participant LIMIT $2`, after, limitArg(limit))
	if err != nil {
		return nil, dbErr("list service groups", err)
	}
	var (
		out   []smp.GroupInfo
		p     string
		owner string
		inSML bool
		exts  []string
		n     int
	)
	_, err = pgx.ForEachRow(rows, []any{&p, &owner, &inSML, &exts, &n}, func() error {
		out = append(out, smp.GroupInfo{
			Group:           smp.ServiceGroup{Participant: parseID(p), Owner: owner, InSML: inSML, Extensions: nilIfEmpty(exts)},
			ServiceMetadata: n,
		})
		exts = nil
		return nil
	})
	if err != nil {
		return out, dbErr("list service groups", err)
	}
	return out, nil
}

func (x *tx) Counts() (int, int, error) {
	var g, m int
	err := x.t.QueryRow(x.ctx, `SELECT (SELECT count(*) FROM groups), (SELECT count(*) FROM metadata)`).Scan(&g, &m)
	return g, m, dbErr("count", err)
}

func docType(k smp.DocKey) string {
	if k.DocType.IsZero() {
		return ""
	}
	return k.DocType.String()
}

func (x *tx) Document(k smp.DocKey) ([]byte, error) {
	var b []byte
	err := x.t.QueryRow(x.ctx, `SELECT stored FROM documents WHERE flavour = $1 AND participant = $2 AND document_type = $3`,
		int16(k.Flavour), k.Participant.String(), docType(k)).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, dbErr("read document", err)
}

func (x *tx) Setting(name string) ([]byte, error) {
	var b []byte
	err := x.t.QueryRow(x.ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, dbErr("read setting "+name, err)
}

func (x *tx) User(name string) (*smp.User, error) {
	var (
		u       smp.User
		created pgtype.Timestamptz
	)
	err := x.t.QueryRow(x.ctx, `SELECT name, admin, password, created FROM users WHERE name = $1`, name).
		Scan(&u.Name, &u.Admin, &u.Password, &created)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr("read user", err)
	}
	u.Created = fromTS(created)
	return &u, nil
}

func (x *tx) Users() ([]smp.User, error) {
	rows, err := x.t.Query(x.ctx, `SELECT name, admin, password, created FROM users ORDER BY name`)
	if err != nil {
		return nil, dbErr("list users", err)
	}
	var (
		out     []smp.User
		u       smp.User
		created pgtype.Timestamptz
	)
	_, err = pgx.ForEachRow(rows, []any{&u.Name, &u.Admin, &u.Password, &created}, func() error {
		u.Created = fromTS(created)
		out = append(out, u)
		return nil
	})
	if err != nil {
		return out, dbErr("list users", err)
	}
	return out, nil
}

func (x *tx) Token(hash []byte) (*smp.TokenInfo, error) {
	var (
		ti      smp.TokenInfo
		h       []byte
		created pgtype.Timestamptz
	)
	err := x.t.QueryRow(x.ctx, `SELECT id, user_name, created, hash FROM tokens WHERE hash = $1`, hash).
		Scan(&ti.ID, &ti.User, &created, &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, dbErr("read token", err)
	}
	ti.Created, ti.Hash = fromTS(created), hex.EncodeToString(h)
	return &ti, nil
}

func (x *tx) Tokens() ([]smp.TokenInfo, error) {
	rows, err := x.t.Query(x.ctx, `SELECT id, user_name, created, hash FROM tokens ORDER BY hash`)
	if err != nil {
		return nil, dbErr("list tokens", err)
	}
	var (
		out     []smp.TokenInfo
		ti      smp.TokenInfo
		h       []byte
		created pgtype.Timestamptz
	)
	_, err = pgx.ForEachRow(rows, []any{&ti.ID, &ti.User, &created, &h}, func() error {
		ti.Created, ti.Hash = fromTS(created), hex.EncodeToString(h)
		out = append(out, ti)
		return nil
	})
	if err != nil {
		return out, dbErr("list tokens", err)
	}
	return out, nil
}

func (x *tx) exec(what, sql string, args ...any) error {
	_, err := x.t.Exec(x.ctx, sql, args...)
	return dbErr(what, err)
}

func (x *tx) PutGroup(sg smp.ServiceGroup, version uint64) error {
	exts := sg.Extensions
	if exts == nil {
		exts = []string{}
	}
	if err := x.exec("store service group", `INSERT INTO groups (participant, owner, in_sml, extensions)
		VALUES ($1, $2, $3, $4) ON CONFLICT (participant) DO UPDATE
		SET owner = EXCLUDED.owner, in_sml = EXCLUDED.in_sml, extensions = EXCLUDED.extensions`,
		sg.Participant.String(), sg.Owner, sg.InSML, exts); err != nil {
		return err
	}
	return x.SetVersion(sg.Participant, version)
}

func (x *tx) DeleteGroup(p identifier.ID, version uint64) error {
	if err := x.exec("delete service group", `DELETE FROM groups WHERE participant = $1`, p.String()); err != nil {
		return err
	}
	return x.SetVersion(p, version)
}

func (x *tx) SetVersion(p identifier.ID, version uint64) error {
	return x.exec("store version", `INSERT INTO versions (participant, version) VALUES ($1, $2)
		ON CONFLICT (participant) DO UPDATE SET version = EXCLUDED.version`, p.String(), int64(version))
}

func (x *tx) PutMetadata(sm smp.ServiceMetadata) error {
	b, err := smp.MarshalMetadata(&sm)
	if err != nil {
		return err
	}
	return x.exec("store service metadata", `INSERT INTO metadata (participant, document_type, body)
		VALUES ($1, $2, $3) ON CONFLICT (participant, document_type) DO UPDATE SET body = EXCLUDED.body`,
		sm.Participant.String(), sm.DocumentType.String(), string(b))
}

func (x *tx) DeleteMetadata(p, d identifier.ID) error {
	return x.exec("delete service metadata", `DELETE FROM metadata WHERE participant = $1 AND document_type = $2`,
		p.String(), d.String())
}

func (x *tx) PutDocument(k smp.DocKey, stored []byte) error {
	if stored == nil {
		stored = []byte{}
	}
	x.ch.doc(k.Participant)
	return x.exec("store document", `INSERT INTO documents (flavour, participant, document_type, stored)
		VALUES ($1, $2, $3, $4) ON CONFLICT (flavour, participant, document_type) DO UPDATE SET stored = EXCLUDED.stored`,
		int16(k.Flavour), k.Participant.String(), docType(k), stored)
}

func (x *tx) DeleteDocument(k smp.DocKey) error {
	x.ch.doc(k.Participant)
	return x.exec("delete document", `DELETE FROM documents WHERE flavour = $1 AND participant = $2 AND document_type = $3`,
		int16(k.Flavour), k.Participant.String(), docType(k))
}

func (x *tx) PutSetting(name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	x.ch.setting(name)
	return x.exec("store setting "+name, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value`, name, value)
}

func (x *tx) PutUser(u smp.User) error {
	return x.exec("store user", `INSERT INTO users (name, admin, password, created) VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET admin = EXCLUDED.admin, password = EXCLUDED.password, created = EXCLUDED.created`,
		u.Name, u.Admin, u.Password, ts(u.Created))
}

func (x *tx) DeleteUser(name string) error {
	if err := x.exec("delete the user's tokens", `DELETE FROM tokens WHERE user_name = $1`, name); err != nil {
		return err
	}
	return x.exec("delete user", `DELETE FROM users WHERE name = $1`, name)
}

func (x *tx) PutToken(t smp.TokenInfo) error {
	hash, err := hex.DecodeString(t.Hash)
	if err != nil || len(hash) != 32 {
		return smp.Internal("store token", err)
	}
	return x.exec("store token", `INSERT INTO tokens (hash, id, user_name, created) VALUES ($1, $2, $3, $4)
		ON CONFLICT (hash) DO UPDATE SET id = EXCLUDED.id, user_name = EXCLUDED.user_name, created = EXCLUDED.created`,
		hash, t.ID, t.User, ts(t.Created))
}

// DeleteToken deletes the tokens whose SHA-256 begins with the bytes of id (hex), as the bbolt backend does.
func (x *tx) DeleteToken(id string) (int, error) {
	prefix, err := hex.DecodeString(id)
	if err != nil {
		return 0, nil
	}
	tag, err := x.t.Exec(x.ctx, `DELETE FROM tokens WHERE substring(hash FROM 1 FOR $2) = $1`, prefix, len(prefix))
	if err != nil {
		return 0, dbErr("delete token", err)
	}
	return int(tag.RowsAffected()), nil
}

var _ smp.Repository = (*Repo)(nil)
