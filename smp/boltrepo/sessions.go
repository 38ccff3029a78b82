package boltrepo

import "github.com/signpost-project/signpost/internal/console"

// Sessions keeps the SMP console's sessions (internal/console.Store) in console.sessions; the layout is
// internal/console.StoreSessions', shared with the SML's console.
type Sessions = console.StoreSessions
