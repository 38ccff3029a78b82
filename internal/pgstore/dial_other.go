//go:build !linux

package pgstore

import "syscall"

// setUserTimeout does nothing outside Linux: the keep-alive probes alone detect a vanished database there.
func setUserTimeout(string, string, syscall.RawConn) error { return nil }
