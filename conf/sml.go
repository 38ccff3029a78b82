package conf

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/sml/zone"
)

// SML is the configuration of `signpost sml serve`.
type SML struct {
	Store      Store      `yaml:"store"`
	Log        Log        `yaml:"log"`
	Ops        Ops        `yaml:"ops"`
	DNS        DNS        `yaml:"dns"`
	Management Management `yaml:"management"`
	Admin      Admin      `yaml:"admin"`
	Domains    []Domain   `yaml:"domains"`
	TSIGKeys   []TSIGKey  `yaml:"tsig_keys"`
	Migration  Migration  `yaml:"migration"`
	file       string     // where it was loaded from, for messages
}

// File returns the path the configuration was loaded from.
func (c *SML) File() string { return c.file }

// DNS is the authoritative name server.
type DNS struct {
	// Listen is HOST:PORT for both UDP and TCP. Default 127.0.0.1:53.
	Listen string `yaml:"listen"`
	// Notify lists secondaries (HOST:PORT) sent a NOTIFY after each change. Their addresses may transfer the zone.
	Notify []string `yaml:"notify"`
	// NotifyKey names the TSIG key (tsig_keys) that signs NOTIFY messages; empty: unsigned.
	NotifyKey string `yaml:"notify_key"`
	// AllowTransfer lists addresses or prefixes (127.0.0.1, 10.0.0.0/8) allowed AXFR and IXFR.
	AllowTransfer []string `yaml:"allow_transfer"`
	// TransferKey names the TSIG key a transfer must be signed with; empty: address list only.
	TransferKey string `yaml:"transfer_key"`
	// JournalSize is how many zone changes are kept per zone for IXFR. Default 100000.
	JournalSize int `yaml:"journal_size"`
	// UDPSize is the largest UDP answer offered through EDNS0. Default 1232.
	UDPSize int `yaml:"udp_size"`
	// TCPIdleTimeout closes an idle TCP connection. Default 10s.
	TCPIdleTimeout time.Duration `yaml:"tcp_idle_timeout"`
	// NotifyDelay coalesces changes: a NOTIFY goes out at most this long after the first unsent change. Default 1s.
	NotifyDelay time.Duration `yaml:"notify_delay"`
}

// TSIGKey is a shared secret for TSIG (hmac-sha256).
type TSIGKey struct {
	// Name is the key's DNS name, e.g. transfer-key.
	Name string `yaml:"name"`
	// Algorithm must be hmac-sha256 (the default).
	Algorithm string `yaml:"algorithm"`
	// Secret is the base64 key, as `tsig-keygen` prints it.
	Secret string `yaml:"secret"`
}

// Management is the SOAP management API (mutual TLS).
type Management struct {
	// Listen is HOST:PORT of the HTTPS listener. Default 127.0.0.1:8443.
	Listen string `yaml:"listen"`
	// TLS is the server's certificate and key.
	TLS TLSFiles `yaml:"tls"`
	// FaultStatus is "soap" (every fault is HTTP 500, as SOAP 1.1 and JAX-WS clients expect; default) or
	// "bdmsl" (400/401/404/500 by fault type, as the EC's BDMSL answers).
	FaultStatus string `yaml:"fault_status"`
	// MaxBodyBytes limits a request body. Default 1048576.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// ReadTimeout and WriteTimeout bound a request. Defaults 30s.
	ReadTimeout  time.Duration `yaml:"read_timeout"`
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// ListParticipantsMax is the most participants BDMSL ListParticipants answers with; above it the call is a
	// BadRequestFault that points to the paged List. Default 100000.
	ListParticipantsMax int `yaml:"list_participants_max"`
	// Proxy, when Addresses is set, reads the client certificate from a header set by a TLS-terminating proxy.
	Proxy Proxy `yaml:"proxy"`
}

// Proxy is a TLS-terminating reverse proxy in front of the management listener. Only requests whose TCP peer is
// one of Addresses have their Header read; from any other peer the header is ignored (and logged). With Addresses
// set and management.tls left out, the listener serves plain HTTP, and then only on a loopback or private address.
type Proxy struct {
	// Addresses lists the proxies' addresses or prefixes (127.0.0.1, 10.0.0.0/8).
	Addresses []string `yaml:"addresses"`
	// Header carries the client certificate. Default X-SSL-Client-Cert (escaped-pem) or Client-Cert (rfc9440).
	Header string `yaml:"header"`
	// Format is escaped-pem (nginx $ssl_client_escaped_cert; the default) or rfc9440 (:base64-DER:).
	Format string `yaml:"format"`
}

// Admin is a server's admin listener: the JSON admin API that the admin commands use against a running server.
// It is plain HTTP, so it listens on a loopback address only, and every request carries the admin token
// (Authorization: Bearer).
type Admin struct {
	// Listen is HOST:PORT on a loopback address (127.0.0.1, ::1 or localhost). Default 127.0.0.1:8082.
	Listen string `yaml:"listen"`
	// TokenFile holds the admin token (its first line). The server writes a new random token there, mode 0600,
	// when the file does not exist; the admin commands read it. Default: sml-admin.token in the directory of
	// store.path.
	TokenFile string `yaml:"token_file"`
}

// SOA fields of a zone.
type SOA struct {
	// MName is the primary name server. Default ns1.<zone>.
	MName string `yaml:"mname"`
	// RName is the responsible mailbox in DNS form. Default hostmaster.<zone>.
	RName   string        `yaml:"rname"`
	Refresh time.Duration `yaml:"refresh"` // default 1h
	Retry   time.Duration `yaml:"retry"`   // default 10m
	Expire  time.Duration `yaml:"expire"`  // default 14d
	Minimum time.Duration `yaml:"minimum"` // negative-answer TTL; default 60s
}

// Domain is one SML domain: a DNS zone and its rules.
type Domain struct {
	// Zone is the zone name, e.g. sml.example.org.
	Zone string `yaml:"zone"`
	// Records lists what the zone publishes per participant: naptr, cname, or both. Default [naptr].
	Records []string `yaml:"records"`
	// Hashing is scheme-label (PEPPOL, eDelivery) or full-id (OASIS BDXL without a scheme label). Default scheme-label.
	Hashing string `yaml:"hashing"`
	// Identifiers is peppol (PEPPOL policy) or oasis (any scheme). Default peppol.
	Identifiers string `yaml:"identifiers"`
	// ParticipantSchemes is a regular expression participant schemes must match. Default ^iso6523-actorid-upis$.
	ParticipantSchemes string `yaml:"participant_schemes"`
	// TTL of the participant records. Default 60s.
	TTL time.Duration `yaml:"ttl"`
	// SOA fields.
	SOA SOA `yaml:"soa"`
	// NS lists the zone's name servers. Default [SOA mname].
	NS []string `yaml:"ns"`
	// Glue gives the addresses of name servers inside the zone (ns1.<zone> needs them: zone checkers and
	// resolvers need an address for an in-zone NS). Name -> IP addresses; published as A/AAAA records.
	Glue map[string][]string `yaml:"glue"`
	// TrustedIssuers are PEM bundles (one path or a list): SMP client certificates chaining to a certificate in
	// one of them belong to this domain. Several files let a domain trust two CA chains at once (PEPPOL's G2 and
	// G3 during the move), and PrepareChangeCertificate may cross from one to the other.
	TrustedIssuers Files `yaml:"trusted_issuers"`
	// WildcardOwners lists the certificate identities ("<subject DN, RFC 4514>:<serial, lower-case hex>", as the
	// SML logs them) allowed to register the wildcard participant "*" (*.<scheme>.<zone>). Default: none.
	WildcardOwners []string `yaml:"wildcard_owners"`
	// Authority lists the certificate identities of the domain's SML authority: only they may call BDMSL
	// ChangeCertificate (give an SMP to another certificate at once). Default: none.
	Authority []string `yaml:"authority"`
	// CRL lists certificate revocation list files (PEM or DER) of the trusted issuers; reloaded when they change.
	CRL []string `yaml:"crl"`
	// RequireHTTPS refuses an SMP (create or update) whose logical address is not https. Default false.
	RequireHTTPS bool `yaml:"require_https"`
}

// Migration is the participant migration of the SML interface (PrepareToMigrate, Migrate).
type Migration struct {
	// KeyTTL is how long a prepared migration key stays valid. Default 720h (30 days).
	KeyTTL time.Duration `yaml:"key_ttl"`
}

// DefaultMigrationKeyTTL is the default of migration.key_ttl.
const DefaultMigrationKeyTTL = 30 * 24 * time.Hour

// HashMode returns the domain's hashing mode.
func (d Domain) HashMode() identifier.HashMode { return identifier.HashMode(d.Hashing) }

// Policy returns the identifier policy of the domain.
func (d Domain) Policy() identifier.Policy {
	if d.Identifiers == "oasis" {
		return identifier.OASIS
	}
	return identifier.PEPPOL
}

// Publishes reports whether the domain publishes records of kind ("naptr" or "cname").
func (d Domain) Publishes(kind string) bool {
	for _, r := range d.Records {
		if r == kind {
			return true
		}
	}
	return false
}

// LoadSML reads, defaults and validates an SML configuration file.
func LoadSML(path string) (*SML, error) { return load[SML](path) }

// ParseSML is LoadSML on bytes; name is used in messages.
func ParseSML(name string, data []byte) (*SML, error) { return parse[SML](name, data) }

func (c *SML) setFile(name string) { c.file = name }

// Defaults fills in every value left out.
func (c *SML) Defaults() {
	c.Store.defaults("sml")
	c.Log.defaults()
	if c.Ops.Addr == "" {
		c.Ops.Addr = "127.0.0.1:9090"
	}
	d := &c.DNS
	if d.Listen == "" {
		d.Listen = "127.0.0.1:53"
	}
	if d.JournalSize == 0 {
		d.JournalSize = zone.DefaultJournalSize
	}
	if d.UDPSize == 0 {
		d.UDPSize = zone.DefaultUDPSize
	}
	if d.TCPIdleTimeout == 0 {
		d.TCPIdleTimeout = zone.DefaultTCPIdleTimeout
	}
	if d.NotifyDelay == 0 {
		d.NotifyDelay = zone.DefaultNotifyDelay
	}
	m := &c.Management
	if m.Listen == "" {
		m.Listen = "127.0.0.1:8443"
	}
	if m.FaultStatus == "" {
		m.FaultStatus = "soap"
	}
	if m.MaxBodyBytes == 0 {
		m.MaxBodyBytes = 1 << 20
	}
	if m.ReadTimeout == 0 {
		m.ReadTimeout = 30 * time.Second
	}
	if m.WriteTimeout == 0 {
		m.WriteTimeout = 30 * time.Second
	}
	if m.ListParticipantsMax == 0 {
		m.ListParticipantsMax = 100000
	}
	if pr := &m.Proxy; len(pr.Addresses) > 0 {
		if pr.Format == "" {
			pr.Format = "escaped-pem"
		}
		if pr.Header == "" && pr.Format == "rfc9440" {
			pr.Header = "Client-Cert"
		} else if pr.Header == "" {
			pr.Header = "X-SSL-Client-Cert"
		}
	}
	if c.Admin.Listen == "" {
		c.Admin.Listen = "127.0.0.1:8082"
	}
	if c.Migration.KeyTTL == 0 {
		c.Migration.KeyTTL = DefaultMigrationKeyTTL
	}
	if c.Admin.TokenFile == "" {
		c.Admin.TokenFile = filepath.Join(filepath.Dir(c.Store.Path), "sml-admin.token")
	}
	for i := range c.TSIGKeys {
		if c.TSIGKeys[i].Algorithm == "" {
			c.TSIGKeys[i].Algorithm = "hmac-sha256"
		}
	}
	for i := range c.Domains {
		c.Domains[i].defaults()
	}
}

func (d *Domain) defaults() {
	d.Zone = fqdn(d.Zone)
	if len(d.Records) == 0 {
		d.Records = []string{"naptr"}
	}
	if d.Hashing == "" {
		d.Hashing = string(identifier.SchemeLabel)
	}
	if d.Identifiers == "" {
		d.Identifiers = "peppol"
	}
	if d.ParticipantSchemes == "" {
		if d.Identifiers == "peppol" {
			d.ParticipantSchemes = "^iso6523-actorid-upis$"
		} else {
			d.ParticipantSchemes = ".*"
		}
	}
	if d.TTL == 0 {
		d.TTL = 60 * time.Second
	}
	s := &d.SOA
	if s.MName == "" && d.Zone != "." {
		s.MName = "ns1." + d.Zone
	}
	if s.RName == "" && d.Zone != "." {
		s.RName = "hostmaster." + d.Zone
	}
	s.MName, s.RName = fqdn(s.MName), fqdn(s.RName)
	if s.Refresh == 0 {
		s.Refresh = time.Hour
	}
	if s.Retry == 0 {
		s.Retry = 10 * time.Minute
	}
	if s.Expire == 0 {
		s.Expire = 14 * 24 * time.Hour
	}
	if s.Minimum == 0 {
		s.Minimum = 60 * time.Second
	}
	if len(d.NS) == 0 {
		d.NS = []string{s.MName}
	}
	for i := range d.NS {
		d.NS[i] = fqdn(d.NS[i])
	}
	if len(d.Glue) > 0 {
		g := make(map[string][]string, len(d.Glue))
		for n, a := range d.Glue {
			g[fqdn(n)] = append(g[fqdn(n)], a...)
		}
		d.Glue = g
	}
}

func fqdn(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}

var reDNSName = regexp.MustCompile(`^([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)+$`)

// Validate reports every problem of the configuration at once.
func (c *SML) Validate() error {
	p := &problems{}
	c.Store.validate(p)
	c.Log.validate(p)
	validateAddr(p, "ops.addr", c.Ops.Addr, true)
	validateAddr(p, "dns.listen", c.DNS.Listen, false)
	for i, n := range c.DNS.Notify {
		validateAddr(p, fmt.Sprintf("dns.notify[%d]", i), n, false)
	}
	for i, a := range c.DNS.AllowTransfer {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				p.add(fmt.Sprintf("dns.allow_transfer[%d]", i), "%q is neither an IP address nor a prefix like 10.0.0.0/8", a)
			}
		}
	}
	keys := map[string]bool{}
	for i, k := range c.TSIGKeys {
		path := fmt.Sprintf("tsig_keys[%d]", i)
		if k.Name == "" {
			p.add(path+".name", "missing")
		} else if keys[fqdn(k.Name)] {
			p.add(path+".name", "%q is defined twice", k.Name)
		}
		keys[fqdn(k.Name)] = true
		if k.Algorithm != "hmac-sha256" {
			p.add(path+".algorithm", "%q is not supported; use hmac-sha256", k.Algorithm)
		}
		if b, err := base64.StdEncoding.DecodeString(k.Secret); err != nil || len(b) < 16 {
			p.add(path+".secret", "must be base64 of at least 16 bytes (make one with tsig-keygen)")
		}
	}
	if c.DNS.TransferKey != "" && !keys[fqdn(c.DNS.TransferKey)] {
		p.add("dns.transfer_key", "%q is not one of tsig_keys", c.DNS.TransferKey)
	}
	if c.DNS.NotifyKey != "" && !keys[fqdn(c.DNS.NotifyKey)] {
		p.add("dns.notify_key", "%q is not one of tsig_keys", c.DNS.NotifyKey)
	}
	if c.DNS.JournalSize < 1 {
		p.add("dns.journal_size", "must be at least 1")
	}
	if c.DNS.UDPSize < 512 || c.DNS.UDPSize > 65535 {
		p.add("dns.udp_size", "%d is outside 512..65535", c.DNS.UDPSize)
	}
	validatePositive(p, "dns.tcp_idle_timeout", c.DNS.TCPIdleTimeout)
	validatePositive(p, "dns.notify_delay", c.DNS.NotifyDelay)
	validatePositive(p, "migration.key_ttl", c.Migration.KeyTTL)

	m := c.Management
	validateAddr(p, "management.listen", m.Listen, false)
	m.TLS.validate(p, "management.tls", false)
	m.Proxy.validate(p, m)
	if m.FaultStatus != "soap" && m.FaultStatus != "bdmsl" {
		p.add("management.fault_status", "%q is not soap or bdmsl", m.FaultStatus)
	}
	if m.MaxBodyBytes < 1024 {
		p.add("management.max_body_bytes", "%d is too small; at least 1024", m.MaxBodyBytes)
	}
	if m.ListParticipantsMax < 1 {
		p.add("management.list_participants_max", "%d is not a positive number", m.ListParticipantsMax)
	}
	validatePositive(p, "management.read_timeout", m.ReadTimeout)
	validatePositive(p, "management.write_timeout", m.WriteTimeout)

	validateLoopback(p, "admin.listen", c.Admin.Listen)
	if c.Admin.TokenFile == "" {
		p.add("admin.token_file", "missing: give the file that holds the admin token")
	}
	for _, a := range []struct{ key, v string }{{"dns.listen", c.DNS.Listen}, {"management.listen", m.Listen}, {"ops.addr", c.Ops.Addr}} {
		if a.v != "" && a.v == c.Admin.Listen && !strings.HasSuffix(a.v, ":0") { // port 0: any free port, never the same
			p.add("admin.listen", "%q is also %s; the admin API needs a listener of its own", a.v, a.key)
		}
	}

	if len(c.Domains) == 0 {
		p.add("domains", "missing: configure at least one domain (zone)")
	}
	zones := map[string]bool{}
	for i := range c.Domains {
		c.Domains[i].validate(p, fmt.Sprintf("domains[%d]", i), zones)
	}
	return p.err(c.file)
}

func (pr Proxy) validate(p *problems, m Management) {
	if len(pr.Addresses) == 0 {
		if pr.Header != "" || pr.Format != "" {
			p.add("management.proxy.addresses", "missing: header and format are only read from proxy addresses")
		}
		return
	}
	for i, a := range pr.Addresses {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err := netip.ParseAddr(a); err != nil {
				p.add(fmt.Sprintf("management.proxy.addresses[%d]", i), "%q is neither an IP address nor a prefix like 10.0.0.0/8", a)
			}
		}
	}
	if pr.Format != "escaped-pem" && pr.Format != "rfc9440" {
		p.add("management.proxy.format", "%q is not escaped-pem or rfc9440", pr.Format)
	}
	if !reHeader.MatchString(pr.Header) {
		p.add("management.proxy.header", "%q is not an HTTP header name", pr.Header)
	}
	if !m.TLS.Set() { // plain HTTP behind the proxy
		host, _, err := net.SplitHostPort(m.Listen)
		ip, perr := netip.ParseAddr(host)
		if err == nil && host != "localhost" && (perr != nil || !(ip.IsLoopback() || ip.IsPrivate())) {
			p.add("management.listen", "%q serves plain HTTP (management.proxy without management.tls): listen on a loopback "+
				"or private address only, or configure management.tls", m.Listen)
		}
	}
}

var reHeader = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")

// validateLoopback checks that addr is HOST:PORT with a loopback host: an IP literal such as 127.0.0.1 or ::1, or
// localhost.
func validateLoopback(p *problems, path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		p.add(path, "%q is not HOST:PORT", addr)
		return
	}
	if host == "localhost" {
		return
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		p.add(path, "%q is not a loopback address: the admin API is plain HTTP and listens on 127.0.0.1 or [::1] only "+
			"(reach it from another machine through an SSH tunnel)", addr)
	}
}

func (d *Domain) validate(p *problems, path string, zones map[string]bool) {
	if d.Zone == "" || d.Zone == "." {
		p.add(path+".zone", "missing")
	} else if !reDNSName.MatchString(d.Zone) {
		p.add(path+".zone", "%q is not a valid DNS name", d.Zone)
	}
	for z := range zones {
		if z == d.Zone || strings.HasSuffix(z, "."+d.Zone) || strings.HasSuffix(d.Zone, "."+z) {
			p.add(path+".zone", "%q overlaps zone %q of another domain", d.Zone, z)
		}
	}
	zones[d.Zone] = true
	for i, r := range d.Records {
		if r != "naptr" && r != "cname" {
			p.add(fmt.Sprintf("%s.records[%d]", path, i), "%q is not a record kind; use naptr or cname", r)
		}
	}
	if !identifier.HashMode(d.Hashing).Valid() {
		p.add(path+".hashing", "%q is not a hashing mode; use scheme-label or full-id", d.Hashing)
	}
	if d.Hashing == string(identifier.FullID) && d.Publishes("cname") {
		p.add(path+".records", "cname records need hashing scheme-label (the B- name has a scheme label)")
	}
	if d.Identifiers != "peppol" && d.Identifiers != "oasis" {
		p.add(path+".identifiers", "%q is not an identifier policy; use peppol or oasis", d.Identifiers)
	}
	if _, err := regexp.Compile(d.ParticipantSchemes); err != nil {
		p.add(path+".participant_schemes", "not a regular expression: %v", err)
	}
	if d.TTL < time.Second || d.TTL > 7*24*time.Hour {
		p.add(path+".ttl", "%s is outside 1s..168h", d.TTL)
	}
	for _, f := range []struct {
		k string
		v time.Duration
	}{{"refresh", d.SOA.Refresh}, {"retry", d.SOA.Retry}, {"expire", d.SOA.Expire}, {"minimum", d.SOA.Minimum}} {
		if f.v < time.Second {
			p.add(path+".soa."+f.k, "must be at least 1s")
		}
	}
	for _, n := range append([]string{d.SOA.MName, d.SOA.RName}, d.NS...) {
		if !reDNSName.MatchString(n) {
			p.add(path, "%q is not a valid DNS name (soa or ns)", n)
		}
	}
	for _, l := range []struct {
		key string
		ids []string
	}{{"wildcard_owners", d.WildcardOwners}, {"authority", d.Authority}} {
		for i, o := range l.ids {
			if k := strings.LastIndexByte(o, ':'); k <= 0 || k == len(o)-1 {
				p.add(fmt.Sprintf("%s.%s[%d]", path, l.key, i), "%q is not a certificate identity <subject DN>:<serial hex>", o)
			}
		}
	}
	for i, f := range d.CRL {
		if f == "" {
			p.add(fmt.Sprintf("%s.crl[%d]", path, i), "empty file name")
		} else if len(d.TrustedIssuers) == 0 {
			p.add(fmt.Sprintf("%s.crl[%d]", path, i), "a CRL needs trusted_issuers: it is checked against them")
		}
	}
	for n, addrs := range d.Glue {
		if !reDNSName.MatchString(n) || !strings.HasSuffix(n, "."+d.Zone) {
			p.add(path+".glue", "%q is not a name inside zone %s", n, d.Zone)
		}
		if len(addrs) == 0 {
			p.add(path+".glue", "%q has no address", n)
		}
		for _, a := range addrs {
			if ip, err := netip.ParseAddr(a); err != nil || ip.Zone() != "" {
				p.add(path+".glue", "%q of %s is not an IP address", a, n)
			}
		}
	}
}
