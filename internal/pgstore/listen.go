package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgxlisten"
)

// Notify sends payload on channel from inside tx: PostgreSQL delivers it to the listeners when (and only if) tx
// commits, in commit order.
func Notify(ctx context.Context, tx pgx.Tx, channel, payload string) error {
	_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload)
	return err
}

// Listen calls onNotify with the payload of every notification on channel until ctx ends. It listens on a
// connection of its own and reconnects (after ReconnectDelay) when the connection is lost; onConnect is called
// each time listening (re)starts, after LISTEN, so that the caller catches up on what it may have missed while it
// was not listening. Both run on Listen's goroutine, one at a time. Listen returns when ctx ends.
func (db *DB) Listen(ctx context.Context, channel string, onNotify func(payload string), onConnect func()) {
	l := &pgxlisten.Listener{
		Connect:        db.Connect,
		ReconnectDelay: ReconnectDelay,
		LogError: func(ctx context.Context, err error) {
			if ctx.Err() == nil {
				db.log.Warn("postgres: listening for changes", "channel", channel, "err", err)
			}
		},
	}
	l.Handle(channel, listenHandler{onNotify: onNotify, onConnect: onConnect})
	_ = l.Listen(ctx)
}

// ReconnectDelay is how long Listen and the leader lock wait before they connect again.
var ReconnectDelay = 500 * time.Millisecond

type listenHandler struct {
	onNotify  func(string)
	onConnect func()
}

func (h listenHandler) HandleNotification(_ context.Context, n *pgconn.Notification, _ *pgx.Conn) error {
	if h.onNotify != nil {
		h.onNotify(n.Payload)
	}
	return nil
}

func (h listenHandler) HandleBacklog(context.Context, string, *pgx.Conn) error {
	if h.onConnect != nil {
		h.onConnect()
	}
	return nil
}
