package smp

import (
	"context"
	"fmt"
	"strings"

	"github.com/signpost-project/signpost/identifier"
)

// The use cases that change what the SMP publishes. Each takes the acting principal: an owner changes only its
// own service groups, an administrator (and System) all of them.

// GroupWrite are the options of PutServiceGroup.
type GroupWrite struct {
	// InSML, when set, records whether the participant is meant to be registered in the SML; nil: true for a new
	// group, unchanged for an existing one.
	InSML *bool
	// Owner, when set, makes this user the owner (only administrators may name another user than themselves);
	// nil: the writer for a new group, unchanged for an existing one.
	Owner *string
}

// ValidUserName checks a user name: 1 to 64 of A-Z a-z 0-9 . _ @ -.
func ValidUserName(name string) error {
	if name == "" || len(name) > 64 {
		return Invalid("user", "a user name has 1 to 64 characters")
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@-", r)) {
			return Invalidf("user", "%q: a user name has only letters, digits and . _ @ -", name)
		}
	}
	return nil
}

func notOwner(p identifier.ID) error {
	return Forbidden(fmt.Sprintf("service group %s belongs to another user; only its owner or an administrator may change it", p))
}

// PutServiceGroup creates or replaces a service group as by: a new group is owned by its writer (or o.Owner); an
// existing one may be replaced only by its owner or an administrator, and keeps its owner and SML flag unless o
// says otherwise. Extensions come from sg; the references are the SMP's own. An unchanged group is not rewritten.
func (s *Service) PutServiceGroup(ctx context.Context, by Principal, sg ServiceGroup, o GroupWrite) (created bool, err error) {
	if err := sg.Validate(); err != nil {
		return false, err
	}
	if err := checkGroupExtensions(&sg); err != nil {
		return false, err
	}
	if o.Owner != nil {
		if err := ValidUserName(*o.Owner); err != nil {
			return false, err
		}
		if !by.Admin && *o.Owner != by.User {
			return false, Forbidden("only an administrator may make another user the owner of a service group")
		}
	}
	defer s.locks.lock(sg.Participant.String())()
	_, err = s.write(ctx, func(tx ReadTx, k *keys) ([]*change, error) {
		c, err := open(tx, sg.Participant)
		if err != nil {
			return nil, err
		}
		created = !c.exists
		next := sg
		if c.exists {
			if !by.may(c.sg.Owner) {
				return nil, notOwner(sg.Participant)
			}
			next.Owner, next.InSML = c.sg.Owner, c.sg.InSML
		} else {
			next.Owner, next.InSML = by.User, true
		}
		if o.Owner != nil {
			next.Owner = *o.Owner
		}
		if o.InSML != nil {
			next.InSML = *o.InSML
		}
		if err := s.setGroup(tx, c, next, k); err != nil {
			return nil, err
		}
		return []*change{c}, nil
	})
	return created, err
}

// setGroup plans storing sg (unless it equals what is stored and its documents are current).
func (s *Service) setGroup(tx ReadTx, c *change, sg ServiceGroup, k *keys) error {
	if c.exists {
		same, err := sameGroup(&c.sg, &sg)
		if err != nil {
			return err
		}
		if same {
			cur, err := s.current(tx, c.p, identifier.ID{}, k.gen)
			if err != nil || cur {
				return err
			}
		}
	}
	c.sg, c.putGroup, c.renderGroup = sg, true, true
	return s.finish(c, k)
}

func sameGroup(a, b *ServiceGroup) (bool, error) {
	return sameRecord(a, b, MarshalGroup, "service group")
}

func sameMetadata(a, b *ServiceMetadata) (bool, error) {
	return sameRecord(a, b, MarshalMetadata, "service metadata")
}

// sameRecord reports whether two models store as the same record.
func sameRecord[T any](a, b *T, marshal func(*T) ([]byte, error), what string) (bool, error) {
	x, err := marshal(a)
	if err != nil {
		return false, Internal("encode "+what, err)
	}
	y, err := marshal(b)
	if err != nil {
		return false, Internal("encode "+what, err)
	}
	return string(x) == string(y), nil
}

// PutServiceMetadata creates or replaces a service metadata of an existing service group as by (its owner or an
// administrator), signs its documents and renders the group again. An unchanged metadata is not re-signed.
func (s *Service) PutServiceMetadata(ctx context.Context, by Principal, sm ServiceMetadata) (created bool, err error) {
	if err := sm.Validate(); err != nil {
		return false, err
	}
	if err := checkExtensions(&sm); err != nil {
		return false, err
	}
	defer s.locks.lock(sm.Participant.String())()
	_, err = s.write(ctx, func(tx ReadTx, k *keys) ([]*change, error) {
		c, err := open(tx, sm.Participant)
		if err != nil {
			return nil, err
		}
		if !c.exists {
			return nil, NotFound("service group " + sm.Participant.String())
		}
		if !by.may(c.sg.Owner) {
			return nil, notOwner(sm.Participant)
		}
		var changed bool
		created, changed, err = s.planMetadata(tx, c, sm, k)
		if err != nil || !changed {
			return nil, err
		}
		if err := s.finish(c, k); err != nil {
			return nil, err
		}
		return []*change{c}, nil
	})
	return created, err
}

// planMetadata plans storing sm in c unless it equals what is stored and its documents are current.
func (s *Service) planMetadata(tx ReadTx, c *change, sm ServiceMetadata, k *keys) (created, changed bool, err error) {
	i, found := c.meta(sm.DocumentType)
	if found {
		same, err := sameMetadata(&c.metas[i], &sm)
		if err != nil {
			return false, false, err
		}
		if same {
			cur, err := s.current(tx, c.p, sm.DocumentType, k.gen)
			if err != nil || cur {
				return false, false, err
			}
		}
	}
	return !found, true, s.setMeta(c, sm, k)
}

// DeleteServiceGroup deletes a service group with all its service metadata and documents as by (its owner or an
// administrator).
func (s *Service) DeleteServiceGroup(ctx context.Context, by Principal, p identifier.ID) error {
	defer s.locks.lock(p.String())()
	_, err := s.write(ctx, func(tx ReadTx, k *keys) ([]*change, error) {
		c, err := open(tx, p)
		if err != nil {
			return nil, err
		}
		if !c.exists {
			return nil, NotFound("service group " + p.String())
		}
		if !by.may(c.sg.Owner) {
			return nil, notOwner(p)
		}
		for _, m := range append([]ServiceMetadata(nil), c.metas...) {
			c.removeMeta(m.DocumentType)
		}
		for _, f := range AllFlavours {
			c.delDocs = append(c.delDocs, DocKey{Flavour: f, Participant: p})
		}
		c.delGroup = true
		return []*change{c}, nil
	})
	return err
}

// DeleteServiceMetadata deletes one service metadata (docType set) or all of a participant's (docType zero) as
// by, and renders the group again. It returns how many it deleted.
func (s *Service) DeleteServiceMetadata(ctx context.Context, by Principal, p, docType identifier.ID) (int, error) {
	defer s.locks.lock(p.String())()
	n := 0
	_, err := s.write(ctx, func(tx ReadTx, k *keys) ([]*change, error) {
		c, err := open(tx, p)
		if err != nil {
			return nil, err
		}
		if !c.exists {
			return nil, NotFound("service group " + p.String())
		}
		if !by.may(c.sg.Owner) {
			return nil, notOwner(p)
		}
		var dts []identifier.ID
		if docType.IsZero() {
			for _, m := range c.metas {
				dts = append(dts, m.DocumentType)
			}
		} else if _, found := c.meta(docType); found {
			dts = []identifier.ID{docType}
		} else {
			return nil, NotFound("service metadata " + docType.String() + " of " + p.String())
		}
		for _, d := range dts {
			c.removeMeta(d)
		}
		n = len(dts)
		c.renderGroup = true
		if err := s.finish(c, k); err != nil {
			return nil, err
		}
		return []*change{c}, nil
	})
	return n, err
}

// PutBatch writes service groups and service metadata as System in one transaction, rendering each touched group
// once; a metadata's group must be stored already or be in the batch. Unchanged records are neither re-signed
// nor rewritten. On any error nothing of the batch is written.
func (s *Service) PutBatch(ctx context.Context, groups []ServiceGroup, metas []ServiceMetadata) (ImportStats, error) {
	for i := range groups {
		if err := groups[i].Validate(); err != nil {
			return ImportStats{}, err
		}
		if err := checkGroupExtensions(&groups[i]); err != nil {
			return ImportStats{}, err
		}
	}
	for i := range metas {
		if err := metas[i].Validate(); err != nil {
			return ImportStats{}, err
		}
		if err := checkExtensions(&metas[i]); err != nil {
			return ImportStats{}, err
		}
	}
	var st ImportStats
	_, err := s.write(ctx, func(tx ReadTx, k *keys) ([]*change, error) {
		st = ImportStats{Groups: len(groups), Metadata: len(metas)}
		byP := map[string]*change{}
		var order []*change
		get := func(p identifier.ID) (*change, error) {
			if c := byP[p.String()]; c != nil {
				return c, nil
			}
			c, err := open(tx, p)
			if err != nil {
				return nil, err
			}
			byP[p.String()] = c
			order = append(order, c)
			return c, nil
		}
		for i := range groups {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			c, err := get(groups[i].Participant)
			if err != nil {
				return nil, err
			}
			if c.exists {
				same, err := sameGroup(&c.sg, &groups[i])
				if err != nil {
					return nil, err
				}
				cur := false
				if same {
					if cur, err = s.current(tx, c.p, identifier.ID{}, k.gen); err != nil {
						return nil, err
					}
				}
				if same && cur {
					st.count(false, false)
					continue
				}
			}
			st.count(!c.exists, true)
			c.sg, c.exists, c.putGroup, c.renderGroup = groups[i], true, true, true
		}
		for i := range metas {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			sm := metas[i]
			c, err := get(sm.Participant)
			if err != nil {
				return nil, err
			}
			if !c.exists {
				return nil, NotFound("service group " + sm.Participant.String() + " (of service metadata " + sm.DocumentType.String() + ")")
			}
			created, changed, err := s.planMetadata(tx, c, sm, k)
			if err != nil {
				return nil, err
			}
			st.count(created, changed)
		}
		for _, c := range order {
			if err := s.finish(c, k); err != nil {
				return nil, err
			}
		}
		return order, nil
	})
	return st, err
}
