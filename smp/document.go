package smp

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Doc is one stored response: the bytes served as they are, with the header values computed when it was written.
type Doc struct {
	Flavour Flavour
	Body    []byte
	// ETag is the strong entity tag, quoted: a hash of Body.
	ETag string
	// Modified is when Body was written (Last-Modified, second precision).
	Modified time.Time
	// Generation is the signing key generation that signed Body; 0 for an unsigned document.
	Generation uint32

	hdrETag, hdrModified, hdrType, hdrLength []string
}

const docVersion = 1

// docHeader: version(1) generation(4) modified unix seconds(8) sha256(32).
const docHeader = 1 + 4 + 8 + 32

// HdrETag, HdrModified, HdrType and HdrLength are the document's header values, computed when it was stored; the
// read API sets them as they are (callers must not change them).
func (d *Doc) HdrETag() []string { return d.hdrETag }

// HdrModified is the Last-Modified value.
func (d *Doc) HdrModified() []string { return d.hdrModified }

// HdrType is the Content-Type value.
func (d *Doc) HdrType() []string { return d.hdrType }

// HdrLength is the Content-Length value.
func (d *Doc) HdrLength() []string { return d.hdrLength }

func newDoc(f Flavour, body []byte, gen uint32, modified time.Time) *Doc {
	sum := sha256.Sum256(body)
	return finishDoc(&Doc{Flavour: f, Body: body, Generation: gen, Modified: modified.UTC().Truncate(time.Second)}, sum[:])
}

func finishDoc(d *Doc, sum []byte) *Doc {
	d.ETag = `"` + hex.EncodeToString(sum[:16]) + `"`
	d.hdrETag = []string{d.ETag}
	d.hdrModified = []string{d.Modified.Format(http.TimeFormat)}
	d.hdrType = []string{d.Flavour.ContentType()}
	d.hdrLength = []string{strconv.Itoa(len(d.Body))}
	return d
}

func (d *Doc) encode() []byte {
	b := make([]byte, docHeader, docHeader+len(d.Body))
	b[0] = docVersion
	binary.BigEndian.PutUint32(b[1:5], d.Generation)
	binary.BigEndian.PutUint64(b[5:13], uint64(d.Modified.Unix()))
	sum := sha256.Sum256(d.Body)
	copy(b[13:45], sum[:])
	return append(b, d.Body...)
}

func decodeDoc(f Flavour, b []byte) (*Doc, error) {
	if len(b) < docHeader || b[0] != docVersion {
		return nil, Internal("decode stored document", errBadDoc)
	}
	d := &Doc{
		Flavour:    f,
		Generation: binary.BigEndian.Uint32(b[1:5]),
		Modified:   time.Unix(int64(binary.BigEndian.Uint64(b[5:13])), 0).UTC(),
		Body:       b[docHeader:],
	}
	return finishDoc(d, b[13:45]), nil
}

type docError string

func (e docError) Error() string { return string(e) }

const errBadDoc = docError("stored document has an unknown format")

// storedGen is the key generation of a stored document.
func storedGen(b []byte) uint32 { return binary.BigEndian.Uint32(b[1:5]) }

// cacheKey is a document's key in the cache: flavour byte, participant, NUL, document type ("" for the group).
func cacheKey(k DocKey) string {
	ps, ds := k.Participant.String(), ""
	if !k.DocType.IsZero() {
		ds = k.DocType.String()
	}
	b := make([]byte, 0, 2+len(ps)+len(ds))
	b = append(b, byte(k.Flavour))
	b = append(b, ps...)
	b = append(b, 0)
	b = append(b, ds...)
	return string(b)
}

// cache holds hot documents by key. Readers fill it after a store read unless a write happened meanwhile (seq),
// writers replace or drop the entries they change after their commit. Writes of other nodes on a shared store
// (Follow) evict the documents of the participants they changed, and count in remote: a local write whose commit
// saw one arrive drops its entries instead of replacing them, since the other node's later version may already
// have been read into the cache.
type cache struct {
	mu     sync.RWMutex
	m      map[string]*Doc
	byP    map[string]map[string]struct{} // participant (canonical) -> its keys in m
	max    int
	seq    uint64
	remote uint64
}

func newCache(max int) *cache {
	return &cache{m: make(map[string]*Doc), byP: make(map[string]map[string]struct{}), max: max}
}

func (c *cache) get(key string) (*Doc, uint64) {
	c.mu.RLock()
	d, seq := c.m[key], c.seq
	c.mu.RUnlock()
	return d, seq
}

// keyParticipant is the participant part of a cache key.
func keyParticipant(key string) string {
	if i := strings.IndexByte(key[1:], 0); i >= 0 {
		return key[1 : 1+i]
	}
	return key[1:]
}

// fill inserts a document read from the store when no write happened since seq.
func (c *cache) fill(key string, d *Doc, seq uint64) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seq != seq {
		return
	}
	if _, ok := c.m[key]; !ok && len(c.m) >= c.max {
		for k := range c.m { // evict an arbitrary entry
			c.drop(k)
			break
		}
	}
	c.m[key] = d
	p := keyParticipant(key)
	ks := c.byP[p]
	if ks == nil {
		ks = make(map[string]struct{}, 2)
		c.byP[p] = ks
	}
	ks[key] = struct{}{}
}

// drop deletes one entry; c.mu is held.
func (c *cache) drop(key string) {
	if _, ok := c.m[key]; !ok {
		return
	}
	delete(c.m, key)
	p := keyParticipant(key)
	if ks := c.byP[p]; ks != nil {
		delete(ks, key)
		if len(ks) == 0 {
			delete(c.byP, p)
		}
	}
}

type cacheOp struct {
	key string
	doc *Doc // nil: deleted
}

// remoteSeq is the count of other nodes' changes seen so far: a local commit reads it before it starts.
func (c *cache) remoteSeq() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.remote
}

// apply records committed writes: entries present are replaced, deleted ones dropped. When another node's change
// arrived since remote (remoteSeq before the commit), the entries are dropped instead of replaced.
func (c *cache) apply(ops []cacheOp, remote uint64) {
	if len(ops) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	replace := c.remote == remote
	for _, op := range ops {
		if op.doc == nil || !replace {
			c.drop(op.key)
		} else if _, ok := c.m[op.key]; ok {
			c.m[op.key] = op.doc
		}
	}
}

// evict drops every document of the participants (canonical strings) that another node changed.
func (c *cache) evict(participants []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.remote++
	for _, p := range participants {
		for k := range c.byP[p] {
			delete(c.m, k)
		}
		delete(c.byP, p)
	}
}

func (c *cache) clear() {
	c.mu.Lock()
	c.seq++
	c.remote++
	clear(c.m)
	clear(c.byP)
	c.mu.Unlock()
}

// size is the number of cached documents.
func (c *cache) size() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m)
}
