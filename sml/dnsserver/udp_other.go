//go:build !linux

package dnsserver

import "net"

// udpLoopBatch is not available here; the plain loop runs.
func (s *Server) udpLoopBatch(*net.UDPConn) bool { return false }
