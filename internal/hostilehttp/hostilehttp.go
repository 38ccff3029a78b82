// Package hostilehttp is a test helper that sends hostile raw HTTP/1.1 to a server and compares what comes back
// with what a plain net/http server answers to the same bytes.
//
// Cases builds the raw requests (ambiguous Host fields, conflicting framing, obs-fold, bare CR, NUL, a 64 KB
// URL, ...). Send writes one case on a new connection and records every response status until the connection
// ends. Pipeline sends many GETs in one write, HalfOpen stalls many connections in the middle of a request line
// and checks that a normal GET is still answered, and AcceptExhaustion (Linux) runs a handler in a child
// process whose file limit is exhausted. Suite.Compare runs the lot against a server and a reference net/http
// server started on 127.0.0.1:0, and fails the test wherever the two differ.
package hostilehttp

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target says what the requests ask for.
type Target struct {
	// Host is the value of a valid Host field. Default "signpost.test".
	Host string
	// Path is a path the server answers (200 on the SMP: a published service group, say). Default "/".
	Path string
	// Missing is a path the server answers differently from Path (404), so that the order of pipelined answers
	// shows. Default "/hostilehttp/missing".
	Missing string
}

func (tg Target) withDefaults() Target {
	if tg.Host == "" {
		tg.Host = "signpost.test"
	}
	if tg.Path == "" {
		tg.Path = "/"
	}
	if tg.Missing == "" {
		tg.Missing = "/hostilehttp/missing"
	}
	return tg
}

// Case is one raw request, written to the server in one write.
type Case struct {
	Name string
	Raw  []byte
}

// Cases returns the hostile requests for tg, and first a valid GET of tg.Path (the control).
func Cases(tg Target) []Case {
	tg = tg.withDefaults()
	h, p := tg.Host, tg.Path
	get := func(head string) []byte { return []byte("GET " + p + " HTTP/1.1\r\n" + head + "\r\n") }
	return []Case{
		{"valid GET", get("Host: " + h + "\r\n")},
		{"HTTP/1.0 without Host", []byte("GET " + p + " HTTP/1.0\r\n\r\n")},
		{"Host with a space", get("Host: a b\r\n")},
		{"Host with a slash", get("Host: a/b\r\n")},
		{"quoted Host", get("Host: \"x\"\r\n")},
		{"two Host fields", get("Host: " + h + "\r\nHost: other.test\r\n")},
		{"no Host in HTTP/1.1", get("")},
		{"Content-Length and Transfer-Encoding", []byte("POST " + p + " HTTP/1.1\r\nHost: " + h +
			"\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")},
		{"two different Content-Length fields", []byte("POST " + p + " HTTP/1.1\r\nHost: " + h +
			"\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")},
		{"Content-Length list", []byte("POST " + p + " HTTP/1.1\r\nHost: " + h +
			"\r\nContent-Length: 2, 2\r\n\r\nab")},
		{"Transfer-Encoding other than chunked", []byte("POST " + p + " HTTP/1.1\r\nHost: " + h +
			"\r\nTransfer-Encoding: gzip\r\n\r\n")},
		{"obs-fold", get("Host: " + h + "\r\nX-Folded: a\r\n b\r\n")},
		{"bare CR in a header", get("Host: " + h + "\r\nX-Cr: a\rb\r\n")},
		{"bare LF line end", []byte("GET " + p + " HTTP/1.1\nHost: " + h + "\n\n")},
		{"space before the colon", get("Host: " + h + "\r\nX-Space : a\r\n")},
		{"NUL in the path", []byte("GET " + p + "\x00x HTTP/1.1\r\nHost: " + h + "\r\n\r\n")},
		{"64 KB URL", []byte("GET " + p + "?q=" + strings.Repeat("a", 64<<10) + " HTTP/1.1\r\nHost: " + h + "\r\n\r\n")},
		{"absolute-form target", []byte("GET http://" + h + p + " HTTP/1.1\r\nHost: other.test\r\n\r\n")},
		{"unknown HTTP version", []byte("GET " + p + " HTTP/1.7\r\nHost: " + h + "\r\n\r\n")},
	}
}

// sentinel asks for Path and for the connection to close, so that the server ends the exchange on its own.
func sentinel(tg Target) []byte {
	return []byte("GET " + tg.Path + " HTTP/1.1\r\nHost: " + tg.Host + "\r\nConnection: close\r\n\r\n")
}

// End is how an exchange ended.
type End string

const (
	// Closed means the server closed the connection (or reset it).
	Closed End = "closed"
	// TimedOut means the server neither answered nor closed within the timeout.
	TimedOut End = "timeout"
	// Garbled means the server sent bytes that are not an HTTP/1.1 response.
	Garbled End = "garbled"
)

// Result is what came back on one connection.
type Result struct {
	// Statuses are the status codes of the responses, in order.
	Statuses []int
	End      End
}

// Equal reports whether r and o are the same answers ending the same way.
func (r Result) Equal(o Result) bool {
	if r.End != o.End || len(r.Statuses) != len(o.Statuses) {
		return false
	}
	for i := range r.Statuses {
		if r.Statuses[i] != o.Statuses[i] {
			return false
		}
	}
	return true
}

func (r Result) String() string {
	if len(r.Statuses) == 0 {
		return "no response, then " + string(r.End)
	}
	s := make([]string, len(r.Statuses))
	for i, c := range r.Statuses {
		s[i] = strconv.Itoa(c)
	}
	return strings.Join(s, ", ") + " then " + string(r.End)
}

// Send writes c on a new connection to addr and reads every response until the server closes the connection.
// After the first response, if the connection is still open, it sends one more GET of tg.Path with
// "Connection: close", so that a server that keeps the connection open ends the exchange, and bytes that a
// server left unread (a smuggled request) show as an extra response. timeout bounds the whole exchange.
func Send(addr string, tg Target, c Case, timeout time.Duration) (Result, error) {
	tg = tg.withDefaults()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return Result{}, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return Result{}, err
	}
	if _, err := conn.Write(c.Raw); err != nil {
		if ended(err) {
			return Result{End: Closed}, nil
		}
		return Result{}, err
	}
	var res Result
	br := bufio.NewReader(conn)
	sent := false
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			res.End = endOf(err)
			return res, nil
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		res.Statuses = append(res.Statuses, resp.StatusCode)
		if err != nil {
			res.End = endOf(err)
			return res, nil
		}
		if !sent && !resp.Close {
			sent = true
			if _, err := conn.Write(sentinel(tg)); err != nil {
				res.End = Closed
				return res, nil
			}
		}
	}
}

// ended reports whether err means that the peer closed or reset the connection.
func ended(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, net.ErrClosed)
}

func endOf(err error) End {
	switch {
	case ended(err):
		return Closed
	case errors.Is(err, os.ErrDeadlineExceeded):
		return TimedOut
	default:
		return Garbled
	}
}

// Pipeline writes n GETs on one connection in one write, alternating tg.Path and tg.Missing (the last one asks
// the server to close), and returns the statuses of the responses in order. It fails unless all n are answered.
func Pipeline(addr string, tg Target, n int, timeout time.Duration) ([]int, error) {
	tg = tg.withDefaults()
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return nil, err
	}
	var b strings.Builder
	for i := range n {
		p := tg.Path
		if i%2 == 1 {
			p = tg.Missing
		}
		b.WriteString("GET " + p + " HTTP/1.1\r\nHost: " + tg.Host + "\r\n")
		if i == n-1 {
			b.WriteString("Connection: close\r\n")
		}
		b.WriteString("\r\n")
	}
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	statuses := make([]int, 0, n)
	for len(statuses) < n {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			return statuses, fmt.Errorf("pipeline: %d of %d requests answered, then: %w", len(statuses), n, err)
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil {
			return statuses, fmt.Errorf("pipeline: response %d: %w", len(statuses)+1, err)
		}
		statuses = append(statuses, resp.StatusCode)
	}
	return statuses, nil
}

// HalfOpen opens n connections to addr that each send the start of a request line and stall, then sends a valid
// GET of tg.Path on a new connection and returns what came back, and closes the stalled connections.
func HalfOpen(addr string, tg Target, n int, timeout time.Duration) (Result, error) {
	tg = tg.withDefaults()
	conns := make([]net.Conn, 0, n)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for range n {
		c, err := net.DialTimeout("tcp", addr, timeout)
		if err != nil {
			return Result{}, fmt.Errorf("half-open connection %d of %d: %w", len(conns)+1, n, err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, "GET "+tg.Path+" HT"); err != nil {
			return Result{}, fmt.Errorf("half-open connection %d of %d: %w", len(conns), n, err)
		}
	}
	return Send(addr, tg, Cases(tg)[0], timeout)
}
