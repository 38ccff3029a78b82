package app

// SetResignPanic sets a function run at the start of each re-signing pass (nil: none).
func SetResignPanic(f func()) { resignPanic = f }
