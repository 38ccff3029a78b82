package sml

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/signpost-project/signpost/sml/zone"
)

// ExportZone writes the zone as an RFC 1035 master file: $ORIGIN, $TTL, the SOA (current serial), the NS records
// and every record, from one consistent snapshot. Names are absolute. BIND, Knot and NSD load it.
func (s *Service) ExportZone(w io.Writer, zoneName string) error {
	d, ok := s.domains[fqdn(zoneName)]
	if !ok {
		return errorf(KindNotFound, "%s is not a zone of this SML; the configured zones are %s", zoneName, strings.Join(s.zones, ", "))
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	line := make([]byte, 0, 256)
	_, err := s.records(d, func(serial uint32) error {
		a := d.apex(serial)
		fmt.Fprintf(bw, "; zone %s exported by signpost at %s, serial %d\n", d.Zone, s.now().UTC().Format(time.RFC3339), serial)
		fmt.Fprintf(bw, "$ORIGIN %s\n$TTL %d\n", d.Zone, d.TTL)
		fmt.Fprintf(bw, "%s %d IN SOA %s %s %d %d %d %d %d\n", a.Zone, a.SOA.TTL, a.SOA.MName, a.SOA.RName, a.SOA.Serial,
			a.SOA.Refresh, a.SOA.Retry, a.SOA.Expire, a.SOA.Minimum)
		for _, ns := range a.NS {
			fmt.Fprintf(bw, "%s %d IN NS %s\n", a.Zone, a.TTL, ns)
		}
		return nil
	}, func(r zone.Record) error {
		line = AppendRecord(line[:0], r)
		_, err := bw.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	werr := bw.Flush()
	if werr != nil {
		return fmt.Errorf("sml: export %s: %w", d.Zone, werr)
	}
	return nil
}

// AppendRecord appends r in master-file form ("name ttl IN TYPE data\n").
func AppendRecord(b []byte, r zone.Record) []byte {
	b = append(b, r.Name...)
	b = append(b, ' ')
	b = fmt.Appendf(b, "%d IN ", r.TTL)
	switch r.Type {
	case zone.TypeNAPTR:
		n := r.NAPTR
		b = fmt.Appendf(b, "NAPTR %d %d ", n.Order, n.Preference)
		b = appendCharString(b, n.Flags)
		b = append(b, ' ')
		b = appendCharString(b, n.Service)
		b = append(b, ' ')
		b = appendCharString(b, n.Regexp)
		b = append(b, ' ')
		b = append(b, n.Replacement...)
	case zone.TypeCNAME:
		b = append(b, "CNAME "...)
		b = append(b, r.Target...)
	case zone.TypeNS:
		b = append(b, "NS "...)
		b = append(b, r.Target...)
	case zone.TypeA:
		b = append(b, "A "...)
		b = r.Addr.AppendTo(b)
	case zone.TypeAAAA:
		b = append(b, "AAAA "...)
		b = r.Addr.AppendTo(b)
	default:
		b = fmt.Appendf(b, "TYPE%d \\# 0", r.Type)
	}
	return append(b, '\n')
}

// appendCharString appends s as a quoted <character-string>, escaping '"' and '\' and non-printable bytes.
func appendCharString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < ' ' || c > '~':
			b = fmt.Appendf(b, "\\%03d", c)
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
