package pgstore

import (
	"net"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// A database host that stops answering (powered off, cut off by the network) sends no reset: without the settings
// below, a query waiting for its answer would wait for the operating system's defaults (hours), and so would
// PostgreSQL before it ends the session of a node that vanished mid-transaction, holding its locks (the SML's
// writer lock, the SMP's leader lock). Both sides probe an idle connection after DeadPeerIdle and give it up
// after DeadPeerAfter; PostgreSQL's side (tcp_keepalives_*) may be set differently in the DSN.
const (
	DeadPeerIdle     = 10 * time.Second
	deadPeerInterval = 5 * time.Second
	deadPeerCount    = 3
	// DeadPeerAfter bounds, on Linux, how long data sent to the database may stay unacknowledged
	// (TCP_USER_TIMEOUT), and the probes of an idle connection: DeadPeerIdle + 3 probes 5 s apart, rounded up.
	DeadPeerAfter = 30 * time.Second
)

// serverKeepAlive are PostgreSQL's settings for its side of each connection (over TCP; a Unix socket ignores
// them), so that the server ends the session, and releases its locks, of a node that vanished.
var serverKeepAlive = map[string]string{
	"tcp_keepalives_idle":     "10",
	"tcp_keepalives_interval": "5",
	"tcp_keepalives_count":    "3",
}

// deadPeerDialer dials with the client's side of the above.
func deadPeerDialer() pgconn.DialFunc {
	d := &net.Dialer{
		KeepAliveConfig: net.KeepAliveConfig{Enable: true, Idle: DeadPeerIdle, Interval: deadPeerInterval, Count: deadPeerCount},
		Control:         setUserTimeout,
	}
	return d.DialContext
}
