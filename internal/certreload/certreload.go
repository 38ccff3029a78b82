// Package certreload serves a TLS certificate read from files and reads it again when the files change on disk
// (their size or modification time, checked at an interval) or when asked (SIGHUP). A new certificate takes
// effect at the next handshake; connections open keep theirs. When the new files cannot be read, do not match,
// or hold a certificate that is not valid now, the certificate in use stays, and the error is logged, counted and
// kept for Err until a reload succeeds.
package certreload

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Load reads the certificate (its Leaf set) from the files.
type Load func() (*tls.Certificate, error)

// Metrics receives what a Reloader does; any field may be nil.
type Metrics struct {
	// Reloaded is called after a new certificate took effect.
	Reloaded func()
	// Failed is called after a reload failed (the old certificate stays).
	Failed func()
	// NotAfter is called with the expiry of the certificate in use, at start and after each reload.
	NotAfter func(time.Time)
}

// Reloader holds the certificate in use.
type Reloader struct {
	name    string
	files   []string
	load    Load
	log     *slog.Logger
	metrics Metrics
	now     func() time.Time

	cert atomic.Pointer[tls.Certificate]
	mu   sync.Mutex // serialises reloads
	seen string     // the files' sizes and modification times at the last reload attempt
	err  error      // the last reload's error, nil after a success

	stop chan struct{}
	done chan struct{}
}

// New reads the certificate once; name says what it is in logs and errors (e.g. "http.tls"), files are the paths
// watched for a change. An error here is the configuration's: the caller should not start.
func New(name string, files []string, load Load, log *slog.Logger, m Metrics) (*Reloader, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Reloader{name: name, files: files, load: load, log: log, metrics: m, now: time.Now}
	r.seen = r.stamp()
	c, err := r.read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	r.cert.Store(c)
	if m.NotAfter != nil {
		m.NotAfter(c.Leaf.NotAfter)
	}
	return r, nil
}

// read loads and checks the certificate.
func (r *Reloader) read() (*tls.Certificate, error) {
	c, err := r.load()
	if err != nil {
		return nil, err
	}
	if c == nil || c.Leaf == nil || len(c.Certificate) == 0 {
		return nil, errors.New("no certificate in the files")
	}
	now := r.now()
	if now.After(c.Leaf.NotAfter) {
		return nil, fmt.Errorf("the certificate %q expired on %s; install a current one", c.Leaf.Subject, c.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if now.Before(c.Leaf.NotBefore) {
		return nil, fmt.Errorf("the certificate %q is valid only from %s (check the clock, or install it then)", c.Leaf.Subject, c.Leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// stamp renders the files' sizes and modification times (a missing file renders as such).
func (r *Reloader) stamp() string {
	s := ""
	for _, f := range r.files {
		fi, err := os.Stat(f)
		if err != nil {
			s += f + ":missing;"
			continue
		}
		s += fmt.Sprintf("%s:%d:%d;", f, fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}

// GetCertificate is the tls.Config hook: the certificate in use.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.cert.Load(), nil
}

// Certificate returns the certificate in use.
func (r *Reloader) Certificate() *tls.Certificate { return r.cert.Load() }

// Err returns the error of the last reload, nil when it succeeded (or none failed yet).
func (r *Reloader) Err() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Reload reads the files now, whether they changed or not (SIGHUP). It reports whether another certificate took
// effect; on an error the certificate in use stays.
func (r *Reloader) Reload() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = r.stamp()
	return r.reloadLocked()
}

// check reloads when the files' sizes or modification times differ from the last attempt.
func (r *Reloader) check() {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stamp()
	if st == r.seen {
		return
	}
	r.seen = st
	_, _ = r.reloadLocked()
}

func (r *Reloader) reloadLocked() (bool, error) {
	c, err := r.read()
	if err != nil {
		r.err = fmt.Errorf("%s: %w", r.name, err)
		r.log.Error("TLS certificate not reloaded; the one in use stays", "files", r.name, "err", err,
			"in_use", r.cert.Load().Leaf.Subject.String(), "expires", r.cert.Load().Leaf.NotAfter)
		if r.metrics.Failed != nil {
			r.metrics.Failed()
		}
		return false, r.err
	}
	r.err = nil
	old := r.cert.Load()
	if sameChain(old, c) {
		return false, nil
	}
	r.cert.Store(c)
	r.log.Info("TLS certificate reloaded", "files", r.name, "subject", c.Leaf.Subject.String(), "serial", c.Leaf.SerialNumber.String(),
		"expires", c.Leaf.NotAfter)
	if r.metrics.Reloaded != nil {
		r.metrics.Reloaded()
	}
	if r.metrics.NotAfter != nil {
		r.metrics.NotAfter(c.Leaf.NotAfter)
	}
	return true, nil
}

func sameChain(a, b *tls.Certificate) bool {
	if len(a.Certificate) != len(b.Certificate) {
		return false
	}
	for i := range a.Certificate {
		if string(a.Certificate[i]) != string(b.Certificate[i]) {
			return false
		}
	}
	return true
}

// Start checks the files every interval until Stop or ctx ends.
func (r *Reloader) Start(ctx context.Context, interval time.Duration) {
	r.mu.Lock()
	if r.stop != nil {
		r.mu.Unlock()
		return
	}
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	stop, done := r.stop, r.done
	r.mu.Unlock()
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				r.check()
			}
		}
	}()
}

// Stop ends the checks started by Start and waits for them.
func (r *Reloader) Stop() {
	r.mu.Lock()
	stop, done := r.stop, r.done
	r.stop, r.done = nil, nil
	r.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
}
