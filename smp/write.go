package smp

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/signpost-project/signpost/identifier"
)

// The management API's write operations: the write path of service.go with the owner rules checked inside the
// same transaction (an owner changes only its own groups, an administrator all of them).

// GroupWrite are the options of WriteServiceGroup.
type GroupWrite struct {
	// InSML, when set, records whether the participant is meant to be registered in the SML; nil: true for a new
	// group, unchanged for an existing one.
	InSML *bool
	// Owner, when set, makes this user the owner (only administrators may name another user than themselves);
	// nil: the writer for a new group, unchanged for an existing one.
	Owner *string
}

func forbidden(msg string) error { return &Error{Kind: KindForbidden, Msg: msg} }

func (w *writer) ownedGroup(p identifier.ID, by Actor) (*ServiceGroup, []byte, error) {
	gb := w.tx.Get(TableGroups, groupKey(p))
	if gb == nil {
		return nil, nil, notFound("service group " + p.String())
	}
	sg, err := decodeStoredGroup(gb)
	if err != nil {
		return nil, nil, err
	}
	if !by.may(sg.Owner) {
		return nil, nil, forbidden(fmt.Sprintf("service group %s belongs to another user; only its owner or an administrator may change it", p))
	}
	return &sg, gb, nil
}

// WriteServiceGroup creates or replaces a service group as by, in one transaction: a new group is owned by its
// writer (or o.Owner); an existing one may be replaced only by its owner or an administrator, and keeps its owner
// and SML flag unless o says otherwise. Extensions come from sg; the references are the SMP's own.
func (s *Service) WriteServiceGroup(ctx context.Context, sg ServiceGroup, by Actor, o GroupWrite) (created bool, err error) {
	if err := sg.Validate(); err != nil {
		return false, err
	}
	for _, x := range sg.Extensions {
		if _, err := ParseExtension(x); err != nil {
			return false, err
		}
	}
	if o.Owner != nil {
		if err := ValidUserName(*o.Owner); err != nil {
			return false, err
		}
		if !by.Admin && *o.Owner != by.User {
			return false, forbidden("only an administrator may make another user the owner of a service group")
		}
	}
	err = s.update(func(w *writer) error {
		old := w.tx.Get(TableGroups, groupKey(sg.Participant))
		created = old == nil
		if created {
			sg.Owner, sg.InSML = by.User, true
		} else {
			prev, err := decodeStoredGroup(old)
			if err != nil {
				return err
			}
			if !by.may(prev.Owner) {
				return forbidden(fmt.Sprintf("service group %s belongs to another user; only its owner or an administrator may change it", sg.Participant))
			}
			sg.Owner, sg.InSML = prev.Owner, prev.InSML
		}
		if o.Owner != nil {
			sg.Owner = *o.Owner
		}
		if o.InSML != nil {
			sg.InSML = *o.InSML
		}
		rec, err := encodeGroup(&sg)
		if err != nil {
			return internal("encode service group", err)
		}
		if bytes.Equal(old, rec) && w.current(sg.Participant, identifier.ID{}) {
			return nil
		}
		if err := w.tx.Put(TableGroups, groupKey(sg.Participant), rec); err != nil {
			return err
		}
		return w.renderGroup(&sg)
	})
	return created, err
}

// WriteServiceMetadata creates or replaces a service metadata of an existing service group as by (its owner or
// an administrator), signs and stores its documents and renders the group again, in one transaction.
func (s *Service) WriteServiceMetadata(ctx context.Context, sm ServiceMetadata, by Actor) (created bool, err error) {
	if err := sm.Validate(); err != nil {
		return false, err
	}
	if err := checkExtensions(&sm); err != nil {
		return false, err
	}
	rec, err := encodeMetadata(&sm)
	if err != nil {
		return false, internal("encode service metadata", err)
	}
	err = s.update(func(w *writer) error {
		sg, _, err := w.ownedGroup(sm.Participant, by)
		if err != nil {
			return err
		}
		key := metadataKey(sm.Participant, sm.DocumentType)
		old := w.tx.Get(TableMetadata, key)
		created = old == nil
		if bytes.Equal(old, rec) && w.current(sm.Participant, sm.DocumentType) {
			return nil
		}
		if err := w.tx.Put(TableMetadata, key, rec); err != nil {
			return err
		}
		if err := w.renderMetadata(&sm); err != nil {
			return err
		}
		return w.renderGroup(sg)
	})
	return created, err
}

// deleteMetadata deletes the listed service metadata of a participant and their documents.
func (w *writer) deleteMetadata(p identifier.ID, docTypes []identifier.ID) error {
	for _, d := range docTypes {
		if err := w.tx.Delete(TableMetadata, metadataKey(p, d)); err != nil {
			return err
		}
		for _, f := range allFlavours {
			if err := w.del(docKey(f, p, d)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (w *writer) docTypes(p identifier.ID) ([]identifier.ID, error) {
	var out []identifier.ID
	err := w.tx.Scan(TableMetadata, append(groupKey(p), 0), nil, func(_, v []byte) error {
		sm, err := decodeStoredMetadata(v)
		out = append(out, sm.DocumentType)
		return err
	})
	return out, err
}

// RemoveServiceGroup deletes a service group with all its service metadata and documents as by (its owner or an
// administrator), in one transaction.
func (s *Service) RemoveServiceGroup(ctx context.Context, p identifier.ID, by Actor) error {
	return s.update(func(w *writer) error {
		if _, _, err := w.ownedGroup(p, by); err != nil {
			return err
		}
		dts, err := w.docTypes(p)
		if err != nil {
			return err
		}
		if err := w.deleteMetadata(p, dts); err != nil {
			return err
		}
		for _, f := range allFlavours {
			if err := w.del(docKey(f, p, identifier.ID{})); err != nil {
				return err
			}
		}
		return w.tx.Delete(TableGroups, groupKey(p))
	})
}

// RemoveServiceMetadata deletes one service metadata (docType set) or all of a participant's (docType zero) as by,
// and renders the group again, in one transaction. It returns how many it deleted.
func (s *Service) RemoveServiceMetadata(ctx context.Context, p, docType identifier.ID, by Actor) (int, error) {
	n := 0
	err := s.update(func(w *writer) error {
		sg, _, err := w.ownedGroup(p, by)
		if err != nil {
			return err
		}
		dts := []identifier.ID{docType}
		if docType.IsZero() {
			if dts, err = w.docTypes(p); err != nil {
				return err
			}
		} else if w.tx.Get(TableMetadata, metadataKey(p, docType)) == nil {
			return notFound("service metadata " + docType.String() + " of " + p.String())
		}
		if err := w.deleteMetadata(p, dts); err != nil {
			return err
		}
		n = len(dts)
		return w.renderGroup(sg)
	})
	return n, err
}

// ExpiredCertificates says what CheckPublishable does with an endpoint certificate that has expired.
type ExpiredCertificates int

const (
	// RefuseExpired refuses the document.
	RefuseExpired ExpiredCertificates = iota
	// WarnExpired accepts it with a warning.
	WarnExpired
)

// CheckPublishable applies the management API's checks beyond the model's: every certificate is base64 DER
// X.509 (an expired one refused or warned about), every address and redirect an absolute URL, activation before
// expiration. It returns the warnings of an accepted document.
func CheckPublishable(sm *ServiceMetadata, now time.Time, expired ExpiredCertificates) ([]string, error) {
	var warns []string
	cert := func(field string, der []byte) error {
		if len(der) == 0 {
			return nil
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return invalidf(field, "not a base64 DER X.509 certificate: %v", err)
		}
		if now.After(c.NotAfter) {
			msg := fmt.Sprintf("certificate %q expired on %s", c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
			if expired == RefuseExpired {
				return invalid(field, msg)
			}
			warns = append(warns, field+": "+msg)
		}
		return nil
	}
	if r := sm.Redirect; r != nil {
		if err := absoluteURL("Redirect href", r.Href); err != nil {
			return nil, err
		}
		if err := cert("Redirect Certificate", r.Certificate); err != nil {
			return nil, err
		}
	}
	for _, p := range sm.Processes {
		for _, e := range p.Endpoints {
			if err := absoluteURL("Endpoint address", e.Address); err != nil {
				return nil, err
			}
			if e.TechnicalInformationURL != "" {
				if err := absoluteURL("TechnicalInformationUrl", e.TechnicalInformationURL); err != nil {
					return nil, err
				}
			}
			if err := cert("Endpoint Certificate", e.Certificate); err != nil {
				return nil, err
			}
			if e.ActivationDate != nil && e.ExpirationDate != nil && !e.ExpirationDate.After(*e.ActivationDate) {
				return nil, invalid("ServiceExpirationDate", "must be after ServiceActivationDate")
			}
		}
	}
	return warns, nil
}

func absoluteURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || (u.Host == "" && u.Opaque == "") {
		return invalidf(field, "%q is not an absolute URL", s)
	}
	if (u.Scheme == "http" || u.Scheme == "https") && u.Host == "" {
		return invalidf(field, "%q has no host", s)
	}
	return nil
}

// GroupSummary is one service group as the admin API lists it.
type GroupSummary struct {
	Participant     string `json:"participant"`
	Owner           string `json:"owner,omitempty"`
	InSML           bool   `json:"in_sml"`
	ServiceMetadata int    `json:"service_metadata"`
}

// ListServiceGroups returns up to limit service groups in participant order, starting after the participant
// after (canonical form, "" for the first page); next is the cursor of the following page ("" on the last).
func (s *Service) ListServiceGroups(ctx context.Context, after string, limit int) (groups []GroupSummary, next string, err error) {
	var start []byte
	if after != "" {
		start = []byte(after)
	}
	groups = []GroupSummary{}
	err = s.repo.View(func(tx Tx) error {
		return tx.Scan(TableGroups, nil, start, func(k, v []byte) error {
			if start != nil && bytes.Equal(k, start) {
				return nil
			}
			if len(groups) == limit {
				next = groups[len(groups)-1].Participant
				return ErrStop
			}
			var g GroupJSON
			if err := json.Unmarshal(v, &g); err != nil {
				return internal("decode stored service group", err)
			}
			n := 0
			if err := tx.Scan(TableMetadata, append(bytes.Clone(k), 0), nil, func(_, _ []byte) error { n++; return nil }); err != nil {
				return err
			}
			groups = append(groups, GroupSummary{Participant: g.Participant, Owner: g.Owner, InSML: g.InSML == nil || *g.InSML, ServiceMetadata: n})
			return nil
		})
	})
	return groups, next, err
}
