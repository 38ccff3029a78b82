package smp

// SetAfterCommit sets the hook run between a write's commit and its cache update (nil: none).
func SetAfterCommit(f func()) { afterCommit = f }
