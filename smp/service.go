package smp

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/xmldsig"
)

// Options configure a Service.
type Options struct {
	// PublicURL is the base URL clients reach this SMP at (hrefs start with it); it may have a path.
	PublicURL string
	// Flavour of the root paths: PEPPOL or OASIS1.
	Flavour Flavour
	// SMP2 also serves OASIS SMP 2.0 under /bdxr-smp-2/.
	SMP2 bool
	// Policy validates identifiers in paths and bodies.
	Policy identifier.Policy
	// Key and Chain (certificate first) sign the documents.
	Key   crypto.Signer
	Chain []*x509.Certificate
	// Log receives the service's log lines. Default: discard.
	Log *slog.Logger
	// Registerer takes the metrics. Default: a private registry.
	Registerer prometheus.Registerer
	// CacheEntries bounds the in-memory cache of hot documents. Default 50000; negative: no cache.
	CacheEntries int
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// keys is one signing key generation.
type keys struct {
	gen         uint32
	fingerprint string
	smp1, smp2  *xmldsig.Signer
}

func newKeys(gen uint32, key crypto.Signer, chain []*x509.Certificate) (*keys, error) {
	s1, err := xmldsig.NewSigner(key, chain, xmldsig.ProfileSMP1)
	if err != nil {
		return nil, err
	}
	s2, err := xmldsig.NewSigner(key, chain, xmldsig.ProfileSMP2)
	if err != nil {
		return nil, err
	}
	return &keys{gen: gen, fingerprint: Fingerprint(chain[0]), smp1: s1, smp2: s2}, nil
}

// Fingerprint is the SHA-256 of a certificate, hex: how the store records which key signs.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// Service is the SMP: the write path that renders, signs and stores documents, and the lookups the read API
// serves from. It is safe for concurrent use.
type Service struct {
	repo     Repository
	base     string
	root     Flavour
	flavours []Flavour
	policy   identifier.Policy
	log      *slog.Logger
	now      func() time.Time
	keys     atomic.Pointer[keys]
	cache    *cache
	m        *metrics
	resignMu sync.Mutex
	// commitMu orders commits with their cache updates: without it, two writes of the same key could commit in
	// one order and update the cache in the other, leaving the older document cached (and served) for good.
	commitMu sync.Mutex
	stale    atomic.Bool
	layout   string
}

// afterCommit, when set (tests), runs between a write's commit and its cache update.
var afterCommit func()

// State keys.
var (
	stateSigning = []byte("signing")
	stateLayout  = []byte("layout")
)

type signingState struct {
	Generation  uint32    `json:"generation"`
	Fingerprint string    `json:"certificate_sha256"`
	Subject     string    `json:"subject"`
	Since       time.Time `json:"since"`
	// Pending is true from a key change until Resign has re-signed every document.
	Pending bool `json:"resign_pending,omitempty"`
}

// New opens the SMP on repo. When the configured key differs from the one the store records, it becomes the next
// key generation and Stale reports true until Resign has re-signed every document; when the served layout
// (flavours, public URL) changed, Stale is true as well.
func New(repo Repository, o Options) (*Service, error) {
	if o.Flavour != PEPPOL && o.Flavour != OASIS1 {
		return nil, errors.New("smp: the root flavour must be peppol or oasis-bdxr-1")
	}
	if o.Key == nil || len(o.Chain) == 0 {
		return nil, errors.New("smp: a signing key and certificate are required")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.CacheEntries == 0 {
		o.CacheEntries = 50000
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	s := &Service{
		repo: repo, base: strings.TrimRight(o.PublicURL, "/"), root: o.Flavour, policy: o.Policy, log: o.Log,
		now: o.Now, cache: newCache(o.CacheEntries),
	}
	s.flavours = []Flavour{o.Flavour}
	if o.SMP2 {
		s.flavours = append(s.flavours, SMP2)
	}
	var err error
	if s.m, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	layout := string(flavourBytes(s.flavours)) + " " + s.base
	s.layout = layout
	fp := Fingerprint(o.Chain[0])
	var gen uint32
	err = repo.Update(func(tx Tx) error {
		var st signingState
		if b := tx.Get(TableState, stateSigning); b != nil {
			if err := json.Unmarshal(b, &st); err != nil {
				return internal("decode signing state", err)
			}
		}
		gen = st.Generation
		if st.Pending {
			s.stale.Store(true)
		}
		if st.Fingerprint != fp {
			gen++
			pending := st.Generation != 0
			if pending {
				s.log.Warn("signing key changed; documents will be re-signed", "generation", gen, "subject", o.Chain[0].Subject.String())
				s.stale.Store(true)
			}
			if err := putState(tx, stateSigning, signingState{Generation: gen, Fingerprint: fp, Subject: o.Chain[0].Subject.String(), Since: s.now().UTC(), Pending: pending}); err != nil {
				return err
			}
		}
		old := tx.Get(TableState, stateLayout)
		if old != nil && string(old) != layout {
			s.log.Warn("served flavours or public URL changed; documents will be rendered again", "was", string(old), "now", layout)
			s.stale.Store(true)
		}
		if old == nil {
			// A new store: nothing to re-render.
			return tx.Put(TableState, stateLayout, []byte(layout))
		}
		return nil
	})
	if err != nil {
		return nil, internal("open smp state", err)
	}
	k, err := newKeys(gen, o.Key, o.Chain)
	if err != nil {
		return nil, err
	}
	s.keys.Store(k)
	s.m.generation.Set(float64(gen))
	return s, nil
}

func putState(tx Tx, key []byte, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return internal("encode state", err)
	}
	return tx.Put(TableState, key, b)
}

func flavourBytes(fs []Flavour) []byte {
	b := make([]byte, len(fs))
	for i, f := range fs {
		b[i] = byte(f)
	}
	return b
}

// Flavours returns the served flavours, root flavour first.
func (s *Service) Flavours() []Flavour { return s.flavours }

// RootFlavour is the flavour of the root paths.
func (s *Service) RootFlavour() Flavour { return s.root }

// Policy is the identifier policy.
func (s *Service) Policy() identifier.Policy { return s.policy }

// PublicURL is the base of every href.
func (s *Service) PublicURL() string { return s.base }

// Generation is the current signing key generation.
func (s *Service) Generation() uint32 { return s.keys.Load().gen }

// Certificate is the current signing certificate.
func (s *Service) Certificate() *x509.Certificate { return s.keys.Load().smp1.Certificate() }

// Stale reports whether documents signed by an older key, or rendered for another layout, may remain (Resign
// clears it).
func (s *Service) Stale() bool { return s.stale.Load() }

// Lookup returns the stored document of flavour f for a participant's service group (docType zero) or one of its
// service metadata. It reads stored bytes only.
func (s *Service) Lookup(f Flavour, participant, docType identifier.ID) (*Doc, error) {
	return s.lookupKey(f, docKey(f, participant, docType))
}

func (s *Service) lookupKey(f Flavour, key string) (*Doc, error) {
	d, seq := s.cache.get(key)
	if d != nil {
		return d, nil
	}
	var raw []byte
	err := s.repo.View(func(tx Tx) error {
		raw = tx.Get(TableDocuments, []byte(key))
		return nil
	})
	if err != nil {
		return nil, internal("read document", err)
	}
	if raw == nil {
		return nil, ErrNotFound
	}
	d, err = decodeDoc(f, raw)
	if err != nil {
		return nil, err
	}
	s.cache.fill(key, d, seq)
	return d, nil
}

// GetServiceGroup returns the stored model of a service group.
func (s *Service) GetServiceGroup(ctx context.Context, participant identifier.ID) (ServiceGroup, error) {
	var sg ServiceGroup
	err := s.repo.View(func(tx Tx) error {
		b := tx.Get(TableGroups, groupKey(participant))
		if b == nil {
			return notFound("service group")
		}
		var err error
		sg, err = decodeStoredGroup(b)
		return err
	})
	return sg, err
}

// GetServiceMetadata returns the stored model of a service metadata.
func (s *Service) GetServiceMetadata(ctx context.Context, participant, docType identifier.ID) (ServiceMetadata, error) {
	var sm ServiceMetadata
	err := s.repo.View(func(tx Tx) error {
		b := tx.Get(TableMetadata, metadataKey(participant, docType))
		if b == nil {
			return notFound("service metadata")
		}
		var err error
		sm, err = decodeStoredMetadata(b)
		return err
	})
	return sm, err
}

// writer collects what one transaction stores, for the cache and the metrics after the commit.
type writer struct {
	s    *Service
	tx   Tx
	k    *keys
	now  time.Time
	ops  []cacheOp
	sigs [2]int // smp1, smp2
	docs int
	jobs []*job
}

// job is one document to serialise (and sign) before it is stored; jobs run in parallel at the end of the
// transaction's function, their results are stored in order.
type job struct {
	f      Flavour
	key    string
	doc    *etree.Document
	signer *xmldsig.Signer // nil: unsigned
	place  xmldsig.Placement
	gen    uint32
	body   []byte
	err    error
}

func (j *job) run() {
	if j.signer == nil {
		j.body, j.err = j.doc.WriteToBytes()
		return
	}
	j.body, j.err = j.signer.SignEnveloped(j.doc, j.place)
}

// flush signs the pending documents on every core and stores them.
func (w *writer) flush() error {
	jobs := w.jobs
	w.jobs = nil
	workers := min(runtime.GOMAXPROCS(0), len(jobs))
	if workers <= 1 {
		for _, j := range jobs {
			j.run()
		}
	} else {
		next := make(chan *job)
		var wg sync.WaitGroup
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := range next {
					j.run()
				}
			}()
		}
		for _, j := range jobs {
			next <- j
		}
		close(next)
		wg.Wait()
	}
	for _, j := range jobs {
		if j.err != nil {
			return internal("sign "+j.f.String()+" document", j.err)
		}
		if j.signer != nil {
			if j.signer.Profile().Name == xmldsig.ProfileSMP2.Name {
				w.sigs[1]++
			} else {
				w.sigs[0]++
			}
		}
		if err := w.put(j.f, j.key, j.body, j.gen); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) update(fn func(w *writer) error) error {
	// The store runs one write transaction at a time anyway; holding the lock until the cache is updated costs
	// nothing more.
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	var w *writer
	err := s.repo.Update(func(tx Tx) error {
		w = &writer{s: s, tx: tx, k: s.keys.Load(), now: s.now()}
		if err := fn(w); err != nil {
			return err
		}
		return w.flush()
	})
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			err = internal("store", err)
		}
		return err
	}
	if afterCommit != nil {
		afterCommit()
	}
	s.cache.apply(w.ops)
	s.m.signatures.WithLabelValues("smp1").Add(float64(w.sigs[0]))
	s.m.signatures.WithLabelValues("smp2").Add(float64(w.sigs[1]))
	s.m.stored.Add(float64(w.docs))
	return nil
}

func (w *writer) put(f Flavour, key string, body []byte, gen uint32) error {
	if old := w.tx.Get(TableDocuments, []byte(key)); len(old) > docHeader {
		if bytes.Equal(old[docHeader:], body) && oldGen(old) == gen {
			return nil // unchanged: keep its ETag and Last-Modified
		}
	}
	d := newDoc(f, body, gen, w.now)
	if err := w.tx.Put(TableDocuments, []byte(key), d.encode()); err != nil {
		return err
	}
	w.ops = append(w.ops, cacheOp{key: key, doc: d})
	w.docs++
	return nil
}

func oldGen(b []byte) uint32 {
	return uint32(b[1])<<24 | uint32(b[2])<<16 | uint32(b[3])<<8 | uint32(b[4])
}

func (w *writer) del(key string) error {
	if err := w.tx.Delete(TableDocuments, []byte(key)); err != nil {
		return err
	}
	w.ops = append(w.ops, cacheOp{key: key})
	return nil
}

// refs lists the references of a participant's service group, in document type order.
func (w *writer) refs(p identifier.ID) ([]Reference, error) {
	var out []Reference
	err := w.tx.Scan(TableMetadata, append(groupKey(p), 0), nil, func(_, v []byte) error {
		sm, err := decodeStoredMetadata(v)
		if err != nil {
			return err
		}
		out = append(out, sm.Reference())
		return nil
	})
	return out, err
}

func (w *writer) renderGroup(sg *ServiceGroup) error {
	refs, err := w.refs(sg.Participant)
	if err != nil {
		return err
	}
	for _, f := range w.s.flavours {
		doc, err := RenderGroup(f, sg, refs, w.s.base)
		if err != nil {
			return err
		}
		j := &job{f: f, key: docKey(f, sg.Participant, identifier.ID{}), doc: doc}
		if f.SignsGroups() {
			j.signer, j.place, j.gen = w.k.smp2, xmldsig.LastChild, w.k.gen
		}
		w.jobs = append(w.jobs, j)
	}
	return nil
}

func (w *writer) renderMetadata(sm *ServiceMetadata) error {
	for _, f := range w.s.flavours {
		doc, err := RenderMetadata(f, sm)
		if err != nil {
			return err
		}
		j := &job{f: f, key: docKey(f, sm.Participant, sm.DocumentType), doc: doc, signer: w.k.smp1, place: xmldsig.SecondChild, gen: w.k.gen}
		if f == SMP2 {
			j.signer, j.place = w.k.smp2, xmldsig.LastChild
		}
		w.jobs = append(w.jobs, j)
	}
	return nil
}

// current reports whether every served document of key suffix exists, signed by the current generation where
// signed.
func (w *writer) current(p, d identifier.ID) bool {
	for _, f := range w.s.flavours {
		b := w.tx.Get(TableDocuments, []byte(docKey(f, p, d)))
		if len(b) < docHeader {
			return false
		}
		if g := oldGen(b); g != 0 && g != w.k.gen {
			return false
		}
	}
	return true
}

// PutServiceGroup creates or replaces a service group and stores its rendered documents, in one transaction.
// An unchanged group is not rewritten. created reports a new group.
func (s *Service) PutServiceGroup(ctx context.Context, sg ServiceGroup) (created bool, err error) {
	created, _, err = s.putServiceGroup(sg)
	return created, err
}

func (s *Service) putServiceGroup(sg ServiceGroup) (created, changed bool, err error) {
	if err := sg.Validate(); err != nil {
		return false, false, err
	}
	for _, x := range sg.Extensions {
		if _, err := ParseExtension(x); err != nil {
			return false, false, err
		}
	}
	rec, err := encodeGroup(&sg)
	if err != nil {
		return false, false, internal("encode service group", err)
	}
	err = s.update(func(w *writer) error {
		old := w.tx.Get(TableGroups, groupKey(sg.Participant))
		created, changed = old == nil, false
		if bytes.Equal(old, rec) && w.current(sg.Participant, identifier.ID{}) {
			return nil
		}
		changed = true
		if err := w.tx.Put(TableGroups, groupKey(sg.Participant), rec); err != nil {
			return err
		}
		return w.renderGroup(&sg)
	})
	return created, changed, err
}

// PutServiceMetadata creates or replaces a service metadata of an existing service group, signs and stores its
// documents and renders the group again, in one transaction. An unchanged metadata is not re-signed.
func (s *Service) PutServiceMetadata(ctx context.Context, sm ServiceMetadata) (created bool, err error) {
	created, _, err = s.putServiceMetadata(sm)
	return created, err
}

func (s *Service) putServiceMetadata(sm ServiceMetadata) (created, changed bool, err error) {
	if err := sm.Validate(); err != nil {
		return false, false, err
	}
	if err := checkExtensions(&sm); err != nil {
		return false, false, err
	}
	rec, err := encodeMetadata(&sm)
	if err != nil {
		return false, false, internal("encode service metadata", err)
	}
	err = s.update(func(w *writer) error {
		gb := w.tx.Get(TableGroups, groupKey(sm.Participant))
		if gb == nil {
			return notFound("service group " + sm.Participant.String())
		}
		key := metadataKey(sm.Participant, sm.DocumentType)
		old := w.tx.Get(TableMetadata, key)
		created, changed = old == nil, false
		if bytes.Equal(old, rec) && w.current(sm.Participant, sm.DocumentType) {
			return nil
		}
		changed = true
		if err := w.tx.Put(TableMetadata, key, rec); err != nil {
			return err
		}
		if err := w.renderMetadata(&sm); err != nil {
			return err
		}
		sg, err := decodeStoredGroup(gb)
		if err != nil {
			return err
		}
		return w.renderGroup(&sg)
	})
	return created, changed, err
}

// DeleteServiceGroup deletes a service group, all its service metadata and their documents.
func (s *Service) DeleteServiceGroup(ctx context.Context, participant identifier.ID) error {
	return s.update(func(w *writer) error {
		if w.tx.Get(TableGroups, groupKey(participant)) == nil {
			return notFound("service group " + participant.String())
		}
		var docTypes []identifier.ID
		err := w.tx.Scan(TableMetadata, append(groupKey(participant), 0), nil, func(_, v []byte) error {
			sm, err := decodeStoredMetadata(v)
			docTypes = append(docTypes, sm.DocumentType)
			return err
		})
		if err != nil {
			return err
		}
		for _, d := range docTypes {
			if err := w.tx.Delete(TableMetadata, metadataKey(participant, d)); err != nil {
				return err
			}
			for _, f := range allFlavours {
				if err := w.del(docKey(f, participant, d)); err != nil {
					return err
				}
			}
		}
		for _, f := range allFlavours {
			if err := w.del(docKey(f, participant, identifier.ID{})); err != nil {
				return err
			}
		}
		return w.tx.Delete(TableGroups, groupKey(participant))
	})
}

var allFlavours = []Flavour{PEPPOL, OASIS1, SMP2}

// DeleteServiceMetadata deletes one service metadata and its documents and renders the group again.
func (s *Service) DeleteServiceMetadata(ctx context.Context, participant, docType identifier.ID) error {
	return s.update(func(w *writer) error {
		key := metadataKey(participant, docType)
		if w.tx.Get(TableMetadata, key) == nil {
			return notFound("service metadata " + docType.String() + " of " + participant.String())
		}
		if err := w.tx.Delete(TableMetadata, key); err != nil {
			return err
		}
		for _, f := range allFlavours {
			if err := w.del(docKey(f, participant, docType)); err != nil {
				return err
			}
		}
		gb := w.tx.Get(TableGroups, groupKey(participant))
		if gb == nil {
			return nil
		}
		sg, err := decodeStoredGroup(gb)
		if err != nil {
			return err
		}
		return w.renderGroup(&sg)
	})
}

// Rekey switches to a new signing key (the next generation, recorded in the store) at once, so every write from
// now on is signed with it, then re-signs every stored document in batches (see Resign). Each document is
// replaced atomically; until its turn comes a reader gets it signed by the old key.
func (s *Service) Rekey(ctx context.Context, key crypto.Signer, chain []*x509.Certificate, progress func(done int)) (int, error) {
	if len(chain) == 0 {
		return 0, errors.New("smp: rekey needs the new certificate")
	}
	cur := s.keys.Load()
	var next *keys
	err := s.repo.Update(func(tx Tx) error {
		var err error
		if next, err = newKeys(cur.gen+1, key, chain); err != nil {
			return err
		}
		return putState(tx, stateSigning, signingState{Generation: next.gen, Fingerprint: next.fingerprint, Subject: chain[0].Subject.String(), Since: s.now().UTC(), Pending: true})
	})
	if err != nil {
		return 0, err
	}
	s.keys.Store(next)
	s.m.generation.Set(float64(next.gen))
	s.stale.Store(true)
	s.log.Info("signing key switched", "generation", next.gen, "subject", chain[0].Subject.String())
	return s.Resign(ctx, progress)
}

// ResignBatch is how many service groups Resign handles per transaction.
const ResignBatch = 200

// Resign renders and signs again every document not signed by the current key generation or not rendered for
// the current layout (flavours, public URL), ResignBatch service groups (with their metadata) per transaction,
// and drops documents of flavours no longer served. It returns how many service groups it rewrote. Only one
// Resign runs at a time.
func (s *Service) Resign(ctx context.Context, progress func(done int)) (int, error) {
	s.resignMu.Lock()
	defer s.resignMu.Unlock()
	startGen := s.keys.Load().gen
	var layoutChanged bool
	if err := s.repo.View(func(tx Tx) error {
		layoutChanged = string(tx.Get(TableState, stateLayout)) != s.layout
		return nil
	}); err != nil {
		return 0, internal("read layout", err)
	}
	var start []byte
	done, rewrote := 0, 0
	for {
		if err := ctx.Err(); err != nil {
			return rewrote, err
		}
		var batch [][]byte
		if err := s.repo.View(func(tx Tx) error {
			return tx.Scan(TableGroups, nil, start, func(k, _ []byte) error {
				if start != nil && bytes.Equal(k, start) {
					return nil
				}
				batch = append(batch, bytes.Clone(k))
				if len(batch) == ResignBatch {
					return ErrStop
				}
				return nil
			})
		}); err != nil {
			return rewrote, internal("scan service groups", err)
		}
		if len(batch) == 0 {
			break
		}
		start = batch[len(batch)-1]
		n := 0
		err := s.update(func(w *writer) error {
			n = 0
			for _, pk := range batch {
				changed, err := w.resignGroup(pk, layoutChanged)
				if err != nil {
					return err
				}
				if changed {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return rewrote, err
		}
		rewrote += n
		done += len(batch)
		s.m.resigned.Add(float64(n))
		if progress != nil {
			progress(done)
		}
	}
	if s.keys.Load().gen != startGen {
		// The key changed meanwhile: documents of this pass may carry the older key; the Rekey that changed it
		// runs another pass.
		return rewrote, nil
	}
	gen := startGen
	err := s.repo.Update(func(tx Tx) error {
		var st signingState
		if b := tx.Get(TableState, stateSigning); b != nil {
			if err := json.Unmarshal(b, &st); err != nil {
				return internal("decode signing state", err)
			}
		}
		if st.Pending && st.Generation == gen {
			st.Pending = false
			if err := putState(tx, stateSigning, st); err != nil {
				return err
			}
		}
		return tx.Put(TableState, stateLayout, []byte(s.layout))
	})
	if err != nil {
		return rewrote, internal("store state", err)
	}
	s.stale.Store(false)
	if layoutChanged {
		s.cache.clear()
	}
	return rewrote, nil
}

// resignGroup re-renders one group's documents where needed.
func (w *writer) resignGroup(pk []byte, force bool) (bool, error) {
	gb := w.tx.Get(TableGroups, pk)
	if gb == nil {
		return false, nil // deleted meanwhile
	}
	sg, err := decodeStoredGroup(gb)
	if err != nil {
		return false, err
	}
	var metas []ServiceMetadata
	err = w.tx.Scan(TableMetadata, append(bytes.Clone(pk), 0), nil, func(_, v []byte) error {
		sm, err := decodeStoredMetadata(v)
		metas = append(metas, sm)
		return err
	})
	if err != nil {
		return false, err
	}
	changed := false
	if force {
		for _, f := range allFlavours {
			if !w.s.serves(f) {
				if err := w.del(docKey(f, sg.Participant, identifier.ID{})); err != nil {
					return false, err
				}
				for i := range metas {
					if err := w.del(docKey(f, sg.Participant, metas[i].DocumentType)); err != nil {
						return false, err
					}
				}
			}
		}
	}
	if force || !w.current(sg.Participant, identifier.ID{}) {
		if err := w.renderGroup(&sg); err != nil {
			return false, err
		}
		changed = true
	}
	for i := range metas {
		if force || !w.current(sg.Participant, metas[i].DocumentType) {
			if err := w.renderMetadata(&metas[i]); err != nil {
				return false, err
			}
			changed = true
		}
	}
	return changed, nil
}

func (s *Service) serves(f Flavour) bool {
	for _, g := range s.flavours {
		if g == f {
			return true
		}
	}
	return false
}

// Counts returns how many service groups and service metadata the SMP holds.
func (s *Service) Counts() (groups, metadata int, err error) {
	err = s.repo.View(func(tx Tx) error {
		_ = tx.Scan(TableGroups, nil, nil, func(_, _ []byte) error { groups++; return nil })
		return tx.Scan(TableMetadata, nil, nil, func(_, _ []byte) error { metadata++; return nil })
	})
	return groups, metadata, err
}

// Export calls fn for every user (owner records, by name; credentials are not exported), then every service
// group, each followed by its service metadata, in key order (the import format's order).
func (s *Service) Export(ctx context.Context, fn func(Record) error) error {
	return s.repo.View(func(tx Tx) error {
		if err := tx.Scan(TableUsers, nil, nil, func(_, v []byte) error {
			var u User
			if err := json.Unmarshal(v, &u); err != nil {
				return internal("decode stored user", err)
			}
			return fn(Record{Owner: &OwnerJSON{Name: u.Name, Admin: u.Admin}})
		}); err != nil {
			return err
		}
		return tx.Scan(TableGroups, nil, nil, func(k, v []byte) error {
			var g GroupJSON
			if err := json.Unmarshal(v, &g); err != nil {
				return internal("decode stored service group", err)
			}
			if err := fn(Record{Group: &g}); err != nil {
				return err
			}
			return tx.Scan(TableMetadata, append(bytes.Clone(k), 0), nil, func(_, mv []byte) error {
				var m MetadataJSON
				if err := json.Unmarshal(mv, &m); err != nil {
					return internal("decode stored service metadata", err)
				}
				return fn(Record{Metadata: &m})
			})
		})
	})
}

// PutBatch writes service groups and service metadata in one transaction, rendering each touched group once;
// a metadata's group must be stored already or be in the batch. Unchanged records are neither re-signed nor
// rewritten. On any error nothing of the batch is written.
func (s *Service) PutBatch(ctx context.Context, groups []ServiceGroup, metas []ServiceMetadata) (ImportStats, error) {
	var st ImportStats
	grecs := make([][]byte, len(groups))
	for i := range groups {
		if err := groups[i].Validate(); err != nil {
			return st, err
		}
		for _, x := range groups[i].Extensions {
			if _, err := ParseExtension(x); err != nil {
				return st, err
			}
		}
		var err error
		if grecs[i], err = encodeGroup(&groups[i]); err != nil {
			return st, internal("encode service group", err)
		}
	}
	mrecs := make([][]byte, len(metas))
	for i := range metas {
		if err := metas[i].Validate(); err != nil {
			return st, err
		}
		if err := checkExtensions(&metas[i]); err != nil {
			return st, err
		}
		var err error
		if mrecs[i], err = encodeMetadata(&metas[i]); err != nil {
			return st, internal("encode service metadata", err)
		}
	}
	err := s.update(func(w *writer) error {
		st = ImportStats{Groups: len(groups), Metadata: len(metas)}
		touched := map[string]bool{}
		var order []string
		touch := func(k string) {
			if !touched[k] {
				touched[k] = true
				order = append(order, k)
			}
		}
		for i := range groups {
			k := groupKey(groups[i].Participant)
			old := w.tx.Get(TableGroups, k)
			if bytes.Equal(old, grecs[i]) && w.current(groups[i].Participant, identifier.ID{}) {
				st.count(false, false)
				continue
			}
			st.count(old == nil, true)
			if err := w.tx.Put(TableGroups, k, grecs[i]); err != nil {
				return err
			}
			touch(string(k))
		}
		for i := range metas {
			sm := &metas[i]
			gk := groupKey(sm.Participant)
			if w.tx.Get(TableGroups, gk) == nil {
				return notFound("service group " + sm.Participant.String() + " (of service metadata " + sm.DocumentType.String() + ")")
			}
			k := metadataKey(sm.Participant, sm.DocumentType)
			old := w.tx.Get(TableMetadata, k)
			if bytes.Equal(old, mrecs[i]) && w.current(sm.Participant, sm.DocumentType) {
				st.count(false, false)
				continue
			}
			st.count(old == nil, true)
			if err := w.tx.Put(TableMetadata, k, mrecs[i]); err != nil {
				return err
			}
			if err := w.renderMetadata(sm); err != nil {
				return err
			}
			touch(string(gk))
		}
		for _, k := range order {
			if err := ctx.Err(); err != nil {
				return err
			}
			sg, err := decodeStoredGroup(w.tx.Get(TableGroups, []byte(k)))
			if err != nil {
				return err
			}
			if err := w.renderGroup(&sg); err != nil {
				return err
			}
		}
		return nil
	})
	return st, err
}
