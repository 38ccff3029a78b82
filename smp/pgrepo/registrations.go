package pgrepo

import (
	"errors"

	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
)

// The SML registrations: one row per participant; the pending ones are the outbox, read by seq.

const regColumns = `participant, state, op, seq, attempts, next, last_error, since`

// regRow scans rows of regColumns.
type regRow struct {
	p           string
	state, op   string
	seq         int64
	attempts    int
	next, since pgtype.Timestamptz
	lastError   string
}

func (r *regRow) targets() []any {
	return []any{&r.p, &r.state, &r.op, &r.seq, &r.attempts, &r.next, &r.lastError, &r.since}
}

func (r *regRow) registration() smp.Registration {
	return smp.Registration{
		Participant: parseID(r.p), State: smp.RegState(r.state), Op: smp.RegOp(r.op), Seq: uint64(r.seq),
		Attempts: r.attempts, Next: fromTS(r.next), LastError: r.lastError, Since: fromTS(r.since),
	}
}

func (x *tx) registrations(what, sql string, args ...any) ([]smp.Registration, error) {
	rows, err := x.t.Query(x.ctx, sql, args...)
	if err != nil {
		return nil, dbErr(what, err)
	}
	var (
		out []smp.Registration
		r   regRow
	)
	_, err = pgx.ForEachRow(rows, r.targets(), func() error {
		out = append(out, r.registration())
		return nil
	})
	if err != nil {
		return out, dbErr(what, err)
	}
	return out, nil
}

func (x *tx) Registration(p identifier.ID) (smp.Registration, bool, error) {
	var r regRow
	err := x.t.QueryRow(x.ctx, `SELECT `+regColumns+` FROM registrations WHERE participant = $1`, p.String()).
		Scan(r.targets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return smp.Registration{}, false, nil
	}
	if err != nil {
		return smp.Registration{}, false, dbErr("read registration", err)
	}
	return r.registration(), true, nil
}

func (x *tx) Registrations(state smp.RegState, after string, limit int) ([]smp.Registration, error) {
	return x.registrations("list registrations", `SELECT `+regColumns+` FROM registrations
		WHERE ($1 = '' OR state = $1) AND participant > $2 ORDER BY participant LIMIT $3`,
		string(state), after, limitArg(limit))
}

func (x *tx) RegistrationCounts() (smp.RegistrationCounts, error) {
	var (
		c                      smp.RegistrationCounts
		total, pending, failed int
		oldest                 pgtype.Timestamptz
	)
	err := x.t.QueryRow(x.ctx, `SELECT count(*),
			count(*) FILTER (WHERE state = 'pending'),
			count(*) FILTER (WHERE state = 'failed'),
			(SELECT since FROM registrations WHERE state = 'pending' ORDER BY seq LIMIT 1)
		FROM registrations`).Scan(&total, &pending, &failed, &oldest)
	if err != nil {
		return c, dbErr("count registrations", err)
	}
	c.Pending, c.Failed, c.Registered, c.OldestPending = pending, failed, total-pending-failed, fromTS(oldest)
	return c, nil
}

func (x *tx) Outbox(now time.Time, limit int) ([]smp.Registration, error) {
	return x.registrations("read the outbox", `SELECT `+regColumns+` FROM registrations
		WHERE state = 'pending' AND (next IS NULL OR next <= $1) ORDER BY seq LIMIT $2`, now, limitArg(limit))
}

func (x *tx) PutRegistration(r smp.Registration) error {
	x.ch.registration(r)
	return x.exec("store registration", `INSERT INTO registrations (`+regColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (participant) DO UPDATE
		SET state = EXCLUDED.state, op = EXCLUDED.op, seq = EXCLUDED.seq, attempts = EXCLUDED.attempts,
			next = EXCLUDED.next, last_error = EXCLUDED.last_error, since = EXCLUDED.since`,
		r.Participant.String(), string(r.State), string(r.Op), int64(r.Seq), r.Attempts, ts(r.Next), r.LastError, ts(r.Since))
}

func (x *tx) DeleteRegistration(p identifier.ID) error {
	return x.exec("delete registration", `DELETE FROM registrations WHERE participant = $1`, p.String())
}

func (x *tx) DeleteRegistrations() (int, error) {
	tag, err := x.t.Exec(x.ctx, `DELETE FROM registrations`)
	if err != nil {
		return 0, dbErr("delete registrations", err)
	}
	return int(tag.RowsAffected()), nil
}

// NextRegistrationSeq draws from the sequence registration_seq: higher than any drawn before, on every node
// (a rolled-back transaction leaves a gap, never a repeat).
func (x *tx) NextRegistrationSeq() (uint64, error) {
	var n int64
	err := x.t.QueryRow(x.ctx, `SELECT nextval('registration_seq')`).Scan(&n)
	return uint64(n), dbErr("next registration seq", err)
}
