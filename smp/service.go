package smp

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/beevik/etree"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/xmldsig"
)

// Binding renders the model as one flavour's XML. Package smp/xmlbind implements it; the service calls it when a
// document is written, never when one is read.
type Binding interface {
	RenderGroup(f Flavour, sg *ServiceGroup, refs []Reference, base string) (*etree.Document, error)
	RenderMetadata(f Flavour, sm *ServiceMetadata) (*etree.Document, error)
}

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
	// Binding renders documents (required).
	Binding Binding
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
	// SML: the SMP registers its participants in an SML, so writes record SML intents (smp/registrar delivers
	// them).
	SML bool
	// LoadKey loads a signing key kept in the data directory (see KeyFiles). When the store's active key came
	// from there (a rekey) and Key is one that key replaced, the store's key stays active: a restart with a
	// configuration still naming the older key never switches back. Nil: the configured key always wins.
	LoadKey func(KeyFiles) (crypto.Signer, []*x509.Certificate, error)
	// SharedStore: other nodes share the repository (PostgreSQL). A node that cannot load the store's active key
	// (from a rekey) from its data directory then refuses to start, instead of making its configured older key
	// the next generation for every node.
	SharedStore bool
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

// Service is the SMP: the use cases that render, sign and store documents, and the lookups the read API serves
// from. It is safe for concurrent use.
type Service struct {
	repo     Repository
	bind     Binding
	base     string
	root     Flavour
	flavours []Flavour
	policy   identifier.Policy
	log      *slog.Logger
	now      func() time.Time
	keys     atomic.Pointer[keys]
	cache    *cache
	m        *metrics
	locks    keyedMutex
	resignMu sync.Mutex
	// commitMu orders commits with their cache updates: without it, two writes of the same key could commit in
	// one order and update the cache in the other, leaving the older document cached (and served) for good. It is
	// held for the write transaction only, never while signing.
	commitMu sync.Mutex
	stale    atomic.Bool
	// staleMu orders SyncKey's update of stale with Resign's clearing of it (resigned counts the clearings): a
	// SyncKey that read the store before a Resign finished must not set stale again after it.
	staleMu  sync.Mutex
	resigned uint64
	layout   string
	smlOn    bool
	intents  chan struct{}
	loadKey  func(KeyFiles) (crypto.Signer, []*x509.Certificate, error)
}

// Setting names.
const (
	settingSigning = "signing"
	settingLayout  = "layout"
)

type signingState struct {
	Generation  uint32    `json:"generation"`
	Fingerprint string    `json:"certificate_sha256"`
	Subject     string    `json:"subject"`
	Since       time.Time `json:"since"`
	// Pending is true from a key change until Resign has re-signed every document.
	Pending bool `json:"resign_pending,omitempty"`
	// Files is where the key is kept in the data directory, when a rekey put it there.
	Files *KeyFiles `json:"files,omitempty"`
	// Previous are the certificates this one replaced (SHA-256, oldest first).
	Previous []string `json:"previous_sha256,omitempty"`
}

// New opens the SMP on repo. When the configured key differs from the one the store records, it becomes the next
// key generation and Stale reports true until Resign has re-signed every document (unless it is a key that the
// store's active key replaced and Options.LoadKey loads the active one); when the served layout
// (flavours, public URL) changed, Stale is true as well.
func New(ctx context.Context, repo Repository, o Options) (*Service, error) {
	if o.Flavour != PEPPOL && o.Flavour != OASIS1 {
		return nil, errors.New("smp: the root flavour must be peppol or oasis-bdxr-1")
	}
	if o.Key == nil || len(o.Chain) == 0 {
		return nil, errors.New("smp: a signing key and certificate are required")
	}
	if o.Binding == nil {
		return nil, errors.New("smp: a binding (smp/xmlbind) is required")
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
		repo: repo, bind: o.Binding, base: strings.TrimRight(o.PublicURL, "/"), root: o.Flavour, policy: o.Policy,
		log: o.Log, now: o.Now, cache: newCache(o.CacheEntries), smlOn: o.SML, intents: make(chan struct{}, 1),
		loadKey: o.LoadKey,
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
	err = repo.Update(ctx, func(tx WriteTx) error {
		st, err := readSigning(tx)
		if err != nil {
			return err
		}
		gen = st.Generation
		if st.Pending {
			s.stale.Store(true)
		}
		if st.Fingerprint != fp && st.Files != nil && o.LoadKey != nil && slices.Contains(st.Previous, fp) {
			key, chain, err := o.LoadKey(*st.Files)
			switch {
			case (err != nil || Fingerprint(chain[0]) != st.Fingerprint) && o.SharedStore:
				// On one node the operator's configuration may take the key back; on a shared store that would
				// switch every node back to the older key (and its SML certificate), so this node refuses to start.
				why := "cannot be loaded"
				if err == nil {
					why = "hold another certificate"
				}
				return &Error{Kind: KindInvalid, Field: "signing", Msg: fmt.Sprintf("the store's active signing key "+
					"(generation %d, %s) came from a rekey, and its files %s and %s in this node's data directory %s; "+
					"copy them from the node that ran the rekey (a node on a shared store never switches the other "+
					"nodes back to an older key)", st.Generation, st.Subject, st.Files.Cert, st.Files.Key, why), Err: err}
			case err != nil:
				s.log.Error("the active signing key (from a rekey) cannot be loaded from the data directory; the configured older key becomes the next generation",
					"err", err, "cert", st.Files.Cert, "key", st.Files.Key)
			case Fingerprint(chain[0]) != st.Fingerprint:
				s.log.Error("the key files in the data directory hold another certificate than the store's active key; the configured key becomes the next generation",
					"cert", st.Files.Cert, "key", st.Files.Key)
			default:
				s.log.Warn("signing: in the configuration names a key that a rekey replaced; the store's active key stays: point signing: (and sml.client_tls) at its files",
					"cert", st.Files.Cert, "key", st.Files.Key, "subject", chain[0].Subject.String(), "generation", st.Generation)
				o.Key, o.Chain, fp = key, chain, st.Fingerprint
			}
		}
		if st.Fingerprint != fp {
			gen++
			pending := st.Generation != 0
			if pending {
				s.log.Warn("signing key changed; documents will be re-signed", "generation", gen, "subject", o.Chain[0].Subject.String())
				s.stale.Store(true)
			}
			if err := putSetting(tx, settingSigning, signingState{Generation: gen, Fingerprint: fp, Subject: o.Chain[0].Subject.String(), Since: s.now().UTC(), Pending: pending,
				Previous: remember(st.Previous, st.Fingerprint)}); err != nil {
				return err
			}
		}
		old, err := tx.Setting(settingLayout)
		if err != nil {
			return err
		}
		if old != nil && string(old) != layout {
			s.log.Warn("served flavours or public URL changed; documents will be rendered again", "was", string(old), "now", layout)
			s.stale.Store(true)
		}
		if old == nil {
			// A new store: nothing to re-render.
			return tx.PutSetting(settingLayout, []byte(layout))
		}
		return nil
	})
	if err != nil {
		return nil, Internal("open smp state", err)
	}
	k, err := newKeys(gen, o.Key, o.Chain)
	if err != nil {
		return nil, err
	}
	s.keys.Store(k)
	s.m.generation.Set(float64(gen))
	return s, nil
}

func readSigning(tx ReadTx) (signingState, error) {
	var st signingState
	b, err := tx.Setting(settingSigning)
	if err != nil || b == nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, Internal("decode signing state", err)
	}
	return st, nil
}

func putSetting(tx WriteTx, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return Internal("encode setting", err)
	}
	return tx.PutSetting(name, b)
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

// Serves reports whether the SMP serves flavour f.
func (s *Service) Serves(f Flavour) bool {
	for _, g := range s.flavours {
		if g == f {
			return true
		}
	}
	return false
}

// Policy is the identifier policy.
func (s *Service) Policy() identifier.Policy { return s.policy }

// PublicURL is the base of every href.
func (s *Service) PublicURL() string { return s.base }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Generation is the current signing key generation.
func (s *Service) Generation() uint32 { return s.keys.Load().gen }

// Certificate is the current signing certificate.
func (s *Service) Certificate() *x509.Certificate { return s.keys.Load().smp1.Certificate() }

// Stale reports whether documents signed by an older key, or rendered for another layout, may remain (Resign
// clears it).
func (s *Service) Stale() bool { return s.stale.Load() }

// keyedMutex serialises the writers of one participant within this process, so that two PUTs on one group do not
// both sign only for one of them to retry; writers of different groups never wait for each other. The version
// check in the write transaction is what makes a write correct (across processes too); this only saves work.
type keyedMutex struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	mu   sync.Mutex
	refs int
}

func (k *keyedMutex) lock(key string) func() {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedEntry{}
	}
	e := k.m[key]
	if e == nil {
		e = &keyedEntry{}
		k.m[key] = e
	}
	e.refs++
	k.mu.Unlock()
	e.mu.Lock()
	return func() {
		e.mu.Unlock()
		k.mu.Lock()
		if e.refs--; e.refs == 0 {
			delete(k.m, key)
		}
		k.mu.Unlock()
	}
}
