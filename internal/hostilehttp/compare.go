package hostilehttp

import (
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"testing"
	"time"
)

// Suite compares a server with a reference: a plain net/http server on 127.0.0.1:0.
type Suite struct {
	Target
	// Reference is the handler the reference server runs. Pass the handler the server under test runs, so that
	// a request both servers accept gets the same status; then any difference comes from the HTTP layer. Default:
	// 200 for Target.Path and 404 for any other path (set Target so that the server under test answers the same).
	Reference http.Handler
	// ReadHeaderTimeout of the reference server: set the one of the server under test. Default 10 s.
	ReadHeaderTimeout time.Duration
	// Timeout bounds each exchange. Default 20 s.
	Timeout time.Duration
	// Pipelined is the number of GETs sent in one write. Default 100.
	Pipelined int
	// HalfOpen is the number of stalled connections HalfOpen opens. Default 300.
	HalfOpen int
}

func (s Suite) withDefaults() Suite {
	s.Target = s.Target.withDefaults()
	if s.Reference == nil {
		s.Reference = PathHandler(s.Path)
	}
	if s.ReadHeaderTimeout == 0 {
		s.ReadHeaderTimeout = 10 * time.Second
	}
	if s.Timeout == 0 {
		s.Timeout = 20 * time.Second
	}
	if s.Pipelined == 0 {
		s.Pipelined = 100
	}
	if s.HalfOpen == 0 {
		s.HalfOpen = 300
	}
	return s
}

// PathHandler answers 200 "ok" for path (any query) and 404 for any other path, after reading the body.
func PathHandler(path string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.URL.Path != path {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
}

// StartReference starts a plain net/http server with h on 127.0.0.1:0 and returns its address; it stops when
// the test ends.
func StartReference(t testing.TB, h http.Handler, readHeaderTimeout time.Duration) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: readHeaderTimeout, ErrorLog: log.New(io.Discard, "", 0)}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		_ = srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("hostilehttp: reference server: %v", err)
		}
	})
	return ln.Addr().String()
}

// Outcome is one case sent to the server under test (Got) and to the reference (Want).
type Outcome struct {
	Case      Case
	Got, Want Result
	// Err is an error of the exchange itself (the connection could not be opened).
	Err error
}

// Same reports whether the server under test answered as the reference did.
func (o Outcome) Same() bool { return o.Err == nil && o.Got.Equal(o.Want) }

// Run sends every case of Cases(tg) to addr and to ref, one after the other.
func Run(addr, ref string, tg Target, timeout time.Duration) []Outcome {
	var out []Outcome
	for _, c := range Cases(tg) {
		o := Outcome{Case: c}
		var errGot, errWant error
		o.Got, errGot = Send(addr, tg, c, timeout)
		o.Want, errWant = Send(ref, tg, c, timeout)
		o.Err = errors.Join(errGot, errWant)
		out = append(out, o)
	}
	return out
}

// Compare runs every case, the pipeline and the half-open connections against addr, each as a subtest, and
// fails each subtest where addr does not answer what the reference net/http server answers.
func (s Suite) Compare(t *testing.T, addr string) {
	t.Helper()
	s = s.withDefaults()
	ref := StartReference(t, s.Reference, s.ReadHeaderTimeout)
	for _, o := range Run(addr, ref, s.Target, s.Timeout) {
		t.Run(o.Case.Name, func(t *testing.T) {
			if o.Err != nil {
				t.Fatal(o.Err)
			}
			if !o.Same() {
				t.Errorf("%q: the server answered %v; net/http answers %v", abbrev(o.Case.Raw), o.Got, o.Want)
			}
		})
	}
	t.Run("pipelined GETs", func(t *testing.T) {
		want, err := Pipeline(ref, s.Target, s.Pipelined, s.Timeout)
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		if want[0] == want[1] {
			t.Fatalf("the reference answers %d to both %s and %s: choose a Target.Missing that answers differently, so that the order shows",
				want[0], s.Path, s.Missing)
		}
		got, err := Pipeline(addr, s.Target, s.Pipelined, s.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("response %d of %d: status %d, net/http answers %d (out of order or wrong)", i+1, len(want), got[i], want[i])
			}
		}
	})
	t.Run("half-open connections", func(t *testing.T) {
		want, err := Send(ref, s.Target, Cases(s.Target)[0], s.Timeout)
		if err != nil {
			t.Fatalf("reference: %v", err)
		}
		got, err := HalfOpen(addr, s.Target, s.HalfOpen, s.Timeout)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Equal(want) {
			t.Errorf("a GET beside %d stalled connections got %v; net/http answers %v", s.HalfOpen, got, want)
		}
	})
}

// abbrev shortens a raw request for a message.
func abbrev(b []byte) string {
	if len(b) > 120 {
		return string(b[:100]) + "..." + string(b[len(b)-20:])
	}
	return string(b)
}
