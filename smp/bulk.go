package smp

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/url"
	"slices"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/internal/logging"
)

// Bulk changes: one endpoint value replaced in every service metadata of every service group, the chore of a
// provider whose access points move to a new certificate (PEPPOL's 2026 move to G3) or a new address. The
// changed service metadata are rendered and signed again in every served flavour through the write path (plan in
// a read transaction, sign outside, commit per group with its version checked), BulkBatch groups at a time; the
// service group documents are left alone, since their references name document types and processes only.

// BulkBatch is how many service groups Bulk plans and commits at a time.
const BulkBatch = ResignBatch

// BulkOp is one bulk change: either a certificate (OldCertificate by NewCertificate) or an address (OldURL by
// NewURL). An endpoint is concerned when its certificate is byte for byte OldCertificate (DER), or its address
// is exactly OldURL.
type BulkOp struct {
	OldCertificate []byte `json:"old_certificate,omitempty"` // DER (base64 in JSON)
	NewCertificate []byte `json:"new_certificate,omitempty"`
	OldURL         string `json:"old_url,omitempty"`
	NewURL         string `json:"new_url,omitempty"`
	// DryRun counts what the change would touch and writes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

// Kind names the change: "replace-certificate" or "replace-url".
func (op *BulkOp) Kind() string {
	if op.OldCertificate != nil || op.NewCertificate != nil {
		return "replace-certificate"
	}
	return "replace-url"
}

// Validate checks that op is one complete change that would change something.
func (op *BulkOp) Validate() error {
	certs := op.OldCertificate != nil || op.NewCertificate != nil
	urls := op.OldURL != "" || op.NewURL != ""
	switch {
	case certs && urls:
		return Invalid("bulk change", "give either an old and a new certificate or an old and a new URL, not both")
	case certs:
		if _, err := x509.ParseCertificate(op.OldCertificate); err != nil {
			return Invalid("old certificate", "not an X.509 certificate: "+err.Error())
		}
		if _, err := x509.ParseCertificate(op.NewCertificate); err != nil {
			return Invalid("new certificate", "not an X.509 certificate: "+err.Error())
		}
		if bytes.Equal(op.OldCertificate, op.NewCertificate) {
			return Invalid("new certificate", "is the old one: nothing would change")
		}
	case urls:
		if op.OldURL == "" {
			return Invalid("old URL", "missing")
		}
		if err := endpointURL("new URL", op.NewURL); err != nil {
			return err
		}
		if op.OldURL == op.NewURL {
			return Invalid("new URL", "is the old one: nothing would change")
		}
	default:
		return Invalid("bulk change", "give an old and a new certificate, or an old and a new URL")
	}
	return nil
}

// endpointURL checks an endpoint address given to a bulk change: an absolute http or https URL.
func endpointURL(field, s string) error {
	if err := xmlChars(field, s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil {
		return Invalid(field, err.Error())
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Invalidf(field, "%q is not an absolute http or https URL (such as https://ap.example.com/as4)", s)
	}
	return nil
}

// apply returns sm with op applied (sharing nothing op changed with sm) and how many endpoints it changed.
func (op *BulkOp) apply(sm *ServiceMetadata) (ServiceMetadata, int) {
	out := *sm
	out.Processes = slices.Clone(sm.Processes)
	n := 0
	for i := range out.Processes {
		p := &out.Processes[i]
		p.Endpoints = slices.Clone(p.Endpoints)
		for j := range p.Endpoints {
			e := &p.Endpoints[j]
			switch {
			case op.OldCertificate != nil && bytes.Equal(e.Certificate, op.OldCertificate):
				e.Certificate = slices.Clone(op.NewCertificate)
				n++
			case op.OldURL != "" && e.Address == op.OldURL:
				e.Address = op.NewURL
				n++
			}
		}
	}
	return out, n
}

// BulkGroup is what a bulk change did (or, in a dry run, would do) to one service group.
type BulkGroup struct {
	Participant string `json:"participant"`
	// Metadata is how many of its service metadata changed; Endpoints how many endpoints in them.
	Metadata  int `json:"service_metadata"`
	Endpoints int `json:"endpoints"`
}

// BulkResult sums up a bulk change.
type BulkResult struct {
	Change string `json:"change"`
	DryRun bool   `json:"dry_run,omitempty"`
	// Scanned is how many service groups were looked at; Groups, Metadata and Endpoints how many were changed
	// (in a dry run: would be); Documents how many documents were signed and stored again.
	Scanned   int `json:"groups_scanned"`
	Groups    int `json:"groups"`
	Metadata  int `json:"service_metadata"`
	Endpoints int `json:"endpoints"`
	Documents int `json:"documents"`
}

// BulkObserver follows a bulk change; either function may be nil. Both are called from Bulk's goroutine.
type BulkObserver struct {
	// Group is called for every service group changed (dry run: that would change), in participant order.
	Group func(BulkGroup)
	// Progress is called after each batch with the groups looked at so far and the number of groups there were
	// when the change began.
	Progress func(done, total int)
}

// Bulk applies op to every service metadata of every service group by may change (an administrator: all) and
// re-signs the changed documents; with op.DryRun it only counts. Groups written meanwhile are planned again from
// what they hold now; groups created after their page was read are not changed. On an error the groups of the
// batches committed before stay changed; running the change again finishes the rest (a changed endpoint no
// longer matches).
func (s *Service) Bulk(ctx context.Context, by Principal, op BulkOp, obs BulkObserver) (BulkResult, error) {
	res := BulkResult{Change: op.Kind(), DryRun: op.DryRun}
	if err := op.Validate(); err != nil {
		return res, err
	}
	if op.NewCertificate != nil {
		// Validate parsed it. An expired certificate would break every endpoint it is written to.
		c, _ := x509.ParseCertificate(op.NewCertificate)
		if now := s.now(); c != nil && now.After(c.NotAfter) {
			return res, Invalidf("new certificate", "%s expired on %s", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
		}
	}
	total, _, err := s.Counts(ctx)
	if err != nil {
		return res, err
	}
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		var batch []identifier.ID
		if err := s.repo.View(ctx, func(tx ReadTx) error {
			gs, err := tx.Groups(after, BulkBatch)
			for _, g := range gs {
				batch = append(batch, g.Group.Participant)
			}
			return err
		}); err != nil {
			return res, asError("list service groups", err)
		}
		if len(batch) == 0 {
			break
		}
		after = batch[len(batch)-1].String()
		done, err := s.bulkBatch(ctx, by, &op, batch)
		if err != nil {
			return res, err
		}
		res.Scanned += len(batch)
		for _, p := range batch {
			g, ok := done[p.String()]
			if !ok {
				continue
			}
			res.Groups++
			res.Metadata += g.Metadata
			res.Endpoints += g.Endpoints
			if !op.DryRun {
				res.Documents += g.Metadata * len(s.flavours)
			}
			if obs.Group != nil {
				obs.Group(g)
			}
		}
		if obs.Progress != nil {
			obs.Progress(res.Scanned, max(total, res.Scanned))
		}
	}
	if !op.DryRun {
		s.log.Info("smp bulk change", logging.Audit, "change", res.Change, "by", by.User, "groups", res.Groups, "service_metadata", res.Metadata,
			"endpoints", res.Endpoints, "documents", res.Documents)
	}
	return res, nil
}

// bulkBatch applies op to a page of groups (or counts, in a dry run) and returns what changed, by participant.
func (s *Service) bulkBatch(ctx context.Context, by Principal, op *BulkOp, batch []identifier.ID) (map[string]BulkGroup, error) {
	done := map[string]BulkGroup{}
	if op.DryRun {
		err := s.repo.View(ctx, func(tx ReadTx) error {
			for _, p := range batch {
				c, err := open(tx, p)
				if err != nil {
					return err
				}
				if g, ok := bulkCount(c, by, op); ok {
					done[p.String()] = g
				}
			}
			return nil
		})
		return done, asError("read service groups", err)
	}
	// A group that conflicts is planned again: the last plan of each group is the one that committed.
	_, err := s.writeEach(ctx, batch, func(tx ReadTx, p identifier.ID, k *keys) (*change, error) {
		delete(done, p.String())
		c, err := open(tx, p)
		if err != nil {
			return nil, err
		}
		g, ok := bulkCount(c, by, op)
		if !ok {
			return nil, nil
		}
		for i := range c.metas {
			next, n := op.apply(&c.metas[i])
			if n == 0 {
				continue
			}
			if err := s.setMeta(c, next, k); err != nil {
				return nil, err
			}
		}
		// setMeta asks for the group's documents too; a bulk change leaves their references as they are.
		c.renderGroup = false
		done[p.String()] = g
		return c, nil
	})
	return done, err
}

// bulkCount counts what op changes in the group of c; ok is false when it changes nothing there (or by may not
// change the group).
func bulkCount(c *change, by Principal, op *BulkOp) (g BulkGroup, ok bool) {
	if !c.exists || !by.may(c.sg.Owner) {
		return g, false
	}
	for i := range c.metas {
		if _, n := op.apply(&c.metas[i]); n > 0 {
			g.Metadata++
			g.Endpoints += n
		}
	}
	return BulkGroup{Participant: c.p.String(), Metadata: g.Metadata, Endpoints: g.Endpoints}, g.Metadata > 0
}
