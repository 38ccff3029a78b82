package sml

import (
	"context"
	"time"

	"github.com/signpost-project/signpost/internal/console"
)

// ConsoleUser is a user of the SML's web console (the domain authority's operators).
type ConsoleUser struct {
	Name string `json:"name"`
	// Password is the PBKDF2 hash (internal/console.HashPassword).
	Password string    `json:"password"`
	Created  time.Time `json:"created"`
}

// ConsoleStore keeps the SML console's users and sessions (sml/boltrepo.ConsoleStore, sml/pgrepo): it is the
// console's internal/console.Store with the users of this domain.
type ConsoleStore interface {
	console.Store
	// ConsoleUser returns a user; ok is false for an unknown one.
	ConsoleUser(ctx context.Context, name string) (u ConsoleUser, ok bool, err error)
	// SetConsoleUser creates a user or replaces its password hash (keeping its creation time).
	SetConsoleUser(ctx context.Context, name, hash string, now time.Time) (created bool, err error)
	// DeleteConsoleUser removes a user; its sessions end at their next request (the console checks the user).
	DeleteConsoleUser(ctx context.Context, name string) (found bool, err error)
	// ConsoleUsers lists the users by name.
	ConsoleUsers(ctx context.Context) ([]ConsoleUser, error)
}
