// Package testnet gives tests free loopback addresses.
package testnet

import (
	"net"
	"strconv"
	"testing"
)

// reserved are ports tests never take: mDNS and the `signpost dev` defaults (a running `make run` holds them).
var reserved = map[int]bool{5353: true, 15353: true, 18443: true, 18080: true, 18081: true, 18082: true, 19090: true}

// FreePort returns a loopback port that is free for both TCP and UDP at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		l.Close()
		if err != nil || reserved[p] {
			continue
		}
		u.Close()
		return p
	}
	t.Fatal("testnet: no free loopback port for both TCP and UDP")
	return 0
}

// FreeAddr returns "127.0.0.1:PORT" with a port from FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}
