package lifecycle

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/signpost-project/signpost/internal/pki"
)

// doc is a response body the size of a signed SMP document: with its headers, more than net/http's 4 KiB buffer.
var doc = bytes.Repeat([]byte("0123456789abcdef"), 4575/16)

// coalescingServer serves h through HTTP{Coalesce: true} (HTTPS when tlsConf is set) and returns its address and
// the coalescing connections it accepted.
func coalescingServer(t *testing.T, h http.Handler, tlsConf *tls.Config) (string, func() []*coalescingConn) {
	t.Helper()
	var mu sync.Mutex
	var conns []*coalescingConn
	srv := &http.Server{Addr: "127.0.0.1:0", Handler: h, ReadHeaderTimeout: 5 * time.Second,
		ConnState: func(c net.Conn, s http.ConnState) {
			if s != http.StateNew {
				return
			}
			if tc, ok := c.(*tls.Conn); ok {
				c = tc.NetConn()
			}
			mu.Lock()
			conns = append(conns, c.(*coalescingConn))
			mu.Unlock()
		}}
	hs := &HTTP{N: "coalesce", Server: srv, TLS: tlsConf, Coalesce: true, OnFail: func(err error) { t.Error(err) }}
	if err := hs.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = hs.Shutdown(context.Background()) })
	return hs.Addr().String(), func() []*coalescingConn {
		mu.Lock()
		defer mu.Unlock()
		return append([]*coalescingConn(nil), conns...)
	}
}

func docHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			b, _ := io.ReadAll(r.Body)
			_, _ = fmt.Fprintf(w, "got %d bytes", len(b))
			return
		}
		if r.URL.Path == "/big" {
			for range 10 {
				_, _ = w.Write(bytes.Repeat(doc, 4)) // 180 KB: more than the 64 KiB kept at most
			}
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		_, _ = w.Write(doc)
	})
}

func writes(c *coalescingConn) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writes
}

// TestCoalescePlainHTTP: on one keep-alive connection, each response leaves in one write; pipelined requests are
// all answered, in order; a request with a body and Expect: 100-continue, and a response larger than what is
// kept, come through whole.
func TestCoalescePlainHTTP(t *testing.T) {
	addr, conns := coalescingServer(t, docHandler(), nil)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	read := func(want []byte) {
		t.Helper()
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Equal(b, want) {
			t.Fatalf("%d, %d bytes: not the document", resp.StatusCode, len(b))
		}
	}
	get := "GET /doc HTTP/1.1\r\nHost: x\r\n\r\n"
	if _, err := io.WriteString(c, get); err != nil {
		t.Fatal(err)
	}
	read(doc)
	cc := conns()[0]
	before := writes(cc)
	const n = 20
	for range n {
		if _, err := io.WriteString(c, get); err != nil {
			t.Fatal(err)
		}
		read(doc)
	}
	if got := writes(cc) - before; !oneEach(n, got) {
		t.Errorf("%d responses left in %d writes, want one each", n, got)
	}
	if _, err := io.WriteString(c, strings.Repeat(get, 20)); err != nil { // pipelined
		t.Fatal(err)
	}
	for range 20 {
		read(doc)
	}
	body := strings.Repeat("x", 10000)
	if _, err := fmt.Fprintf(c, "PUT /doc HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", len(body)); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "HTTP/1.1 100") {
		t.Fatalf("100-continue: %q %v", line, err)
	}
	if _, err := br.ReadString('\n'); err != nil { // the empty line after it
		t.Fatal(err)
	}
	if _, err := io.WriteString(c, body); err != nil {
		t.Fatal(err)
	}
	read([]byte("got 10000 bytes"))
	if _, err := io.WriteString(c, "GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	read(bytes.Repeat(doc, 40))
}

// TestCoalesceHTTPS: over TLS, HTTP/1.1 responses leave in one write each; HTTP/2 is served without coalescing
// (and does not stall).
func TestCoalesceHTTPS(t *testing.T) {
	now := time.Now()
	ca, err := pki.NewRoot("Coalesce CA", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := ca.Issue(pki.LeafSpec{Profile: pki.TLSServer, CommonName: "127.0.0.1", Hosts: []string{"127.0.0.1"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	cert := tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key}
	addr, conns := coalescingServer(t, docHandler(), &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}})
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	for _, c := range []struct {
		proto string
		tr    *http.Transport
	}{
		{"HTTP/1.1", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, NextProtos: []string{"http/1.1"}}, TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}}},
		{"HTTP/2.0", &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}},
	} {
		t.Run(c.proto, func(t *testing.T) {
			client := &http.Client{Transport: c.tr, Timeout: 10 * time.Second}
			defer c.tr.CloseIdleConnections()
			var cc *coalescingConn
			var before int
			const n = 20
			for i := range n + 1 {
				resp, err := client.Get("https://" + addr + "/doc")
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || resp.Proto != c.proto || !bytes.Equal(b, doc) {
					t.Fatalf("%d %s, %d bytes", resp.StatusCode, resp.Proto, len(b))
				}
				if i == 0 {
					all := conns()
					cc = all[len(all)-1]
					before = writes(cc)
				}
			}
			got := writes(cc) - before
			if c.proto == "HTTP/1.1" && !oneEach(n, got) {
				t.Errorf("%d responses left in %d writes, want one each", n, got)
			}
			if c.proto == "HTTP/2.0" && got < n {
				t.Errorf("HTTP/2: %d responses in %d writes: coalesced, but HTTP/2 must not be", n, got)
			}
		})
	}
}

// oneEach reports whether n responses left in about one write each. net/http starts a background read before the
// handler runs; when the scheduler runs it only after the handler began writing, its read sends out what is held
// so far, and that response leaves in two writes (a syscall more, never a stall). So allow a few of those; without
// coalescing every response of this size takes two writes (2n).
func oneEach(n, writes int) bool { return writes >= n && writes <= n+n/4 }
