package hostilehttp

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestNetHTTPMatchesItself runs the whole suite against a second plain net/http server: every case must match.
func TestNetHTTPMatchesItself(t *testing.T) {
	tg := Target{Path: "/ok"}
	addr := StartReference(t, PathHandler(tg.Path), 10*time.Second)
	Suite{Target: tg}.Compare(t, addr)
}

// TestNetHTTPAnswers pins what net/http answers to the cases the SMP's old fast parser got wrong, so that the
// comparison is known to be against something: each is a 400 that ends the connection.
func TestNetHTTPAnswers(t *testing.T) {
	tg := Target{Path: "/ok"}
	ref := StartReference(t, PathHandler(tg.Path), 10*time.Second)
	bad := Result{Statuses: []int{400}, End: Closed}
	want := map[string]Result{
		"valid GET":                           {Statuses: []int{200, 200}, End: Closed},
		"Host with a space":                   bad,
		"Host with a slash":                   bad,
		"quoted Host":                         bad,
		"two Host fields":                     bad,
		"no Host in HTTP/1.1":                 bad,
		"two different Content-Length fields": bad,
		"bare CR in a header":                 bad,
		"NUL in the path":                     bad,
		"64 KB URL":                           {Statuses: []int{200, 200}, End: Closed},
	}
	seen := 0
	for _, c := range Cases(tg) {
		w, ok := want[c.Name]
		if !ok {
			continue
		}
		seen++
		got, err := Send(ref, tg, c, 10*time.Second)
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if !got.Equal(w) {
			t.Errorf("%s: net/http answered %v, want %v", c.Name, got, w)
		}
	}
	if seen != len(want) {
		t.Errorf("%d of the %d pinned cases are in Cases", seen, len(want))
	}
}

// sloppyServer is the kind of hand-written HTTP/1.1 loop the suite exists to catch: it serves one connection at a
// time, reads up to an empty line, ignores Host and framing, and answers 200 to anything.
func sloppyServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.SetDeadline(time.Now().Add(3 * time.Second))
			br := bufio.NewReader(c)
			for {
				var head bytes.Buffer
				for {
					line, err := br.ReadString('\n')
					head.WriteString(line)
					if err != nil {
						c.Close()
						goto next
					}
					if line == "\r\n" || line == "\n" {
						break
					}
				}
				if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n"); err != nil ||
					strings.Contains(strings.ToLower(head.String()), "connection: close") {
					c.Close()
					goto next
				}
			}
		next:
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String()
}

// TestSloppyServerDiffers shows that the suite fails a server that does not parse as net/http does.
func TestSloppyServerDiffers(t *testing.T) {
	tg := Target{Path: "/ok"}
	addr := sloppyServer(t)
	ref := StartReference(t, PathHandler(tg.Path), 10*time.Second)
	var differ []string
	for _, o := range Run(addr, ref, tg, 10*time.Second) {
		if o.Err != nil {
			t.Fatalf("%s: %v", o.Case.Name, o.Err)
		}
		if !o.Same() {
			differ = append(differ, o.Case.Name)
		}
	}
	for _, name := range []string{"Host with a space", "Host with a slash", "quoted Host", "two Host fields",
		"no Host in HTTP/1.1", "Content-Length and Transfer-Encoding", "two different Content-Length fields", "NUL in the path"} {
		if !slices.Contains(differ, name) {
			t.Errorf("%s: the sloppy server's answer was not told apart from net/http's (differ: %v)", name, differ)
		}
	}
	if slices.Contains(differ, "valid GET") {
		t.Errorf("the sloppy server's answer to a valid GET differs from net/http's: the comparison is too strict")
	}

	// Pipelined GETs: the sloppy server answers 200 to the missing path too.
	got, err := Pipeline(addr, tg, 10, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got[1] != 200 {
		t.Fatalf("sloppy server answered %v", got)
	}
	// Half-open connections: the sloppy server serves one connection at a time, so a normal GET waits behind a
	// stalled one until its 3 s deadline, which is longer than this exchange may take.
	res, err := HalfOpen(addr, tg, 3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.End != TimedOut || len(res.Statuses) != 0 {
		t.Errorf("a GET behind stalled connections on a one-at-a-time server got %v, want a timeout", res)
	}
}

func TestPipelineOrder(t *testing.T) {
	tg := Target{Path: "/ok"}
	ref := StartReference(t, PathHandler(tg.Path), 10*time.Second)
	got, err := Pipeline(ref, tg, 100, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 100 {
		t.Fatalf("%d responses", len(got))
	}
	for i, s := range got {
		if want := []int{200, 404}[i%2]; s != want {
			t.Fatalf("response %d: %d, want %d", i+1, s, want)
		}
	}
}

func TestSendToClosedPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Send(addr, Target{}, Cases(Target{})[0], time.Second); err == nil {
		t.Fatal("Send to a closed port: no error")
	}
}
