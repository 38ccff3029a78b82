package sml

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
)

// Bulk import (docs/sml-import.md): SMPs and participants from another SML, in batches of one transaction each.
// An import is an operator's act: it bypasses the ownership rules (owners come from the file) but not the
// validation of identifiers and addresses. Re-running an import is harmless: equal entries are left alone,
// changed ones are updated.

// ImportSMP is an SMP line of an import file.
type ImportSMP struct {
	ID              string `json:"id"`
	Domain          string `json:"domain"`
	LogicalAddress  string `json:"logical_address"`
	PhysicalAddress string `json:"physical_address,omitempty"`
	Owner           string `json:"owner"`
}

// ImportParticipant is a participant line of an import file.
type ImportParticipant struct {
	// ID is "scheme::value" (or a scheme-less value in domains with the oasis policy).
	ID      string `json:"id"`
	SMP     string `json:"smp"`
	Service string `json:"service,omitempty"`
}

// ImportBatch is what one transaction imports.
type ImportBatch struct {
	SMPs         []ImportSMP
	Participants []ImportParticipant
	// Lines are the file's line numbers of SMPs and Participants, for messages (optional).
	SMPLines, ParticipantLines []int
}

// ImportResult counts what an import did.
type ImportResult struct {
	SMPsCreated, SMPsUpdated, SMPsUnchanged int
	Created, Updated, Unchanged             int
}

// Add adds o to r.
func (r *ImportResult) Add(o ImportResult) {
	r.SMPsCreated += o.SMPsCreated
	r.SMPsUpdated += o.SMPsUpdated
	r.SMPsUnchanged += o.SMPsUnchanged
	r.Created += o.Created
	r.Updated += o.Updated
	r.Unchanged += o.Unchanged
}

func lineRef(lines []int, i int) string {
	if i < len(lines) && lines[i] > 0 {
		return fmt.Sprintf("line %d: ", lines[i])
	}
	return ""
}

// Import writes one batch in one transaction per zone it touches (a batch normally holds one zone; a batch
// that spans zones is split). The zone's journal is reset (secondaries transfer the whole zone after an import)
// and its serial raised; OnChange receives the change, so a running DNS server stays current.
func (s *Service) Import(ctx context.Context, b ImportBatch) (ImportResult, error) {
	var total ImportResult
	// Group by zone: SMPs by their domain, participants by their SMP's domain (from the batch or the store).
	smpZone := map[string]string{}
	for i, smp := range b.SMPs {
		z := fqdn(smp.Domain)
		if _, ok := s.domains[z]; !ok {
			return total, errorf(KindBadRequest, "%sSMP '%s': domain '%s' is not configured", lineRef(b.SMPLines, i), smp.ID, smp.Domain)
		}
		smpZone[strings.ToLower(smp.ID)] = z
	}
	var missing []string
	for _, p := range b.Participants {
		if _, ok := smpZone[strings.ToLower(p.SMP)]; !ok {
			missing = append(missing, p.SMP)
		}
	}
	if len(missing) > 0 {
		if err := s.repo.View(func(t Tx) error {
			for _, id := range missing {
				if smp, ok, err := t.SMP(id); err != nil {
					return err
				} else if ok {
					smpZone[strings.ToLower(id)] = smp.Domain
				}
			}
			return nil
		}); err != nil {
			return total, s.fail("import", err)
		}
	}
	zones := map[string]bool{}
	for _, z := range smpZone {
		zones[z] = true
	}
	for i, p := range b.Participants {
		z, ok := smpZone[strings.ToLower(p.SMP)]
		if !ok {
			return total, errorf(KindNotFound, "%sparticipant '%s': the SMP '%s' is neither in the file before it nor in the store", lineRef(b.ParticipantLines, i), p.ID, p.SMP)
		}
		if _, ok := s.domains[z]; !ok {
			return total, errorf(KindBadRequest, "%sparticipant '%s': the SMP '%s' is in domain %s, which is not configured", lineRef(b.ParticipantLines, i), p.ID, p.SMP, z)
		}
	}
	for _, z := range s.zones {
		if !zones[z] {
			continue
		}
		r, err := s.importZone(ctx, s.domains[z], b, smpZone)
		if err != nil {
			return total, err
		}
		total.Add(r)
	}
	return total, nil
}

func (s *Service) importZone(ctx context.Context, d *Domain, b ImportBatch, smpZone map[string]string) (ImportResult, error) {
	var res ImportResult
	err := s.writeTx(ctx, "import", true, func(t Tx, ch *change) error {
		res = ImportResult{}
		ch.zone, ch.resetJournal = d.Zone, true
		now := s.now().UTC()
		smps := map[string]SMP{}
		for i, in := range b.SMPs {
			if fqdn(in.Domain) != d.Zone {
				continue
			}
			at := lineRef(b.SMPLines, i)
			if err := checkSMPID(in.ID); err != nil {
				return prefixed(at, err)
			}
			if in.Owner == "" {
				return errorf(KindBadRequest, "%sSMP '%s' has no owner; give the certificate identity (subject DN:serial hex) that may manage it", at, in.ID)
			}
			owner, ok := ownerIdentity(in.Owner)
			if !ok {
				return errorf(KindBadRequest, "%sSMP '%s': the owner '%s' is not a certificate identity '<subject DN, RFC 4514>:<serial number in hex>'", at, in.ID, shorten(in.Owner))
			}
			nu := SMP{ID: in.ID, LogicalAddress: in.LogicalAddress, PhysicalAddress: in.PhysicalAddress, Owner: owner,
				Domain: d.Zone, Created: now, Updated: now}
			if err := checkAddresses(&nu); err != nil {
				return prefixed(at, err)
			}
			old, exists, err := t.SMP(in.ID)
			if err != nil {
				return err
			}
			if exists {
				if old.Domain != d.Zone {
					return errorf(KindBadRequest, "%sSMP '%s' exists in domain %s; an import cannot move it to %s", at, in.ID, old.Domain, d.Zone)
				}
				if old.LogicalAddress == nu.LogicalAddress && old.PhysicalAddress == nu.PhysicalAddress && old.Owner == nu.Owner {
					res.SMPsUnchanged++
					smps[strings.ToLower(old.ID)] = old
					continue
				}
				// SMP IDs are case-insensitive: the stored spelling stays, because its participants, publisher
				// name and by-SMP index carry it.
				nu.ID, nu.Created = old.ID, old.Created
				if err := d.addressChange(t, old, nu, ch); err != nil {
					return err
				}
				res.SMPsUpdated++
			} else {
				if err := s.putPublisher(t, d, nu); err != nil {
					return prefixed(at, err)
				}
				ch.add = append(ch.add, d.smpRecords(nu)...)
				res.SMPsCreated++
			}
			if err := t.PutSMP(nu); err != nil {
				return err
			}
			smps[strings.ToLower(nu.ID)] = nu
		}
		for i, in := range b.Participants {
			if smpZone[strings.ToLower(in.SMP)] != d.Zone {
				continue
			}
			at := lineRef(b.ParticipantLines, i)
			smp, ok := smps[strings.ToLower(in.SMP)]
			if !ok {
				got, found, err := t.SMP(in.SMP)
				if err != nil {
					return err
				}
				if !found {
					return errorf(KindNotFound, "%sparticipant '%s': the SMP '%s' does not exist", at, in.ID, in.SMP)
				}
				smp = got
				smps[strings.ToLower(in.SMP)] = smp
			}
			raw := identifier.ID{Value: in.ID}
			if sc, v, found := strings.Cut(in.ID, identifier.Separator); found {
				raw = identifier.ID{Scheme: sc, Value: v}
			}
			id, err := d.canonical(raw, true)
			if err != nil {
				return prefixed(at, err)
			}
			svc, err := checkService(in.Service)
			if err != nil {
				return prefixed(at, err)
			}
			old, exists, err := t.Participant(d.Zone, id)
			if err != nil {
				return err
			}
			p := Participant{ID: id, SMPID: smp.ID, Service: svc, Domain: d.Zone, Created: now, Updated: now}
			if exists {
				if old.SMPID == p.SMPID && old.Service == p.Service {
					res.Unchanged++
					continue
				}
				oldSMP, ok := smps[strings.ToLower(old.SMPID)]
				if !ok {
					got, _, err := t.SMP(old.SMPID)
					if err != nil {
						return err
					}
					oldSMP = got
				}
				if err := s.removeParticipant(t, d, old, oldSMP, ch); err != nil {
					return err
				}
				p.Created = old.Created
				res.Updated++
			} else {
				res.Created++
			}
			if err := s.addParticipant(t, d, p, smp, ch); err != nil {
				return prefixed(at, err)
			}
		}
		if len(ch.del) == 0 && len(ch.add) == 0 {
			ch.zone = "" // nothing changed: no new serial
		}
		if r := res; r.Created+r.Updated+r.SMPsCreated+r.SMPsUpdated > 0 {
			ch.audit = func() {
				s.log.Info("sml change", logging.Audit, "op", "import", "domain", d.Zone, "smps_created", r.SMPsCreated,
					"smps_updated", r.SMPsUpdated, "created", r.Created, "updated", r.Updated, "unchanged", r.Unchanged)
			}
		}
		return nil
	})
	return res, err
}

// ownerIdentity checks an imported owner, "<subject DN>:<serial hex>", and returns it in the form pki.Identity
// gives callers (serial in lower-case hex without leading zeros), so that the certificate it names can manage the
// SMP. The DN is kept as given: it must be the RFC 4514 form of the certificate's subject.
func ownerIdentity(s string) (string, bool) {
	s = strings.TrimSpace(s)
	i := strings.LastIndexByte(s, ':')
	if i < 0 || !strings.Contains(s[:i], "=") {
		return "", false
	}
	serial, ok := new(big.Int).SetString(s[i+1:], 16)
	if !ok {
		return "", false
	}
	return s[:i] + ":" + serial.Text(16), true
}

func prefixed(at string, err error) error {
	var e *Error
	if at != "" && errors.As(err, &e) {
		c := *e
		c.Msg = at + c.Msg
		return &c
	}
	return err
}

// ImportLine is one decoded line of an import file (JSON Lines): {"type":"smp",...} or {"type":"participant",...}.
type ImportLine struct {
	Type string `json:"type"`
	ImportSMP
	SMP     string `json:"smp"`
	Service string `json:"service,omitempty"`
}

// ReadImport reads an import file (JSON Lines, docs/sml-import.md) and calls fn with batches of up to batchSize
// participants (and the SMPs read before them). Empty lines and lines starting with '#' are skipped. progress,
// when set, is called with the bytes read so far after each batch.
func ReadImport(r io.Reader, batchSize int, fn func(ImportBatch) error) error {
	if batchSize <= 0 {
		batchSize = 10000
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var b ImportBatch
	flush := func() error {
		if len(b.SMPs) == 0 && len(b.Participants) == 0 {
			return nil
		}
		err := fn(b)
		b = ImportBatch{}
		return err
	}
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		var l ImportLine
		dec := json.NewDecoder(strings.NewReader(text))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return errorf(KindBadRequest, "line %d: not an import line (%v); see docs/sml-import.md", line, err)
		}
		switch l.Type {
		case "smp":
			b.SMPs = append(b.SMPs, l.ImportSMP)
			b.SMPLines = append(b.SMPLines, line)
		case "participant":
			b.Participants = append(b.Participants, ImportParticipant{ID: l.ID, SMP: l.SMP, Service: l.Service})
			b.ParticipantLines = append(b.ParticipantLines, line)
			if len(b.Participants) >= batchSize {
				if err := flush(); err != nil {
					return err
				}
			}
		default:
			return errorf(KindBadRequest, "line %d: type %q is neither \"smp\" nor \"participant\"", line, l.Type)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read import file after line %d: %w", line, err)
	}
	return flush()
}

// WriteGenerated writes an import file with smps SMPs (SMP-GEN-1...) and n participants
// (iso6523-actorid-upis::9915:gen-<i>) spread over them, in zone, owned by owner. For scale tests.
func WriteGenerated(w io.Writer, n, smps int, zone, owner string) error {
	if smps < 1 {
		smps = 1
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	enc := json.NewEncoder(bw)
	for i := 1; i <= smps; i++ {
		if err := enc.Encode(map[string]string{"type": "smp", "id": fmt.Sprintf("SMP-GEN-%d", i), "domain": zone,
			"logical_address": fmt.Sprintf("http://smp%d.example.org", i), "physical_address": fmt.Sprintf("192.0.2.%d", i%250+1),
			"owner": owner}); err != nil {
			return err
		}
	}
	for i := 0; i < n; i++ {
		if _, err := fmt.Fprintf(bw, `{"type":"participant","id":"iso6523-actorid-upis::9915:gen-%d","smp":"SMP-GEN-%d"}`+"\n", i, i%smps+1); err != nil {
			return err
		}
	}
	return bw.Flush()
}
