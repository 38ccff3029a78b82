package app

import "io"

// Backup writes a consistent copy of the SMP's store to w (one read transaction: writes go on meanwhile), for
// `signpost smp backup` on a stopped server; a running one serves the same through its admin API.
func (a *App) Backup(w io.Writer) (int64, error) { return a.db.Backup(w) }
