package lifecycle

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

// Write coalescing for HTTP/1.1 connections (HTTP.Coalesce).
//
// net/http writes a response through a 4 KiB buffer: a response larger than that (a signed SMP document is about
// 4.5 KiB with its headers) leaves as two writes, and over TLS as two records in two syscalls, where nginx needs
// one. A coalescing connection sits under TLS (or is the plain connection) and, once net/http has an HTTP/1.1
// request on it, keeps what is written until net/http next reads from the connection or sets a deadline on it,
// and then writes it with one syscall. net/http always does one of those after a response (it stops its
// background read, or it reads the next request) and before it waits for anything, so nothing is held back while
// the server waits; Close and CloseWrite write what is kept, and so does reaching 64 KiB. A hijacked connection
// is no longer coalesced. Close waits at most closeGrace for a write blocked on another goroutine. HTTP/2 connections
// (which keep a read pending all the time) and the TLS handshake are never coalesced. Handlers that stream with
// http.Flusher must not be served this way: a flushed chunk waits for the end of the response.

const coalesceMax = 64 << 10

type coalescingConn struct {
	net.Conn
	mu  sync.Mutex
	on  bool
	buf []byte
	err error // a failed write: returned by every later write and read
	// writes counts the writes made to the underlying connection (tests).
	writes int
}

func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	if !c.on {
		c.writes++
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	if len(c.buf) >= coalesceMax {
		return len(p), c.flushLocked()
	}
	return len(p), nil
}

func (c *coalescingConn) flushLocked() error {
	if len(c.buf) > 0 && c.err == nil {
		c.writes++
		_, c.err = c.Conn.Write(c.buf)
		if cap(c.buf) > coalesceMax {
			c.buf = nil
		} else {
			c.buf = c.buf[:0]
		}
	}
	return c.err
}

func (c *coalescingConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *coalescingConn) enable() {
	c.mu.Lock()
	c.on = true
	c.mu.Unlock()
}

// disable writes what is kept and passes every later write straight through (a hijacked connection: net/http no
// longer reads from it or sets its deadlines, so nothing would flush what is kept).
func (c *coalescingConn) disable() {
	c.mu.Lock()
	_ = c.flushLocked()
	c.on = false
	c.mu.Unlock()
}

func (c *coalescingConn) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	return c.Conn.Read(p)
}

func (c *coalescingConn) SetDeadline(t time.Time) error {
	ferr := c.flush()
	if err := c.Conn.SetDeadline(t); err != nil {
		return err
	}
	return ferr
}

func (c *coalescingConn) SetReadDeadline(t time.Time) error {
	ferr := c.flush()
	if err := c.Conn.SetReadDeadline(t); err != nil {
		return err
	}
	return ferr
}

func (c *coalescingConn) SetWriteDeadline(t time.Time) error {
	ferr := c.flush()
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return ferr
}

// CloseWrite writes what is kept and half-closes, as net/http does before closing a connection gracefully.
func (c *coalescingConn) CloseWrite() error {
	if err := c.flush(); err != nil {
		return err
	}
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// closeGrace bounds how long Close waits for a write in progress on another goroutine: that write may be blocked
// on a client that does not read, and Close must end it, as closing a plain connection does.
const closeGrace = 2 * time.Second

func (c *coalescingConn) Close() error {
	if !c.mu.TryLock() {
		_ = c.Conn.SetWriteDeadline(time.Now().Add(closeGrace))
		c.mu.Lock()
	}
	_ = c.flushLocked()
	c.mu.Unlock()
	return c.Conn.Close()
}

// coalescingListener wraps every accepted connection; they start off and are switched on by coalesceState.
type coalescingListener struct{ net.Listener }

func (l coalescingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &coalescingConn{Conn: c}, nil
}

// coalesceState switches coalescing on when a connection carries its first HTTP/1.1 request, and off for good
// when a handler hijacks it.
func coalesceState(c net.Conn, s http.ConnState) {
	if s == http.StateHijacked {
		if tc, ok := c.(*tls.Conn); ok {
			c = tc.NetConn()
		}
		if cc, ok := c.(*coalescingConn); ok {
			cc.disable()
		}
		return
	}
	if s != http.StateActive {
		return
	}
	if tc, ok := c.(*tls.Conn); ok {
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			return
		}
		c = tc.NetConn()
	}
	if cc, ok := c.(*coalescingConn); ok {
		cc.enable()
	}
}
