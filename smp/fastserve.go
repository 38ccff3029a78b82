package smp

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves the read API on plain-HTTP listeners. A small HTTP/1.1 loop answers GET and HEAD requests from
// stored bytes, one write per response (pipelined requests are batched); a request that is anything else
// (another method, a body, Expect, Upgrade, an absolute-form target, over-long headers, anything net/http would
// refuse or frame differently) hands the connection, with the bytes read so far, to net/http (Fallback) for the
// rest of its life. net/http therefore still serves the write API and every unusual request.
type Server struct {
	h *handler
	// Fallback serves handed-off connections; its Handler is used, its Addr ignored.
	Fallback *http.Server
	// ReadTimeout bounds reading one request, IdleTimeout the wait for the next, WriteTimeout writing a response.
	ReadTimeout, IdleTimeout, WriteTimeout time.Duration

	handoff *connListener
	mu      sync.Mutex
	lns     []net.Listener
	conns   map[*fastConn]struct{}
	wg      sync.WaitGroup
	closing atomic.Bool
	date    atomic.Pointer[dateStamp]
}

type dateStamp struct {
	sec  int64
	line []byte // "Date: ...\r\n"
}

// NewServer returns a fast server for the read API; the fallback serves everything else (its Handler should be
// the full handler, e.g. Handler(HandlerOptions{Write: ...})).
func (s *Service) NewServer(fallback *http.Server, o HandlerOptions) *Server {
	h := s.Handler(o).(*handler)
	return &Server{
		h: h, Fallback: fallback, ReadTimeout: fallback.ReadTimeout, IdleTimeout: fallback.IdleTimeout,
		WriteTimeout: fallback.WriteTimeout, handoff: newConnListener(), conns: map[*fastConn]struct{}{},
	}
}

// Serve accepts connections on ln until Shutdown.
func (srv *Server) Serve(ln net.Listener) error {
	srv.mu.Lock()
	srv.lns = append(srv.lns, ln)
	first := len(srv.lns) == 1
	srv.mu.Unlock()
	if first {
		srv.handoff.addr = ln.Addr()
		go func() { _ = srv.Fallback.Serve(srv.handoff) }()
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			if srv.closing.Load() {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		fc := &fastConn{Conn: c, srv: srv}
		srv.mu.Lock()
		if srv.closing.Load() {
			srv.mu.Unlock()
			_ = c.Close()
			return http.ErrServerClosed
		}
		srv.conns[fc] = struct{}{}
		srv.wg.Add(1)
		srv.mu.Unlock()
		go fc.serve()
	}
}

// Shutdown stops accepting, lets responses in progress finish, closes idle connections and shuts the fallback
// down, within ctx.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.closing.Store(true)
	srv.mu.Lock()
	for _, ln := range srv.lns {
		_ = ln.Close()
	}
	for c := range srv.conns {
		// Wakes a connection waiting for its next request; one writing finishes its response first.
		_ = c.SetReadDeadline(time.Now())
	}
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() { srv.wg.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
		srv.mu.Lock()
		for c := range srv.conns {
			_ = c.Close()
		}
		srv.mu.Unlock()
	}
	if ferr := srv.Fallback.Shutdown(ctx); ferr != nil && err == nil {
		err = ferr
	}
	srv.handoff.close()
	return err
}

func (srv *Server) dateLine() []byte {
	now := time.Now()
	if d := srv.date.Load(); d != nil && d.sec == now.Unix() {
		return d.line
	}
	d := &dateStamp{sec: now.Unix(), line: []byte("Date: " + now.UTC().Format(http.TimeFormat) + "\r\n")}
	srv.date.Store(d)
	return d.line
}

// maxHeader is the most header bytes the fast path reads; longer requests go to net/http (which answers 431).
const maxHeader = 8 << 10

type fastConn struct {
	net.Conn
	srv *Server
	br  *bufio.Reader
	out []byte
}

func (c *fastConn) done(handedOff bool) {
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
	if !handedOff {
		_ = c.Conn.Close()
	}
	c.srv.wg.Done()
}

// request is the part of a request the fast path needs; the byte slices point into the read buffer.
type request struct {
	head               int // header length, including the blank line
	method, target     []byte
	http10, close      bool
	keepAlive          bool
	ifNoneMatch, ifMod []byte
}

func (c *fastConn) serve() {
	srv := c.srv
	c.br = bufio.NewReaderSize(c.Conn, maxHeader)
	handedOff := false
	defer func() { c.done(handedOff) }()
	for first := true; ; first = false {
		idle := srv.IdleTimeout
		if first || idle <= 0 {
			idle = srv.ReadTimeout
		}
		if idle > 0 {
			_ = c.SetReadDeadline(time.Now().Add(idle))
		}
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		if srv.ReadTimeout > 0 {
			_ = c.SetReadDeadline(time.Now().Add(srv.ReadTimeout))
		}
		req, ok, err := c.parse()
		if err != nil {
			// The head did not arrive within the read timeout, or the connection failed: close, as net/http
			// does (handing off would give a slow client a second timeout).
			return
		}
		if !ok {
			if len(c.out) > 0 && !c.flush() {
				return
			}
			if srv.closing.Load() {
				return
			}
			_ = c.SetReadDeadline(time.Time{})
			handedOff = srv.handoff.give(&replayConn{Conn: c.Conn, br: c.br})
			return
		}
		if _, err := c.br.Discard(req.head); err != nil {
			return
		}
		keep := !req.close && (!req.http10 || req.keepAlive) && !srv.closing.Load()
		c.respond(&req, keep)
		// Batch the responses of pipelined requests only while the next request is already complete in the
		// buffer: a response is never held back waiting for the client, and the batch is bounded.
		if !keep || len(c.out) >= maxBatch || !c.nextBuffered() {
			if !c.flush() || !keep {
				return
			}
		}
	}
}

// maxBatch bounds the response bytes held back for pipelined requests.
const maxBatch = 64 << 10

// nextBuffered reports whether a whole request head is already buffered.
func (c *fastConn) nextBuffered() bool {
	b, _ := c.br.Peek(c.br.Buffered())
	return headerEnd(b) > 0
}

func (c *fastConn) flush() bool {
	if c.srv.WriteTimeout > 0 {
		_ = c.SetWriteDeadline(time.Now().Add(c.srv.WriteTimeout))
	}
	_, err := c.Conn.Write(c.out)
	if cap(c.out) > 64<<10 {
		c.out = nil
	} else {
		c.out = c.out[:0]
	}
	return err == nil
}

// parse reads one request head. ok is false when the request is not for the fast path; err is set when the head
// could not be read (timeout, closed connection).
func (c *fastConn) parse() (req request, ok bool, err error) {
	var b []byte
	for {
		n := c.br.Buffered()
		b, _ = c.br.Peek(n)
		if i := headerEnd(b); i > 0 {
			b = b[:i]
			break
		}
		if n >= maxHeader {
			return req, false, nil
		}
		if _, err := c.br.Peek(n + 1); err != nil {
			return req, false, err
		}
	}
	req.head = len(b)
	line, rest := cutLine(b)
	if hasCTL(line) {
		return req, false, nil // net/http answers 400
	}
	sp1 := bytes.IndexByte(line, ' ')
	sp2 := bytes.LastIndexByte(line, ' ')
	if sp1 <= 0 || sp2 <= sp1 {
		return req, false, nil
	}
	req.method, req.target = line[:sp1], line[sp1+1:sp2]
	switch proto := line[sp2+1:]; string(proto) {
	case "HTTP/1.1":
	case "HTTP/1.0":
		req.http10 = true
	default:
		return req, false, nil
	}
	if string(req.method) != http.MethodGet && string(req.method) != http.MethodHead {
		return req, false, nil
	}
	if len(req.target) == 0 || req.target[0] != '/' || bytes.IndexByte(req.target, ' ') >= 0 {
		return req, false, nil
	}
	if h := c.srv.h; h.api != nil && (hasPrefix(req.target, PathAPI) ||
		(h.prefix != "" && hasPrefix(req.target, h.prefix) && hasPrefix(req.target[len(h.prefix):], PathAPI))) {
		return req, false, nil // the admin API is net/http's
	}
	hosts := 0
	for len(rest) > 0 {
		var h []byte
		h, rest = cutLine(rest)
		if len(h) == 0 {
			break
		}
		if h[0] == ' ' || h[0] == '\t' {
			return req, false, nil // obsolete line folding
		}
		colon := bytes.IndexByte(h, ':')
		if colon <= 0 || !isToken(h[:colon]) || hasCTL(h[colon+1:]) {
			// A name with a space or other non-token byte ("Content-Length : 5"), or a bare CR or other control
			// byte in a value, is a request that other parsers may frame differently: net/http refuses it (400).
			return req, false, nil
		}
		name, value := h[:colon], bytes.Trim(h[colon+1:], " \t")
		switch {
		case equalFold(name, "Content-Length"):
			if string(value) != "0" {
				return req, false, nil
			}
		case equalFold(name, "Transfer-Encoding"), equalFold(name, "Expect"), equalFold(name, "Upgrade"):
			return req, false, nil
		case equalFold(name, "Connection"):
			for _, tok := range bytes.Split(value, []byte(",")) {
				tok = bytes.TrimSpace(tok)
				if equalFold(tok, "close") {
					req.close = true
				} else if equalFold(tok, "keep-alive") {
					req.keepAlive = true
				}
			}
		case equalFold(name, "Host"):
			hosts++
		case equalFold(name, "If-None-Match"):
			if req.ifNoneMatch != nil {
				// Several fields are one comma-separated list (RFC 9110 5.3).
				value = append(append(append([]byte(nil), req.ifNoneMatch...), ','), value...)
			}
			req.ifNoneMatch = value
		case equalFold(name, "If-Modified-Since"):
			req.ifMod = value
		}
	}
	if hosts > 1 || (hosts == 0 && !req.http10) {
		return req, false, nil // net/http answers 400, as RFC 9112 3.2 requires
	}
	return req, true, nil
}

// hasCTL reports whether b has a control byte other than HTAB (a bare CR, NUL, DEL...).
func hasCTL(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\t') || c == 0x7f {
			return true
		}
	}
	return false
}

// isToken reports whether b is a non-empty RFC 9110 token (a valid header field name).
func isToken(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c >= 0x80 || !tokenByte[c] {
			return false
		}
	}
	return true
}

var tokenByte = func() (t [128]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// hasPrefix is bytes.HasPrefix with a string prefix, without allocating.
func hasPrefix(b []byte, s string) bool { return len(b) >= len(s) && string(b[:len(s)]) == s }

// headerEnd returns the length of the request head (through the blank line) in b, or 0.
func headerEnd(b []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(b) && b[i] == '\n' {
			return i + 1
		}
		if i+1 < len(b) && b[i] == '\r' && b[i+1] == '\n' {
			return i + 2
		}
	}
}

func cutLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(b); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

var statusLines = map[int]string{
	200: "HTTP/1.1 200 OK\r\n", 304: "HTTP/1.1 304 Not Modified\r\n", 400: "HTTP/1.1 400 Bad Request\r\n",
	404: "HTTP/1.1 404 Not Found\r\n", 500: "HTTP/1.1 500 Internal Server Error\r\n",
}

func (c *fastConn) respond(req *request, keep bool) {
	raw := req.target
	if i := bytes.IndexByte(raw, '?'); i >= 0 {
		raw = raw[:i]
	}
	h := c.srv.h
	code, route, doc, msg := h.answer(string(raw), string(req.ifNoneMatch), string(req.ifMod))
	h.s.m.request(route, code)
	o := append(c.out, statusLines[code]...)
	o = append(o, c.srv.dateLine()...)
	if req.http10 && keep {
		o = append(o, "Connection: keep-alive\r\n"...)
	} else if !keep {
		o = append(o, "Connection: close\r\n"...)
	}
	head := string(req.method) == http.MethodHead
	if doc != nil {
		o = append(o, "Etag: "...)
		o = append(o, doc.ETag...)
		o = append(o, "\r\nLast-Modified: "...)
		o = append(o, doc.hdrModified[0]...)
		o = append(o, "\r\n"...)
		if code == http.StatusNotModified {
			c.out = append(o, "\r\n"...)
			return
		}
		o = append(o, "Content-Type: "...)
		o = append(o, doc.hdrType[0]...)
		o = append(o, "\r\nContent-Length: "...)
		o = append(o, doc.hdrLength[0]...)
		o = append(o, "\r\n\r\n"...)
		if !head {
			o = append(o, doc.Body...)
		}
		c.out = o
		return
	}
	msg += "\n"
	o = append(o, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nContent-Length: "...)
	o = strconv.AppendInt(o, int64(len(msg)), 10)
	o = append(o, "\r\n\r\n"...)
	if !head {
		o = append(o, msg...)
	}
	c.out = o
}

// replayConn is a handed-off connection: reads return what the fast path buffered first.
type replayConn struct {
	net.Conn
	br *bufio.Reader
}

func (r *replayConn) Read(p []byte) (int, error) {
	if r.br != nil {
		if r.br.Buffered() > 0 {
			return r.br.Read(p)
		}
		r.br = nil
	}
	return r.Conn.Read(p)
}

// connListener feeds handed-off connections to net/http.
type connListener struct {
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
	addr   net.Addr
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *connListener) give(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) close() { l.once.Do(func() { close(l.closed) }) }

func (l *connListener) Close() error { l.close(); return nil }

func (l *connListener) Addr() net.Addr {
	if l.addr == nil {
		return &net.TCPAddr{}
	}
	return l.addr
}
