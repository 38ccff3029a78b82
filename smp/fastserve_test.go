package smp_test

import (
	"bufio"
	"net"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
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
