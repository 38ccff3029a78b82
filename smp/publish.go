package smp

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"sync"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/xmldsig"
)

// How a write works: a use case plans its changes from a snapshot (a read transaction), the documents are
// rendered and signed with no transaction open, and one write transaction then checks that every group it
// touches still has the version it was planned from and commits. When a group changed meanwhile (a concurrent
// writer of the same group: SMP 2.0's ServiceGroup lists every document type, so writes of one group conflict),
// the use case plans, signs and tries again; the client never sees the conflict. Writers of different groups
// never wait for each other's signatures.

// maxAttempts bounds the retries of one use case; a group written this often meanwhile is not a conflict but a
// storm, and the write fails as internal.
const maxAttempts = 32

var errConflict = errors.New("smp: the service group changed meanwhile")

// change is what a use case plans for one service group.
type change struct {
	p       identifier.ID
	version uint64 // read when planning; the commit requires it unchanged
	exists  bool   // the group existed when planning
	sg      ServiceGroup
	metas   []ServiceMetadata // the group's service metadata as the change leaves them, by document type

	putGroup    bool // store sg
	delGroup    bool
	renderGroup bool // render the group's documents from sg and metas at the end of planning
	putMeta     []ServiceMetadata
	delMeta     []identifier.ID
	jobs        []*job
	delDocs     []DocKey
}

// touched reports whether the change writes anything.
func (c *change) touched() bool {
	return c.putGroup || c.delGroup || c.renderGroup || len(c.putMeta) > 0 || len(c.delMeta) > 0 || len(c.jobs) > 0 || len(c.delDocs) > 0
}

// open starts a change of participant p from the snapshot tx.
func open(tx ReadTx, p identifier.ID) (*change, error) {
	sg, v, ok, err := tx.Group(p)
	if err != nil {
		return nil, err
	}
	c := &change{p: p, version: v, exists: ok, sg: sg}
	if ok {
		if c.metas, err = tx.MetadataOf(p); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *change) meta(d identifier.ID) (int, bool) {
	return slices.BinarySearchFunc(c.metas, d.String(), func(m ServiceMetadata, k string) int {
		return cmpString(m.DocumentType.String(), k)
	})
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// setMeta stores sm and renders its documents with k.
func (s *Service) setMeta(c *change, sm ServiceMetadata, k *keys) error {
	i, found := c.meta(sm.DocumentType)
	if found {
		c.metas[i] = sm
	} else {
		c.metas = slices.Insert(c.metas, i, sm)
	}
	c.putMeta = append(c.putMeta, sm)
	c.renderGroup = true
	return s.renderMetadata(c, &c.metas[i], k)
}

// removeMeta deletes a service metadata and its documents in every flavour.
func (c *change) removeMeta(d identifier.ID) {
	if i, found := c.meta(d); found {
		c.metas = slices.Delete(c.metas, i, i+1)
	}
	c.delMeta = append(c.delMeta, d)
	for _, f := range AllFlavours {
		c.delDocs = append(c.delDocs, DocKey{Flavour: f, Participant: c.p, DocType: d})
	}
	c.renderGroup = true
}

// job is one document to serialise (and sign) before the commit.
type job struct {
	k      DocKey
	doc    *etree.Document
	signer *xmldsig.Signer // nil: unsigned
	place  xmldsig.Placement
	gen    uint32
	body   []byte
	err    error
}

func (j *job) run(ctx context.Context) {
	if beforeSign != nil {
		beforeSign(j.k)
	}
	if j.signer == nil {
		j.body, j.err = j.doc.WriteToBytes()
		return
	}
	j.body, j.err = j.signer.SignEnvelopedContext(ctx, j.doc, j.place)
}

func (s *Service) renderGroupDocs(c *change, k *keys) error {
	refs := make([]Reference, len(c.metas))
	for i := range c.metas {
		refs[i] = c.metas[i].Reference()
	}
	for _, f := range s.flavours {
		doc, err := s.bind.RenderGroup(f, &c.sg, refs, s.base)
		if err != nil {
			return err
		}
		j := &job{k: DocKey{Flavour: f, Participant: c.p}, doc: doc}
		if f.SignsGroups() {
			j.signer, j.place, j.gen = k.smp2, xmldsig.LastChild, k.gen
		}
		c.jobs = append(c.jobs, j)
	}
	return nil
}

func (s *Service) renderMetadata(c *change, sm *ServiceMetadata, k *keys) error {
	for _, f := range s.flavours {
		doc, err := s.bind.RenderMetadata(f, sm)
		if err != nil {
			return err
		}
		j := &job{k: DocKey{Flavour: f, Participant: sm.Participant, DocType: sm.DocumentType}, doc: doc, signer: k.smp1, place: xmldsig.SecondChild, gen: k.gen}
		if f == SMP2 {
			j.signer, j.place = k.smp2, xmldsig.LastChild
		}
		c.jobs = append(c.jobs, j)
	}
	return nil
}

// finish renders the group's documents when the change asks for it.
func (s *Service) finish(c *change, k *keys) error {
	if c.renderGroup && !c.delGroup {
		return s.renderGroupDocs(c, k)
	}
	return nil
}

// current reports whether every served document of (p, d) exists, signed by generation gen where signed.
func (s *Service) current(tx ReadTx, p, d identifier.ID, gen uint32) (bool, error) {
	for _, f := range s.flavours {
		b, err := tx.Document(DocKey{Flavour: f, Participant: p, DocType: d})
		if err != nil {
			return false, err
		}
		if len(b) < docHeader {
			return false, nil
		}
		if g := storedGen(b); g != 0 && g != gen {
			return false, nil
		}
	}
	return true, nil
}

// plan computes the changes of one attempt of a use case from a snapshot.
type plan func(tx ReadTx, k *keys) ([]*change, error)

// write runs a use case: plan in a read transaction, sign outside, commit checking versions, again on a conflict.
// It returns the number of changes that wrote something.
func (s *Service) write(ctx context.Context, p plan) (int, error) {
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		k := s.keys.Load()
		var changes []*change
		err := s.repo.View(ctx, func(tx ReadTx) error {
			var err error
			changes, err = p(tx, k)
			return err
		})
		if err != nil {
			return 0, asError("plan", err)
		}
		if err := s.sign(ctx, changes); err != nil {
			return 0, err
		}
		n, _, err := s.commit(ctx, changes, k, false)
		if errors.Is(err, errConflict) {
			s.m.conflicts.Inc()
			if attempt < maxAttempts {
				continue
			}
			return 0, Internal("write", err)
		}
		return n, err
	}
}

// writeEach runs a use case over groups that are independent of each other (a re-sign batch): planOne plans one
// group (nil: nothing to do), each group's change commits when its own version is unchanged, and only the groups
// that changed meanwhile are planned and signed again. It returns the number of changes that wrote something.
func (s *Service) writeEach(ctx context.Context, ps []identifier.ID, planOne func(tx ReadTx, p identifier.ID, k *keys) (*change, error)) (int, error) {
	total := 0
	for attempt := 1; len(ps) > 0; attempt++ {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		k := s.keys.Load()
		var changes []*change
		err := s.repo.View(ctx, func(tx ReadTx) error {
			changes = changes[:0]
			for _, p := range ps {
				c, err := planOne(tx, p, k)
				if err != nil {
					return err
				}
				if c != nil {
					changes = append(changes, c)
				}
			}
			return nil
		})
		if err != nil {
			return total, asError("plan", err)
		}
		if err := s.sign(ctx, changes); err != nil {
			return total, err
		}
		n, conflicted, err := s.commit(ctx, changes, k, true)
		total += n
		if err != nil {
			return total, err
		}
		if len(conflicted) > 0 {
			s.m.conflicts.Inc()
			if attempt >= maxAttempts {
				return total, Internal("write", errConflict)
			}
		}
		ps = conflicted
	}
	return total, nil
}

func asError(what string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return Internal(what, err)
}

// sign serialises and signs every job of the changes on every core, with no transaction open.
func (s *Service) sign(ctx context.Context, changes []*change) error {
	var jobs []*job
	for _, c := range changes {
		jobs = append(jobs, c.jobs...)
	}
	if len(jobs) == 0 {
		return nil
	}
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	if workers <= 1 {
		for _, j := range jobs {
			j.run(ctx)
		}
	} else {
		next := make(chan *job)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					j.run(ctx)
				}
			}()
		}
		for _, j := range jobs {
			next <- j
		}
		close(next)
		wg.Wait()
	}
	var sigs [2]float64
	for _, j := range jobs {
		if j.err != nil {
			if errors.Is(j.err, context.Canceled) || errors.Is(j.err, context.DeadlineExceeded) {
				return j.err
			}
			return Internal("sign "+j.k.Flavour.String()+" document", j.err)
		}
		if j.signer != nil {
			if j.signer.Profile().Name == xmldsig.ProfileSMP2.Name {
				sigs[1]++
			} else {
				sigs[0]++
			}
		}
	}
	s.m.signatures.WithLabelValues("smp1").Add(sigs[0])
	s.m.signatures.WithLabelValues("smp2").Add(sigs[1])
	return nil
}

// commit writes the changes in one transaction when every group still has its planned version. With each, the
// groups are independent: a group whose version changed is left out and returned in conflicted, the others commit.
func (s *Service) commit(ctx context.Context, changes []*change, k *keys, each bool) (n int, conflicted []identifier.ID, err error) {
	touched := 0
	for _, c := range changes {
		if c.touched() {
			touched++
		}
	}
	if touched == 0 {
		return 0, nil, nil
	}
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	if s.keys.Load() != k {
		// The key changed while signing: sign again with the new one.
		if each {
			for _, c := range changes {
				conflicted = append(conflicted, c.p)
			}
			return 0, conflicted, nil
		}
		return 0, nil, errConflict
	}
	var ops []cacheOp
	docs := 0
	now := s.now()
	remote := s.cache.remoteSeq()
	intents := false
	err = s.repo.Update(ctx, func(tx WriteTx) error {
		ops, docs, n, conflicted, intents = ops[:0], 0, 0, conflicted[:0], false
		for _, c := range changes {
			_, v, _, err := tx.Group(c.p)
			if err != nil {
				return err
			}
			if v != c.version {
				if each {
					conflicted = append(conflicted, c.p)
					continue
				}
				return errConflict
			}
			if !c.touched() {
				continue
			}
			n++
			for _, d := range c.delMeta {
				if err := tx.DeleteMetadata(c.p, d); err != nil {
					return err
				}
			}
			for i := range c.putMeta {
				if err := tx.PutMetadata(c.putMeta[i]); err != nil {
					return err
				}
			}
			for _, dk := range c.delDocs {
				if err := tx.DeleteDocument(dk); err != nil {
					return err
				}
				ops = append(ops, cacheOp{key: cacheKey(dk)})
			}
			for _, j := range c.jobs {
				old, err := tx.Document(j.k)
				if err != nil {
					return err
				}
				if len(old) > docHeader && bytes.Equal(old[docHeader:], j.body) && storedGen(old) == j.gen {
					continue // unchanged: keep its ETag and Last-Modified
				}
				d := newDoc(j.k.Flavour, j.body, j.gen, now)
				if err := tx.PutDocument(j.k, d.encode()); err != nil {
					return err
				}
				ops = append(ops, cacheOp{key: cacheKey(j.k), doc: d})
				docs++
			}
			switch {
			case c.delGroup:
				err = tx.DeleteGroup(c.p, v+1)
			case c.putGroup:
				err = tx.PutGroup(c.sg, v+1)
			default:
				err = tx.SetVersion(c.p, v+1)
			}
			if err != nil {
				return err
			}
			if s.smlOn && (c.putGroup || c.delGroup) {
				if err := s.registrationIntent(tx, c, now.UTC()); err != nil {
					return err
				}
				intents = true
			}
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, errConflict) {
			return 0, nil, err
		}
		return 0, nil, asError("store", err)
	}
	if afterCommit != nil {
		afterCommit()
	}
	s.cache.apply(ops, remote)
	s.m.stored.Add(float64(docs))
	if intents {
		s.kickIntents()
	}
	return n, conflicted, nil
}

// afterCommit, when set (tests), runs between a write's commit and its cache update; beforeSign before each
// document is signed.
var (
	afterCommit func()
	beforeSign  func(DocKey)
)
