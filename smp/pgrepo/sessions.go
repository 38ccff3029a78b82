package pgrepo

import "github.com/signpost-project/signpost/internal/console"

// Sessions keeps the SMP console's sessions (internal/console.Store) in the table console_sessions of the schema
// smp; the layout is internal/console.SQLSessions', shared with the SML's console.
type Sessions = console.SQLSessions
