package testnet

import "testing"

// TestFreePortDistinctAndLocked: ports are never handed out twice in a process, lie in the chosen range, and stay
// locked against other processes (a second open file description's flock is refused, as another process's is).
func TestFreePortDistinctAndLocked(t *testing.T) {
	lo, hi := portRange()
	seen := map[int]bool{}
	for range 200 {
		p := FreePort(t)
		if seen[p] {
			t.Fatalf("port %d returned twice", p)
		}
		if p < lo || p >= hi || reserved[p] {
			t.Fatalf("port %d outside %d-%d or reserved", p, lo, hi-1)
		}
		seen[p] = true
	}
	dir := lockDir()
	for p := range seen {
		if f, ok := lockPort(dir, p); ok {
			f.Close()
			t.Fatalf("port %d: its lock could be taken again while this process holds it", p)
		}
		break
	}
}
