package smp

// SetAfterCommit sets the hook run between a write's commit and its cache update (nil: none).
func SetAfterCommit(f func()) { afterCommit = f }

// SetBeforeSign sets the hook run before each document of a write is signed, with no transaction open (nil: none).
func SetBeforeSign(f func(DocKey)) { beforeSign = f }
