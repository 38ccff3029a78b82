package smp

import (
	"context"

	"github.com/signpost-project/signpost/identifier"
)

// DocRef names a served document, ready for repeated lookups (the read API keeps one per request path).
type DocRef struct {
	Key DocKey
	key string
}

// Ref returns the reference of a document.
func Ref(k DocKey) DocRef { return DocRef{Key: k, key: cacheKey(k)} }

// Size is the memory a reference holds, for bounding caches of them.
func (r DocRef) Size() int { return 2 * len(r.key) }

// Lookup returns the stored document of flavour f for a participant's service group (docType zero) or one of its
// service metadata. It reads stored bytes only.
func (s *Service) Lookup(ctx context.Context, f Flavour, participant, docType identifier.ID) (*Doc, error) {
	return s.Document(ctx, Ref(DocKey{Flavour: f, Participant: participant, DocType: docType}))
}

// Document returns a stored document: from the cache of hot documents, else from the repository.
func (s *Service) Document(ctx context.Context, r DocRef) (*Doc, error) {
	d, seq := s.cache.get(r.key)
	if d != nil {
		return d, nil
	}
	var raw []byte
	err := s.repo.View(ctx, func(tx ReadTx) error {
		var err error
		raw, err = tx.Document(r.Key)
		return err
	})
	if err != nil {
		return nil, asError("read document", err)
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	d, err = decodeDoc(r.Key.Flavour, raw)
	if err != nil {
		return nil, err
	}
	s.cache.fill(r.key, d, seq)
	return d, nil
}

// GetServiceGroup returns the stored model of a service group.
func (s *Service) GetServiceGroup(ctx context.Context, participant identifier.ID) (ServiceGroup, error) {
	var sg ServiceGroup
	err := s.repo.View(ctx, func(tx ReadTx) error {
		var ok bool
		var err error
		sg, _, ok, err = tx.Group(participant)
		if err == nil && !ok {
			err = NotFound("service group " + participant.String())
		}
		return err
	})
	return sg, asError("read service group", err)
}

// GetServiceMetadata returns the stored model of a service metadata.
func (s *Service) GetServiceMetadata(ctx context.Context, participant, docType identifier.ID) (ServiceMetadata, error) {
	var sm ServiceMetadata
	err := s.repo.View(ctx, func(tx ReadTx) error {
		var ok bool
		var err error
		sm, ok, err = tx.Metadata(participant, docType)
		if err == nil && !ok {
			err = NotFound("service metadata " + docType.String() + " of " + participant.String())
		}
		return err
	})
	return sm, asError("read service metadata", err)
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
	if limit < 1 {
		return nil, "", Invalidf("limit", "%d: list at least 1 service group per page", limit)
	}
	groups = []GroupSummary{}
	err = s.repo.View(ctx, func(tx ReadTx) error {
		page, err := tx.Groups(after, limit+1)
		if err != nil {
			return err
		}
		for i, g := range page {
			if i == limit {
				next = groups[len(groups)-1].Participant
				break
			}
			groups = append(groups, GroupSummary{Participant: g.Group.Participant.String(), Owner: g.Group.Owner, InSML: g.Group.InSML, ServiceMetadata: g.ServiceMetadata})
		}
		return nil
	})
	return groups, next, asError("list service groups", err)
}

// Counts returns how many service groups and service metadata the SMP holds.
func (s *Service) Counts(ctx context.Context) (groups, metadata int, err error) {
	err = s.repo.View(ctx, func(tx ReadTx) error {
		groups, metadata, err = tx.Counts()
		return err
	})
	return groups, metadata, asError("count", err)
}

// exportPage is how many service groups Export reads per read transaction.
const exportPage = 1000

// Export calls fn for every user (owner records, by name; credentials are not exported), then every service
// group, each followed by its service metadata, in participant order (the import format's order). Each page of
// groups is read in its own transaction, so a long export does not hold one open.
func (s *Service) Export(ctx context.Context, fn func(Record) error) error {
	var users []User
	if err := s.repo.View(ctx, func(tx ReadTx) error {
		var err error
		users, err = tx.Users()
		return err
	}); err != nil {
		return asError("list users", err)
	}
	for _, u := range users {
		if err := fn(Record{Owner: &OwnerJSON{Name: u.Name, Admin: u.Admin}}); err != nil {
			return err
		}
	}
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		type entry struct {
			g     ServiceGroup
			metas []ServiceMetadata
		}
		var page []entry
		err := s.repo.View(ctx, func(tx ReadTx) error {
			gs, err := tx.Groups(after, exportPage)
			if err != nil {
				return err
			}
			for _, g := range gs {
				ms, err := tx.MetadataOf(g.Group.Participant)
				if err != nil {
					return err
				}
				page = append(page, entry{g.Group, ms})
			}
			return nil
		})
		if err != nil {
			return asError("export", err)
		}
		for _, e := range page {
			if err := fn(Record{Group: e.g.ToJSON()}); err != nil {
				return err
			}
			for i := range e.metas {
				if err := fn(Record{Metadata: e.metas[i].ToJSON()}); err != nil {
					return err
				}
			}
		}
		if len(page) < exportPage {
			return nil
		}
		after = page[len(page)-1].g.Participant.String()
	}
}
