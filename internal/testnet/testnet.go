// Package testnet gives tests free loopback addresses.
//
// A port found free by binding to port 0 and closing again is a guess: the kernel may hand the same port to the
// next such call, and ports from the ephemeral range also go to outgoing connections (of this test or of another
// package's test binary running beside it). A test that starts `signpost dev` with six such ports once got the
// same port for the SML and the SMP. So FreePort picks ports below the ephemeral range, never returns a port twice
// in one process, and holds a lock file per port (in the temporary directory) for the life of the process, so that
// test binaries running side by side never choose the same port either.
package testnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// reserved are ports tests never take: mDNS and the `signpost dev` defaults (a running `make run` holds them).
var reserved = map[int]bool{5353: true, 15353: true, 18443: true, 18080: true, 18081: true, 18082: true, 19090: true}

var (
	mu     sync.Mutex
	handed = map[int]bool{}
	locks  []*os.File // held open (and locked) until the process ends
)

// portRange is where FreePort looks: from 20000 up to the start of the kernel's ephemeral range, so no outgoing
// connection is ever given one of these ports. Where the ephemeral range starts too low for that, it is the
// ephemeral range itself, and the per-process and per-port-lock guarantees still hold.
func portRange() (lo, hi int) {
	lo, hi = 20000, 32768
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return lo, hi
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return lo, hi
	}
	elo, err1 := strconv.Atoi(f[0])
	ehi, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil {
		return lo, hi
	}
	if elo-lo >= 2000 {
		return lo, elo
	}
	return elo, ehi + 1
}

// FreePort returns a loopback port that is free for both TCP and UDP, that no earlier call in this process
// returned, and that no other test process holds.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func freePort() (int, error) {
	mu.Lock()
	defer mu.Unlock()
	dir := lockDir()
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return 0, fmt.Errorf("testnet: %w", err)
	}
	lo, hi := portRange()
	for range 500 {
		p := lo + rand.IntN(hi-lo)
		if reserved[p] || handed[p] {
			continue
		}
		lock, ok := lockPort(dir, p)
		if !ok {
			continue
		}
		if !bindable(p) {
			lock.Close()
			continue
		}
		handed[p] = true
		locks = append(locks, lock)
		return p, nil
	}
	return 0, fmt.Errorf("testnet: no free loopback port for both TCP and UDP in %d-%d", lo, hi-1)
}

// lockDir holds the lock files, one per port, of this user's test processes.
func lockDir() string {
	return filepath.Join(os.TempDir(), "signpost-testports-"+strconv.Itoa(os.Getuid()))
}

// lockPort takes the lock file of port p without waiting; false if another process holds it.
func lockPort(dir string, p int) (*os.File, bool) {
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(p)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, false
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, false
	}
	return f, true
}

// bindable reports whether both TCP and UDP port p of 127.0.0.1 can be bound now.
func bindable(p int) bool {
	addr := "127.0.0.1:" + strconv.Itoa(p)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	defer l.Close()
	u, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	u.Close()
	return true
}

// FreeAddr returns "127.0.0.1:PORT" with a port from FreePort.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return "127.0.0.1:" + strconv.Itoa(FreePort(t))
}
