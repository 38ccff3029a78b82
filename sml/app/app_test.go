package app

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/ops"
	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml"
)

// TestAppServesWhatTheServiceCommits starts the assembled SML (store, Service, DNS server), registers a
// participant through the Service and asks the real DNS server over UDP: the answer is there when the write
// returns. It also reads the SML metrics from the ops registry.
func TestAppServesWhatTheServiceCommits(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  path: `+filepath.Join(dir, "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
admin:
  listen: `+testnet.FreeAddr(t)+`
domains:
  - zone: sml.test
    records: [naptr, cname]
`))
	if err != nil {
		t.Fatal(err)
	}
	o := ops.New()
	a, _ := startApp(t, cfg, o)
	ctx := context.Background()
	caller := sml.Caller{Identity: "CN=SMP,O=Test,C=BE:1", Domain: "sml.test."}
	svc := a.Service()
	if err := svc.CreateSMP(ctx, caller, sml.SMP{ID: "SMP-1", LogicalAddress: "http://smp.example.org"}); err != nil {
		t.Fatal(err)
	}
	id := identifier.ID{Scheme: "iso6523-actorid-upis", Value: "0088:5798000000001"}
	if err := svc.CreateParticipants(ctx, caller, "SMP-1", []sml.ParticipantSpec{{ID: id}}); err != nil {
		t.Fatal(err)
	}
	udp, _ := a.DNS().Addr()
	name := identifier.NAPTRName(id, "sml.test.", identifier.SchemeLabel)
	m := new(dns.Msg)
	m.SetQuestion(strings.ToUpper(name), dns.TypeNAPTR)
	c := &dns.Client{Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, udp.String())
	if err != nil {
		t.Fatal(err)
	}
	if r.Rcode != dns.RcodeSuccess || !r.Authoritative || len(r.Answer) != 1 {
		t.Fatalf("answer:\n%v", r)
	}
	if n, ok := r.Answer[0].(*dns.NAPTR); !ok || n.Regexp != "!^.*$!http://smp.example.org!" || n.Service != "Meta:SMP" {
		t.Fatalf("answer %v", r.Answer[0])
	}
	// Delete: NXDOMAIN right after the write returns.
	if err := svc.DeleteParticipants(ctx, caller, "SMP-1", []identifier.ID{id}); err != nil {
		t.Fatal(err)
	}
	r, _, err = c.Exchange(m, udp.String())
	if err != nil || r.Rcode != dns.RcodeNameError {
		t.Fatalf("after delete: %v %v", r, err)
	}
	// Metrics.
	srv := httptest.NewServer(o.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`signpost_sml_participants{zone="sml.test."} 0`,
		`signpost_sml_writes_total{op="create-participants",result="ok"} 1`,
		`signpost_sml_writes_total{op="delete-participants",result="ok"} 1`,
		`signpost_sml_zone_serial{zone="sml.test."}`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if failed := o.Ready(ctx); len(failed) != 0 {
		t.Fatalf("not ready: %v", failed)
	}
}

// TestStartRaisesSerialAboveSecondaries: a secondary reports a serial above the store's (the store was restored
// from an older backup); at start the zone's serial goes above it before the DNS server answers.
func TestStartRaisesSerialAboveSecondaries(t *testing.T) {
	secondarySerial := uint32(time.Now().Unix()) + 1000000 // a million changes ahead of the clock
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	sec := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		if len(r.Question) == 1 && r.Question[0].Qtype == dns.TypeSOA {
			m.Answer = append(m.Answer, &dns.SOA{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60},
				Ns: "ns1.sml.test.", Mbox: "hostmaster.sml.test.", Serial: secondarySerial, Refresh: 3600, Retry: 600, Expire: 86400, Minttl: 60})
		}
		_ = w.WriteMsg(m)
	})}
	started := make(chan struct{})
	sec.NotifyStartedFunc = func() { close(started) }
	go sec.ActivateAndServe()
	<-started
	defer sec.Shutdown()

	dir := t.TempDir()
	cfg, err := conf.ParseSML("test.yaml", []byte(`
store:
  path: `+filepath.Join(dir, "sml.db")+`
dns:
  listen: `+testnet.FreeAddr(t)+`
  notify: [`+pc.LocalAddr().String()+`]
admin:
  listen: `+testnet.FreeAddr(t)+`
domains:
  - zone: sml.test
`))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := startApp(t, cfg, nil)
	udp, _ := a.DNS().Addr()
	m := new(dns.Msg)
	m.SetQuestion("sml.test.", dns.TypeSOA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, udp.String())
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("SOA: %v %v", r, err)
	}
	if got := r.Answer[0].(*dns.SOA).Serial; int32(got-secondarySerial) <= 0 {
		t.Fatalf("served serial %d is not above the secondary's %d", got, secondarySerial)
	}
}
