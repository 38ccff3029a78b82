// Command smlload drives the SOAP write API of a running SML with new participants, as scripts/bench-dns.sh uses it:
// CreateList calls of -per-call participants from -clients concurrent clients, or single Creates (-per-call 1),
// over mutual TLS with keep-alive connections, until -count participants are registered or -duration has passed.
// It prints one line: "smlload: mode=... clients=... participants=N seconds=S rate=R". Only for loopback
// benchmarks: every call goes to -url, and a refused call stops the run with the SML's answer.
//
// Usage: smlload -url https://127.0.0.1:PORT -cert c.pem -key k.pem -ca ca.pem -smp SMP-BENCH -create-smp
//
//	-prefix run1 -clients 4 -per-call 100 -count 20000 -duration 10s
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const envelope = `<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"><S:Body>%s</S:Body></S:Envelope>`

const ns = `xmlns="http://busdox.org/serviceMetadata/locator/1.0/" xmlns:ns2="http://busdox.org/transport/identifiers/1.0/"`

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "smlload:", err)
		os.Exit(1)
	}
}

type options struct {
	url, cert, key, ca, smp, prefix, scheme string
	createSMP                               bool
	clients, perCall, count                 int
	duration                                time.Duration
}

func run() error {
	var o options
	flag.StringVar(&o.url, "url", "", "base URL of the SML's SOAP listener, https://127.0.0.1:PORT (loopback only)")
	flag.StringVar(&o.cert, "cert", "", "client certificate (PEM) the SML trusts")
	flag.StringVar(&o.key, "key", "", "its key (PEM)")
	flag.StringVar(&o.ca, "ca", "", "CA (PEM) of the SML's server certificate")
	flag.StringVar(&o.smp, "smp", "SMP-BENCH", "the SMP the participants are registered to")
	flag.BoolVar(&o.createSMP, "create-smp", false, "create the SMP first (an SMP that exists already is fine)")
	flag.StringVar(&o.prefix, "prefix", "bench", "participant values are 9915:PREFIX-N; use a new prefix per run")
	flag.StringVar(&o.scheme, "scheme", "iso6523-actorid-upis", "participant identifier scheme")
	flag.IntVar(&o.clients, "clients", 4, "concurrent clients (each its own TLS connection)")
	flag.IntVar(&o.perCall, "per-call", 100, "participants per call: 1 sends single Creates, more send CreateList")
	flag.IntVar(&o.count, "count", 10000, "stop after this many participants (the bound of the load)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "stop after this long even if -count is not reached")
	flag.Parse()
	if o.url == "" || o.cert == "" || o.key == "" || o.ca == "" {
		return errors.New("-url, -cert, -key and -ca are required")
	}
	if !strings.HasPrefix(o.url, "https://127.0.0.1:") && !strings.HasPrefix(o.url, "https://[::1]:") {
		return fmt.Errorf("-url %s: only https://127.0.0.1:PORT or https://[::1]:PORT (a loopback benchmark)", o.url)
	}
	if o.clients < 1 || o.perCall < 1 || o.count < 1 || o.duration <= 0 {
		return errors.New("-clients, -per-call, -count and -duration must be positive")
	}
	c, err := newClient(o)
	if err != nil {
		return err
	}
	if o.createSMP {
		body := fmt.Sprintf(`<CreateServiceMetadataPublisherService %s><PublisherEndpoint><LogicalAddress>http://smp-bench.test</LogicalAddress><PhysicalAddress>127.0.0.1</PhysicalAddress></PublisherEndpoint><ServiceMetadataPublisherID>%s</ServiceMetadataPublisherID></CreateServiceMetadataPublisherService>`, ns, o.smp)
		if err := c.call(context.Background(), "/manageservicemetadata", body); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("create SMP %s: %w", o.smp, err)
		}
	}
	n, secs, err := load(c, o)
	if err != nil {
		return err
	}
	mode := "createlist"
	if o.perCall == 1 {
		mode = "create"
	}
	fmt.Printf("smlload: mode=%s clients=%d per_call=%d participants=%d seconds=%.3f rate=%.0f\n", mode, o.clients, o.perCall, n, secs, float64(n)/secs)
	return nil
}

type client struct {
	base string
	hc   *http.Client
}

func newClient(o options) (*client, error) {
	pair, err := tls.LoadX509KeyPair(o.cert, o.key)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	pem, err := os.ReadFile(o.ca)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate", o.ca)
	}
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: o.clients, MaxConnsPerHost: o.clients, ForceAttemptHTTP2: false,
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{}, // HTTP/1.1: one connection per client
	}
	return &client{base: strings.TrimSuffix(o.url, "/"), hc: &http.Client{Transport: tr, Timeout: time.Minute}}, nil
}

var faultString = regexp.MustCompile(`(?s)<faultstring[^>]*>(.*?)</faultstring>`)

// call posts one SOAP request and returns an error unless the SML answered 200 without a fault.
func (c *client) call(ctx context.Context, path, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(fmt.Sprintf(envelope, body)))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK || bytes.Contains(out, []byte("Fault>")) {
		msg := string(out)
		if m := faultString.FindSubmatch(out); m != nil {
			msg = string(m[1])
		}
		return fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, msg)
	}
	return nil
}

// load runs the clients until o.count participants are registered or o.duration passed; it returns how many
// were acknowledged and the seconds it took.
func load(c *client, o options) (int64, float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	var next, done atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	start := time.Now()
	for range o.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				hi := next.Add(int64(o.perCall))
				lo := hi - int64(o.perCall) + 1
				if lo > int64(o.count) {
					return
				}
				hi = min(hi, int64(o.count))
				var b strings.Builder
				ids := func() {
					for i := lo; i <= hi; i++ {
						fmt.Fprintf(&b, `<ns2:ParticipantIdentifier scheme="%s">9915:%s-%d</ns2:ParticipantIdentifier>`, o.scheme, o.prefix, i)
					}
				}
				if o.perCall == 1 {
					fmt.Fprintf(&b, `<CreateParticipantIdentifier %s><ServiceMetadataPublisherID>%s</ServiceMetadataPublisherID>`, ns, o.smp)
					ids()
					b.WriteString(`</CreateParticipantIdentifier>`)
				} else {
					fmt.Fprintf(&b, `<CreateList %s>`, ns)
					ids()
					fmt.Fprintf(&b, `<ServiceMetadataPublisherID>%s</ServiceMetadataPublisherID></CreateList>`, o.smp)
				}
				if err := c.call(ctx, "/manageparticipantidentifier", b.String()); err != nil {
					if ctx.Err() != nil {
						return // the time bound ended this call: not acknowledged, not counted
					}
					once.Do(func() { firstErr = err; cancel() })
					return
				}
				done.Add(hi - lo + 1)
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	if firstErr != nil {
		return done.Load(), secs, firstErr
	}
	if done.Load() == 0 {
		return 0, secs, fmt.Errorf("no participant registered within %s", o.duration)
	}
	return done.Load(), secs, nil
}
