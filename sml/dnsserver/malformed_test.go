package dnsserver

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/internal/testnet"
	"github.com/signpost-project/signpost/sml/zone"
)

// startKnotZone starts knotd serving the test zone from a zone file (no transfers) and returns its address.
func startKnotZone(t *testing.T, recs []zone.Record) string {
	t.Helper()
	dir := t.TempDir()
	var zf strings.Builder
	fmt.Fprintf(&zf, "sml.test. 3600 IN SOA ns1.sml.test. hostmaster.sml.test. 1 3600 600 604800 60\nsml.test. 3600 IN NS ns1.sml.test.\n")
	for _, rr := range toRRs(recs) {
		zf.WriteString(rr.String() + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "sml.test.zone"), []byte(zf.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testnet.FreePort(t)
	conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%[2]d
    rundir: "%[1]s"
    pidfile: "%[1]s/knot.pid"
    user: root:root
control:
    listen: "%[1]s/knot.sock"
database:
    storage: "%[1]s/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "%[1]s"
zone:
  - domain: sml.test
    file: "sml.test.zone"
`, dir, p)
	path := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startDaemon(t, "knotd", "-c", path)
	addr := "127.0.0.1:" + strconv.Itoa(p)
	eventually(t, "knotd answers", 10*time.Second, func() error {
		_, err := query(addr, dnsMsg(testZone, dns.TypeSOA))
		return err
	})
	return addr
}

func dnsMsg(name string, qtype uint16) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return m
}

// rawAnswer sends raw bytes over netw and returns the raw answer.
func rawAnswer(t *testing.T, netw, addr string, raw []byte) []byte {
	t.Helper()
	conn, err := net.Dial(netw, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 65536)
	if netw == "tcp" {
		if _, err := conn.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(raw))), raw...)); err != nil {
			t.Fatal(err)
		}
		if _, err := readFull(conn, buf[:2]); err != nil {
			t.Fatalf("%s: %v", netw, err)
		}
		l := int(binary.BigEndian.Uint16(buf))
		if _, err := readFull(conn, buf[:l]); err != nil {
			t.Fatal(err)
		}
		return buf[:l]
	}
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("%s: %v", netw, err)
	}
	return buf[:n]
}

// malformedQueries are queries that Knot answers FORMERR: two OPT records, an OPT in the answer or authority
// section, bytes after the question or after the OPT.
func malformedQueries() map[string][]byte {
	head := func(flags uint16, an, ns, ar uint16) []byte {
		b := binary.BigEndian.AppendUint16(nil, 0x1234)
		for _, v := range []uint16{flags, 1, an, ns, ar} {
			b = binary.BigEndian.AppendUint16(b, v)
		}
		var qn [256]byte
		n, _ := dns.PackDomainName("reANA6asz6h7dlkfrw4fbjgue7z74gx3uta2oik2p6tawtasctoq.iso6523-actorid-upis.sml.test.", qn[:], 0, nil, false)
		b = append(b, qn[:n]...)
		return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(b, dns.TypeNAPTR), dns.ClassINET)
	}
	opt := []byte{0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0}
	optDO := []byte{0, 0, 41, 4, 0xd0, 0, 0, 0x80, 0, 0, 0}
	return map[string][]byte{
		"two OPT":                  append(append(head(0x0100, 0, 0, 2), opt...), opt...),
		"two OPT, RD CD AD AA":     append(append(head(0x0530, 0, 0, 2), optDO...), opt...),
		"OPT in the answer":        append(head(0x0100, 1, 0, 0), opt...),
		"OPT in the authority":     append(head(0x0000, 0, 1, 0), opt...),
		"bytes after the question": append(head(0x0100, 0, 0, 0), 0, 0),
		"a byte after the OPT":     append(append(head(0x0100, 0, 0, 1), opt...), 0),
	}
}

// TestMalformedLikeKnot: malformed queries get the bytes Knot sends (FORMERR), over UDP and TCP, and the fast
// path leaves them to the full path.
func TestMalformedLikeKnot(t *testing.T) {
	recs := testRecords()
	knot := startKnotZone(t, recs)
	s := startServer(t, Config{}, newSource(10))
	u, _ := s.Addr()
	for name, raw := range malformedQueries() {
		if !malformed(raw) {
			t.Errorf("%s: malformed() says no", name)
		}
		if _, ok := s.fast(raw, nil); ok {
			t.Errorf("%s: answered on the fast path", name)
		}
		for _, netw := range []string{"udp", "tcp"} {
			want := rawAnswer(t, netw, knot, raw)
			got := rawAnswer(t, netw, u.String(), raw)
			if want[3]&0xf != dns.RcodeFormatError {
				t.Errorf("%s over %s: Knot answered rcode %d, the test expects FORMERR", name, netw, want[3]&0xf)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s over %s:\n got  %x\n knot %x", name, netw, got, want)
			}
		}
	}
	// Well-formed queries are not malformed.
	for _, raw := range queryVariants() {
		if malformed(raw) {
			m := new(dns.Msg)
			_ = m.Unpack(raw)
			t.Errorf("well-formed query reported malformed: %v", m.Question)
		}
	}
}
