package smp_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/smp"
)

// rawExchange writes req on a new connection and reads n responses.
func rawExchange(t *testing.T, f *fixture, req string, n int) ([]*http.Response, []string, net.Conn) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(f.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(req)); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var resps []*http.Response
	var bodies []string
	methods := regexp.MustCompile(`(?m)^(GET|HEAD|POST|NONSENSE)`).FindAllString(req, -1)
	for i := 0; i < n; i++ {
		method := "GET"
		if i < len(methods) && methods[i] == "HEAD" {
			method = "HEAD"
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("response %d: %v", i, err)
		}
		b := readAll(t, resp)
		resp.Body.Close()
		resps = append(resps, resp)
		bodies = append(bodies, string(b))
	}
	return resps, bodies, c
}

func TestFastServerProtocol(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	path := "/" + seg(demoParticipant) + "/services/" + seg(demoDocType)
	get := "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"

	t.Run("pipelined", func(t *testing.T) {
		resps, bodies, _ := rawExchange(t, f, get+get+"HEAD "+path+" HTTP/1.1\r\nHost: x\r\n\r\n", 3)
		for i, r := range resps[:2] {
			if r.StatusCode != 200 || !strings.Contains(bodies[i], "SignedServiceMetadata") || r.Header.Get("Date") == "" {
				t.Errorf("response %d: %d %q", i, r.StatusCode, bodies[i][:min(40, len(bodies[i]))])
			}
		}
	})
	t.Run("http/1.0 closes", func(t *testing.T) {
		resps, _, c := rawExchange(t, f, "GET "+path+" HTTP/1.0\r\n\r\n", 1)
		if resps[0].StatusCode != 200 || !resps[0].Close {
			t.Errorf("%d close=%v", resps[0].StatusCode, resps[0].Close)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Error("connection left open")
		}
	})
	t.Run("http/1.0 keep-alive", func(t *testing.T) {
		resps, _, _ := rawExchange(t, f, "GET "+path+" HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET "+path+" HTTP/1.0\r\n\r\n", 2)
		if resps[0].Header.Get("Connection") != "keep-alive" || !resps[1].Close {
			t.Errorf("%v %v", resps[0].Header, resps[1].Close)
		}
	})
	t.Run("LF only", func(t *testing.T) {
		resps, _, _ := rawExchange(t, f, "GET "+path+" HTTP/1.1\nHost: x\n\n", 1)
		if resps[0].StatusCode != 200 {
			t.Errorf("%d", resps[0].StatusCode)
		}
	})
	t.Run("conditional", func(t *testing.T) {
		resps, _, _ := rawExchange(t, f, get, 1)
		etag := resps[0].Header.Get("Etag")
		resps, bodies, _ := rawExchange(t, f, "GET "+path+" HTTP/1.1\r\nHost: x\r\nif-none-match: "+etag+"\r\n\r\n", 1)
		if resps[0].StatusCode != 304 || bodies[0] != "" {
			t.Errorf("%d %q", resps[0].StatusCode, bodies[0])
		}
	})
	t.Run("GET then POST hands off", func(t *testing.T) {
		resps, bodies, _ := rawExchange(t, f, get+"POST "+path+" HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"+get, 3)
		if resps[0].StatusCode != 200 || resps[1].StatusCode != 405 || resps[1].Header.Get("Allow") == "" || resps[2].StatusCode != 200 {
			t.Errorf("statuses %d %d %d: %q", resps[0].StatusCode, resps[1].StatusCode, resps[2].StatusCode, bodies[1])
		}
	})
	t.Run("huge header hands off", func(t *testing.T) {
		resps, _, _ := rawExchange(t, f, "GET "+path+" HTTP/1.1\r\nHost: x\r\nX-Big: "+strings.Repeat("a", 9000)+"\r\n\r\n", 1)
		if resps[0].StatusCode != 200 {
			t.Errorf("%d", resps[0].StatusCode)
		}
	})
	t.Run("absolute form hands off", func(t *testing.T) {
		resps, _, _ := rawExchange(t, f, "GET "+f.base+path+" HTTP/1.1\r\nHost: x\r\n\r\n", 1)
		if resps[0].StatusCode != 200 {
			t.Errorf("%d", resps[0].StatusCode)
		}
	})
	t.Run("bad request line", func(t *testing.T) {
		resps, _, _ := rawExchange(t, f, "NONSENSE\r\n\r\n", 1)
		if resps[0].StatusCode != 400 {
			t.Errorf("%d", resps[0].StatusCode)
		}
	})
}

// TestNetHTTPHandlerToo: the plain net/http handler (used behind TLS and for handed-off connections) answers the
// identifier cases like the fast server.
func TestNetHTTPHandlerToo(t *testing.T) {
	f := newFixture(t, fixtureOpts{netHTTP: true, prefix: "/smp"})
	f.seed(demoDocType)
	for _, p := range []string{
		"/iso6523-actorid-upis::9915:signpost-demo/services/" + strings.ReplaceAll(demoDocType.String(), "#", "%23"),
		"/smp/" + seg(demoParticipant) + "/services/" + seg(demoDocType),
		"/bdxr-smp-2/ISO6523-ACTORID-UPIS::9915:SIGNPOST-DEMO",
	} {
		if r, body := f.get(p); r.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", p, r.StatusCode, body)
		}
	}
	if r, _ := f.get("/iso6523-actorid-upis::99:x"); r.StatusCode != 400 {
		t.Errorf("bad participant: %d", r.StatusCode)
	}
}

// TestFastServerFraming: requests that parsers may frame differently (a header name with a space before the colon,
// a bare CR or another control byte, no Host, two Hosts) are not answered by the fast path: net/http refuses them
// with 400, so a body hidden behind them is never read as a second, smuggled request.
func TestFastServerFraming(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	path := "/" + seg(demoParticipant) + "/services/" + seg(demoDocType)
	smuggled := "GET /" + seg(demoParticipant) + " HTTP/1.1\r\nHost: x\r\n\r\n"
	n := strconv.Itoa(len(smuggled))
	for name, head := range map[string]string{
		"space before colon": "Host: x\r\nContent-Length : " + n + "\r\n",
		"bare CR in value":   "Host: x\r\nX-A: a\rContent-Length: " + n + "\r\n",
		"NUL in value":       "Host: x\r\nX-A: a\x00b\r\nContent-Length: " + n + "\r\n",
		"no Host":            "X-A: b\r\n",
		"two Hosts":          "Host: x\r\nHost: y\r\n",
		"CTL in target":      "Host: x\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			target := path
			if name == "CTL in target" {
				target += "\x01"
			}
			resps, _, c := rawExchange(t, f, "GET "+target+" HTTP/1.1\r\n"+head+"\r\n"+smuggled, 1)
			if resps[0].StatusCode != 400 {
				t.Errorf("status %d, want 400 from net/http", resps[0].StatusCode)
			}
			if _, err := c.Read(make([]byte, 1)); err == nil {
				t.Error("a second response (the smuggled request) or an open connection after the 400")
			}
		})
	}
}

// TestFastServerPipelinePartial: responses to complete pipelined requests are sent at once, not held back until
// the partial request after them is complete.
func TestFastServerPipelinePartial(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	get := "GET /" + seg(demoParticipant) + "/services/" + seg(demoDocType) + " HTTP/1.1\r\nHost: x\r\n\r\n"
	c, err := net.Dial("tcp", strings.TrimPrefix(f.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte(get + get + "GET /" + seg(demoParticipant))); err != nil {
		t.Fatal(err)
	}
	// The server's read timeout is 10 s; before it, both responses must have arrived.
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	for i := 0; i < 2; i++ {
		resp, err := http.ReadResponse(br, &http.Request{Method: "GET"})
		if err != nil {
			t.Fatalf("response %d withheld: %v", i, err)
		}
		readAll(t, resp)
		if resp.StatusCode != 200 {
			t.Errorf("response %d: %d", i, resp.StatusCode)
		}
	}
}

// TestIfNoneMatchFields: several If-None-Match fields are one list, on the fast path and on net/http's.
func TestIfNoneMatchFields(t *testing.T) {
	for _, netHTTP := range []bool{false, true} {
		f := newFixture(t, fixtureOpts{netHTTP: netHTTP})
		f.seed(demoDocType)
		path := "/" + seg(demoParticipant) + "/services/" + seg(demoDocType)
		get := "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n"
		resps, _, _ := rawExchange(t, f, get, 1)
		etag := resps[0].Header.Get("Etag")
		for _, hs := range [][2]string{{etag, `"other"`}, {`"other"`, "W/" + etag}} {
			resps, _, _ := rawExchange(t, f, "GET "+path+" HTTP/1.1\r\nHost: x\r\nIf-None-Match: "+hs[0]+"\r\nIf-None-Match: "+hs[1]+"\r\n\r\n", 1)
			if resps[0].StatusCode != 304 {
				t.Errorf("net/http=%v If-None-Match %v: %d, want 304", netHTTP, hs, resps[0].StatusCode)
			}
		}
	}
}

// TestFastServerSlowHead: a request head that does not arrive within the read timeout closes the connection; it is
// not handed to net/http, which would grant a slow client its own header timeout again.
func TestFastServerSlowHead(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	fb := &http.Server{Handler: f.svc.Handler(smp.HandlerOptions{}), ReadHeaderTimeout: time.Minute, ReadTimeout: time.Minute}
	fast := f.svc.NewServer(fb, smp.HandlerOptions{})
	fast.ReadTimeout = 200 * time.Millisecond
	go func() { _ = fast.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = fast.Shutdown(ctx)
	})
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /" + seg(demoParticipant) + " HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second)) // 50 times the read timeout, far below a minute
	if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("connection still open after the read timeout: %v", err)
	}
}
