package hostilehttp

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

const fdLimitSupported = true

// lowerFDLimit sets this process's RLIMIT_NOFILE so that exactly headroom more descriptors can be opened, and
// returns the number open and the new limit. (The descriptor ReadDir uses is counted as open: one more is free.)
func lowerFDLimit(headroom int) (open int, limit uint64, err error) {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, 0, err
	}
	fds := map[int]bool{}
	for _, e := range entries {
		if n, err := strconv.Atoi(e.Name()); err == nil {
			fds[n] = true
		}
	}
	// New descriptors take the lowest free numbers below the limit: stop once headroom of them are free.
	free := 0
	for n := 0; free < headroom; n++ {
		if !fds[n] {
			free++
		}
		limit = uint64(n + 1)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	if limit > rl.Cur {
		return 0, 0, fmt.Errorf("hostilehttp: %d descriptors open, more than the limit %d allows with %d to spare", len(entries), rl.Cur, headroom)
	}
	rl.Cur = limit
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, fmt.Errorf("hostilehttp: lower RLIMIT_NOFILE to %d: %w", limit, err)
	}
	return len(entries), limit, nil
}
