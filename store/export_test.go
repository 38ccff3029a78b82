package store

import "testing"

// SetUpgradeHook makes every upgrade step call fn inside its transaction, after the step and before the new
// schema version is written, until the test ends. An error from fn fails the step.
func SetUpgradeHook(t testing.TB, fn func(from uint64) error) {
	t.Helper()
	upgradeHook = fn
	t.Cleanup(func() { upgradeHook = nil })
}
