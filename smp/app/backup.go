package app

import "io"

// Backup writes a consistent copy of the SMP's store to w (one read transaction: writes go on meanwhile), for
// `signpost smp backup` on a stopped server; a running one serves the same through its admin API. A PostgreSQL
// store is refused (ErrBackupPostgres): pg_dump backs it up.
func (a *App) Backup(w io.Writer) (int64, error) {
	if a.db == nil {
		return 0, ErrBackupPostgres
	}
	return a.db.Backup(w)
}
