package testproc

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Daemon is an external server (BIND, Knot, ...) that a test started; it is stopped by its PID when the test
// ends (SIGCONT first, in case the test paused it, then SIGTERM, then SIGKILL after 10 s), and its output is logged
// when the test failed.
type Daemon struct {
	Cmd *exec.Cmd
	out syncBuffer
}

// StartDaemon starts the program at path with args in its own process group.
func StartDaemon(t testing.TB, path string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{Cmd: exec.Command(path, args...)}
	d.Cmd.Stdout, d.Cmd.Stderr = &d.out, &d.out
	d.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	t.Cleanup(func() {
		_ = d.Cmd.Process.Signal(syscall.SIGCONT)
		_ = d.Cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.Cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = d.Cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(path), d.Output())
		}
	})
	return d
}

// Output returns what the daemon wrote to stdout and stderr so far.
func (d *Daemon) Output() string { return d.out.String() }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }
