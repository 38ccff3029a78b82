package lifecycle_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/signpost-project/signpost/internal/hostilehttp"
)

// TestHTTPOutlivesEMFILE: a server run by HTTP goes on accepting after its process ran out of file descriptors
// (a child process with a low RLIMIT_NOFILE, 300 connections), and readiness stays green.
func TestHTTPOutlivesEMFILE(t *testing.T) {
	hostilehttp.AcceptExhaustion(t, hostilehttp.Exhaustion{
		Handler: func(testing.TB) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "hello\n") })
		},
	})
}
