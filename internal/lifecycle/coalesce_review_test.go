package lifecycle

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestCoalesceHijackedWritesLeave: a handler that hijacks the connection and writes to it gets its bytes to the
// client while it goes on holding the connection without reading from it (a hijacked connection is no longer
// net/http's, so nothing else would ever flush what is kept).
func TestCoalesceHijackedWritesLeave(t *testing.T) {
	release := make(chan struct{})
	handlerDone := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(handlerDone)
		c, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello"); err != nil {
			t.Error(err)
			return
		}
		select {
		case <-release:
		case <-time.After(20 * time.Second):
		}
	})
	addr, _ := coalescingServer(t, h, nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /hijack HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(resp.Body)
		if err == nil && string(b) != "hello" {
			t.Errorf("body %q, want hello", b)
		}
	}
	close(release)
	<-handlerDone
	if err != nil {
		t.Fatalf("the hijacked connection's response was held back while its handler held the connection: %v", err)
	}
}

// enteredConn reports when a Write to it begins.
type enteredConn struct {
	net.Conn
	entered chan struct{}
}

func (c *enteredConn) Write(p []byte) (int, error) {
	select {
	case c.entered <- struct{}{}:
	default:
	}
	return c.Conn.Write(p)
}

// TestCoalesceCloseBreaksABlockedWrite: Close (as http.Server.Close calls it from another goroutine) ends a write
// that is blocked on a client that does not read, as closing a plain connection does, instead of waiting behind
// it for ever.
func TestCoalesceCloseBreaksABlockedWrite(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close() // never read: the server's writes block once the socket buffers are full
	sc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	ec := &enteredConn{Conn: sc, entered: make(chan struct{}, 1)}
	cc := &coalescingConn{Conn: ec}
	cc.enable()
	wrote := make(chan error, 1)
	go func() {
		_, err := cc.Write(make([]byte, 64<<20)) // more than is kept: written at once, and blocks
		wrote <- err
	}()
	<-ec.entered
	closed := make(chan error, 1)
	go func() { closed <- cc.Close() }()
	select {
	case <-closed:
	case <-time.After(20 * time.Second):
		_ = sc.Close() // unblock the writer so that the test ends
		t.Fatal("Close waited behind a write blocked on a client that does not read")
	}
	if err := <-wrote; err == nil {
		t.Error("the blocked write succeeded after Close")
	}
}

// TestCoalesceWriteTimeoutClosesTheConnection: a response that misses the server's WriteTimeout cannot be
// written; the connection must then be closed (the client sees it end, as with net/http alone), not left open
// with net/http waiting for ever for its background read to stop.
const wt = 100 * time.Millisecond

func TestCoalesceWriteTimeoutClosesTheConnection(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * wt) // past the write deadline
		_, _ = w.Write(doc)
	})
	for _, coalesce := range []bool{false, true} { // net/http alone, then coalesced
		t.Run(fmt.Sprintf("coalesce=%v", coalesce), func(t *testing.T) { writeTimeoutCloses(t, h, coalesce) })
	}
}

func writeTimeoutCloses(t *testing.T, h http.Handler, coalesce bool) {
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: h, ReadHeaderTimeout: 5 * time.Second, WriteTimeout: wt}
	hs := &HTTP{N: "coalesce", Server: srv, Coalesce: coalesce, OnFail: func(err error) { t.Error(err) }}
	if err := hs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	c, err := net.Dial("tcp", hs.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err = io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatal("the connection stayed open with nothing sent after the response missed its write deadline")
	}
}
