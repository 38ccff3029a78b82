//go:build !linux

package hostilehttp

import "errors"

const fdLimitSupported = false

func lowerFDLimit(int) (int, uint64, error) {
	return 0, 0, errors.New("hostilehttp: lowering the file limit is implemented on Linux only")
}
