package dnsserver

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/miekg/dns"

	"github.com/signpost-project/signpost/sml/zone"
)

// The compact participant index (issue 14). A participant's records are fully determined by its owner name's
// hash label, the rest of the name (scheme and zone), and its record's data, which is the same for every
// participant of an SMP (and service). So an owner name whose first label is a hash (52 base32 characters of a
// SHA-256, or "b-" and the 32 hex digits of an MD5) and that holds exactly one NAPTR or CNAME record is kept as:
//
//   - its hash in binary (32 or 16 bytes), in an open-addressing table of the set of names sharing its suffix
//     (pset): flat arrays of pointer-free slots that the garbage collector does not scan;
//   - a small integer reference to a template: the record's type, TTL and data, shared by every name that
//     has the same record.
//
// Answers for such names are packed once per template, suffix, hash kind and query type (the bytes after the
// question do not depend on the hash, only on the lengths before it) and copied into the reply buffer.
// Every other name (apex, SMP hosts, glue, wildcards, names with several records) stays a node in the map.
// A name is in one of the two, never both.

const (
	sha256LabelLen = 52 // base32 (RFC 4648, lower case, unpadded) of 32 bytes
	md5LabelLen    = 34 // "b-" and 32 lower-case hex digits
)

// Hash kinds of a compact name.
const (
	kindSHA256 = iota
	kindMD5
)

// b32dec maps a lower-case base32 character to its value; 0xff for any other byte.
var b32dec = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "abcdefghijklmnopqrstuvwxyz234567" {
		t[c] = byte(i)
	}
	return t
}()

// hexdec maps a lower-case hex digit to its value; 0xff for any other byte.
var hexdec = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

// splitCompact parses the first label of a lower-case FQDN (presentation form) as a hash label. It returns the
// kind, the hash (the first 16 bytes for MD5) and the rest of the name after the label's dot. Only canonical
// encodings are taken (the base32 padding bits zero), so that one hash has one name.
func splitCompact[S string | []byte](name S) (kind int, key [32]byte, rest S, ok bool) {
	switch {
	case len(name) > sha256LabelLen && name[sha256LabelLen] == '.':
		l := name[:sha256LabelLen]
		var bad byte
		// Six groups of 8 characters (40 bits, 5 bytes each), then 4 characters: 16 bits and 4 zero bits.
		for g := range 6 {
			var v uint64
			for _, c := range []byte{l[g*8], l[g*8+1], l[g*8+2], l[g*8+3], l[g*8+4], l[g*8+5], l[g*8+6], l[g*8+7]} {
				d := b32dec[c]
				bad |= d
				v = v<<5 | uint64(d&31)
			}
			key[g*5], key[g*5+1], key[g*5+2], key[g*5+3], key[g*5+4] = byte(v>>32), byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
		}
		d0, d1, d2, d3 := b32dec[l[48]], b32dec[l[49]], b32dec[l[50]], b32dec[l[51]]
		bad |= d0 | d1 | d2 | d3
		v := uint32(d0&31)<<15 | uint32(d1&31)<<10 | uint32(d2&31)<<5 | uint32(d3&31)
		if bad&0xe0 != 0 || v&15 != 0 {
			return 0, key, rest, false
		}
		key[30], key[31] = byte(v>>12), byte(v>>4)
		return kindSHA256, key, name[sha256LabelLen+1:], true
	case len(name) > md5LabelLen && name[md5LabelLen] == '.' && name[0] == 'b' && name[1] == '-':
		var bad byte
		for i := range 16 {
			h, l := hexdec[name[2+2*i]], hexdec[name[3+2*i]]
			bad |= h | l
			key[i] = h<<4 | l&15
		}
		if bad&0xf0 != 0 {
			return 0, key, rest, false
		}
		return kindMD5, key, name[md5LabelLen+1:], true
	}
	return 0, key, rest, false
}

// hashLabel appends the label of a compact name (presentation form, lower case).
func hashLabel(b []byte, kind int, key *[32]byte) []byte {
	if kind == kindMD5 {
		const hx = "0123456789abcdef"
		b = append(b, 'b', '-')
		for _, c := range key[:16] {
			b = append(b, hx[c>>4], hx[c&15])
		}
		return b
	}
	const b32 = "abcdefghijklmnopqrstuvwxyz234567"
	var acc uint64
	nb := 0
	for _, c := range key {
		acc = acc<<8 | uint64(c)
		nb += 8
		for nb >= 5 {
			nb -= 5
			b = append(b, b32[(acc>>nb)&31])
		}
	}
	return append(b, b32[(acc<<(5-nb))&31])
}

// pslot is one slot of a ptable: ref 0 means empty, else the template's index plus one.
type pslot[K [16]byte | [32]byte] struct {
	key K
	ref uint32
}

// ptable is an open-addressing hash table with linear probing and backward-shift deletion (no tombstones).
// The keys are cryptographic hashes, so their first bytes are the hash; the home slot is that times the
// capacity, high word (any capacity, no power of two needed).
type ptable[K [16]byte | [32]byte] struct {
	slots []pslot[K]
	n     int
}

func (t *ptable[K]) home(kp *K) int {
	k := *kp
	h := uint64(k[0]) | uint64(k[1])<<8 | uint64(k[2])<<16 | uint64(k[3])<<24 |
		uint64(k[4])<<32 | uint64(k[5])<<40 | uint64(k[6])<<48 | uint64(k[7])<<56
	hi, _ := bits.Mul64(h, uint64(len(t.slots)))
	return int(hi)
}

// find returns the slot of k, or -1.
func (t *ptable[K]) find(k *K) int {
	if t.n == 0 {
		return -1
	}
	for i := t.home(k); ; {
		s := &t.slots[i]
		if s.ref == 0 {
			return -1
		}
		if s.key == *k {
			return i
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

func (t *ptable[K]) get(k *K) uint32 {
	if i := t.find(k); i >= 0 {
		return t.slots[i].ref
	}
	return 0
}

// put sets k's reference and returns the one it replaced (0: k is new).
func (t *ptable[K]) put(k *K, ref uint32) uint32 {
	if (t.n+1)*10 > len(t.slots)*8 { // load above 0.8: grow to 0.55
		t.resize((t.n+1)*20/11 + 16)
	}
	for i := t.home(k); ; {
		s := &t.slots[i]
		if s.ref == 0 {
			s.key, s.ref = *k, ref
			t.n++
			return 0
		}
		if s.key == *k {
			old := s.ref
			s.ref = ref
			return old
		}
		if i++; i == len(t.slots) {
			i = 0
		}
	}
}

// del removes k and returns its reference (0: not there).
func (t *ptable[K]) del(k *K) uint32 {
	i := t.find(k)
	if i < 0 {
		return 0
	}
	old := t.slots[i].ref
	c := len(t.slots)
	for j := i; ; {
		if j++; j == c {
			j = 0
		}
		if t.slots[j].ref == 0 {
			break
		}
		h := t.home(&t.slots[j].key)
		// Move slot j back to the hole at i unless its home lies cyclically in (i, j].
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			t.slots[i] = t.slots[j]
			i = j
		}
	}
	t.slots[i] = pslot[K]{}
	t.n--
	return old
}

// fit resizes the table to a load of 0.7 (after a load, whose growth leaves it between 0.55 and 0.8).
func (t *ptable[K]) fit() {
	if want := t.n*10/7 + 16; want < len(t.slots) {
		t.resize(want)
	}
}

func (t *ptable[K]) resize(size int) {
	old := t.slots
	t.slots = make([]pslot[K], size)
	t.n = 0
	for i := range old {
		if old[i].ref != 0 {
			t.put(&old[i].key, old[i].ref)
		}
	}
}

// pset is the compact names of one suffix (the rest of the name after the hash label).
type pset struct {
	suffix string // lower-case FQDN, e.g. "iso6523-actorid-upis.sml.test."
	sha    ptable[[32]byte]
	md5    ptable[[16]byte]
}

func (p *pset) count() int { return p.sha.n + p.md5.n }

func (p *pset) get(kind int, key *[32]byte) uint32 {
	if kind == kindMD5 {
		return p.md5.get((*[16]byte)(key[:16]))
	}
	return p.sha.get(key)
}

func (p *pset) put(kind int, key *[32]byte, ref uint32) uint32 {
	if kind == kindMD5 {
		return p.md5.put((*[16]byte)(key[:16]), ref)
	}
	return p.sha.put(key, ref)
}

func (p *pset) del(kind int, key *[32]byte) uint32 {
	if kind == kindMD5 {
		return p.md5.del((*[16]byte)(key[:16]))
	}
	return p.sha.del(key)
}

// tmpl is a record shared by compact names: its type, TTL and data, and the answers packed for it.
type tmpl struct {
	key  string // ttl, type and data (tmplKey), the interning key
	rr   dns.RR // the record, with the root as owner (copied with the real owner when needed)
	t    uint16
	refs int
	// cache holds answers in compact canonical form, by pset, kind and query type (see tcached).
	cache atomic.Pointer[[]tcached]
}

// tcached is an answer of a template for every name of one pset and kind: the bytes after the question depend
// only on the lengths of the names before them, which are the same for those names. gen 0 means it does not
// depend on the zone's generation.
type tcached struct {
	set   uint16
	kind  uint8
	qtype uint16
	gen   uint64
	msg   []byte
}

const maxCachedPerTmpl = 64

func (t *tmpl) lookup(set uint16, kind int, qtype uint16, gen uint64) []byte {
	p := t.cache.Load()
	if p == nil {
		return nil
	}
	for i := range *p {
		c := &(*p)[i]
		if c.set == set && c.kind == uint8(kind) && c.qtype == qtype && (c.gen == 0 || c.gen == gen) {
			return c.msg
		}
	}
	return nil
}

func (t *tmpl) store(c tcached) {
	for {
		old := t.cache.Load()
		var next []tcached
		if old != nil && len(*old) < maxCachedPerTmpl {
			next = make([]tcached, 0, len(*old)+1)
			for _, o := range *old {
				if o.set != c.set || o.kind != c.kind || o.qtype != c.qtype {
					next = append(next, o)
				}
			}
		}
		next = append(next, c)
		if t.cache.CompareAndSwap(old, &next) {
			return
		}
	}
}

// tmplKey appends the interning key of a NAPTR or CNAME record (TTL, type, data) to b; ok is false for other
// types or records without data.
func tmplKey(b []byte, r *zone.Record) ([]byte, bool) {
	b = binary.BigEndian.AppendUint32(b, r.TTL)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Type))
	switch r.Type {
	case zone.TypeNAPTR:
		n := r.NAPTR
		if n == nil {
			return b, false
		}
		b = binary.BigEndian.AppendUint16(b, n.Order)
		b = binary.BigEndian.AppendUint16(b, n.Preference)
		for _, s := range [...]string{n.Flags, n.Service, n.Regexp} {
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
		repl := n.Replacement
		if repl == "" {
			repl = "."
		}
		return appendLowerFqdn(b, repl), true
	case zone.TypeCNAME:
		if r.Target == "" {
			return b, false
		}
		return appendLowerFqdn(b, r.Target), true
	}
	return b, false
}

func appendLowerFqdn(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	if len(s) == 0 || s[len(s)-1] != '.' {
		b = append(b, '.')
	}
	return b
}

// hasHashLabel reports whether any label of name (lower-case presentation form) could be a compact name's hash
// label. Answers whose other names hold one are not shared between the names of a template (see tmplCacheable).
func hasHashLabel[S string | []byte](name S) bool {
	for i := 0; i < len(name); {
		if _, _, _, ok := splitCompact(name[i:]); ok {
			return true
		}
		for i < len(name) && name[i] != '.' {
			if name[i] == '\\' {
				i++
			}
			i++
		}
		i++
	}
	return false
}

// compactOf returns the pset index, kind, key and template of name when it is a compact name of z.
func (z *zoneIdx) compactOf(name string) (set int, kind int, key [32]byte, t *tmpl) {
	kind, key, rest, ok := splitCompact(name)
	if !ok {
		return -1, 0, key, nil
	}
	for i, p := range z.psets {
		if p.suffix == rest {
			if ref := p.get(kind, &key); ref != 0 {
				return i, kind, key, z.tmpls[ref-1]
			}
			return -1, 0, key, nil
		}
	}
	return -1, 0, key, nil
}

// compactBytes is compactOf for a name in a byte slice, without allocation.
func (z *zoneIdx) compactBytes(name []byte) (set int, kind int, t *tmpl) {
	kind, key, rest, ok := splitCompact(name)
	if !ok {
		return -1, 0, nil
	}
	for i, p := range z.psets {
		if p.suffix == string(rest) {
			if ref := p.get(kind, &key); ref != 0 {
				return i, kind, z.tmpls[ref-1]
			}
			return -1, 0, nil
		}
	}
	return -1, 0, nil
}

// compactNode returns a node holding the record of the compact name name (a new one, not in the index), or nil.
func (z *zoneIdx) compactNode(name string) *node {
	_, _, _, t := z.compactOf(name)
	if t == nil {
		return nil
	}
	rr := dns.Copy(t.rr)
	rr.Header().Name = name
	return &node{sets: []rrset{{t: t.t, rrs: []dns.RR{rr}}}}
}

// ent reports whether name (lower case, inside the zone, not the apex) has names below it, counting
// the general nodes and the suffixes of the psets that hold names.
func (z *zoneIdx) ent(name string) bool {
	if z.below[name] > 0 {
		return true
	}
	return z.psetBelow(name)
}

// psetBelow reports whether name is the suffix of a pset that holds names, or an ancestor of one.
func (z *zoneIdx) psetBelow(name string) bool {
	if name == z.name {
		return false
	}
	for _, p := range z.psets {
		if p.count() > 0 && strings.HasSuffix(p.suffix, name) &&
			(len(p.suffix) == len(name) || p.suffix[len(p.suffix)-len(name)-1] == '.') {
			return true
		}
	}
	return false
}

// psetBelowBytes is psetBelow for a byte slice, without allocation.
func (z *zoneIdx) psetBelowBytes(name []byte) bool {
	if string(name) == z.name {
		return false
	}
	for _, p := range z.psets {
		if p.count() > 0 && len(p.suffix) >= len(name) && p.suffix[len(p.suffix)-len(name):] == string(name) &&
			(len(p.suffix) == len(name) || p.suffix[len(p.suffix)-len(name)-1] == '.') {
			return true
		}
	}
	return false
}

// exists reports whether name has a node or is a compact name.
func (z *zoneIdx) exists(name string) bool {
	if z.nodes[name] != nil {
		return true
	}
	_, _, _, t := z.compactOf(name)
	return t != nil
}

// lowerName puts the lower-case FQDN of name (presentation form) into *buf and returns it: the owner names
// the source gives are matched without allocating (the SML's B- names come with an upper-case B).
func lowerName(buf *[]byte, name string) []byte {
	b := (*buf)[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	if len(b) == 0 || b[len(b)-1] != '.' {
		b = append(b, '.')
	}
	*buf = b
	return b
}

// Outcomes of compactAdd.
const (
	compactNo       = iota // not a compact record, or its name holds another: the general path takes it
	compactAdded           // a new compact name
	compactSame            // the name had this record (its TTL may have changed)
	compactConflict        // the name is compact with another record: it must become a node
)

// compactAdd adds r (owner name: lower-case FQDN strictly inside the zone, not in z.nodes) when it can be
// compact. scratch is reused for the template key.
func (z *zoneIdx) compactAdd(r *zone.Record, name []byte, scratch *[]byte) int {
	if (r.Type != zone.TypeNAPTR && r.Type != zone.TypeCNAME) || z.noCompact {
		return compactNo
	}
	kind, key, restb, ok := splitCompact(name)
	if !ok || !inZone(string(restb), z.name) {
		return compactNo
	}
	kb, ok := tmplKey((*scratch)[:0], r)
	*scratch = kb
	if !ok {
		return compactNo
	}
	if r.Type == zone.TypeCNAME && hasHashLabel(kb[6:]) {
		return compactNo // a CNAME to a hash-like name: its answers depend on the name (see tmplCacheable)
	}
	var p *pset
	for _, q := range z.psets {
		if q.suffix == string(restb) {
			p = q
			break
		}
	}
	ref, ok := z.tmplRef(kb, r)
	if !ok {
		return compactNo
	}
	if p == nil {
		rest := string(restb)
		if _, ok := dns.IsDomainName(rest); !ok || len(z.psets) >= 1<<16-1 {
			z.unref(ref)
			return compactNo
		}
		p = &pset{suffix: rest}
		if z.sizeHint > 0 {
			p.sha.resize(z.sizeHint*10/7 + 16)
			p.md5.resize(z.sizeHint*10/7 + 16)
			z.sizeHint = 0
		}
		z.psets = append(z.psets, p)
	}
	// One probe: put, then look at what was there.
	old := p.put(kind, &key, ref)
	switch {
	case old == 0:
		z.prebuildCompact(p, kind, ref, name)
		return compactAdded
	case old == ref: // the record was there
		z.unref(ref)
		return compactSame
	case z.tmpls[old-1].key[4:] == string(kb[4:]): // the same record with another TTL: it takes the new one
		z.unref(old)
		return compactSame
	default: // another record: the name becomes a node
		p.put(kind, &key, old)
		z.unref(ref)
		return compactConflict
	}
}

// prebuildCompact packs the answer for the own type (and ANY) of template ref in pset p and kind, when it is
// not packed yet, so that the first query of a name is as fast as the next. name is a name that holds it.
func (z *zoneIdx) prebuildCompact(p *pset, kind int, ref uint32, nameb []byte) {
	t := z.tmpls[ref-1]
	set := slices.Index(z.psets, p)
	if set < 0 || t.lookup(uint16(set), kind, t.t, 0) != nil {
		return
	}
	name := string(nameb)
	a := z.resolve(name, t.t)
	if !a.static || !tmplCacheable(a, name) {
		return
	}
	m := &dns.Msg{Compress: true}
	m.Response, m.Authoritative = true, true
	m.Question = []dns.Question{{Name: name, Qtype: t.t, Qclass: dns.ClassINET}}
	m.Answer = a.answer
	full, err := m.Pack()
	if err != nil {
		return
	}
	b := compact(full)
	t.store(tcached{set: uint16(set), kind: uint8(kind), qtype: t.t, msg: b})
	t.store(tcached{set: uint16(set), kind: uint8(kind), qtype: dns.TypeANY, msg: b})
}

// compactDel removes the compact name of r when it holds r's record (TTL aside); it reports whether it did.
func (z *zoneIdx) compactDel(r *zone.Record, scratch *[]byte) bool {
	set, kind, key, t := z.compactOf(r.Name)
	if t == nil {
		return false
	}
	kb, ok := tmplKey((*scratch)[:0], r)
	*scratch = kb
	if !ok || t.key[4:] != string(kb[4:]) {
		return false
	}
	z.unref(z.psets[set].del(kind, &key))
	return true
}

// compactTake removes the compact name name and returns its record (owner set), or nil when it is not one.
func (z *zoneIdx) compactTake(name string) dns.RR {
	set, kind, key, t := z.compactOf(name)
	if t == nil {
		return nil
	}
	rr := dns.Copy(t.rr)
	rr.Header().Name = name
	z.unref(z.psets[set].del(kind, &key))
	return rr
}

// tmplRef returns the reference (index plus one) of the template with key kb, made from r when new, with one
// more use counted.
func (z *zoneIdx) tmplRef(kb []byte, r *zone.Record) (uint32, bool) {
	if i, ok := z.tmplIdx[string(kb)]; ok {
		z.tmpls[i].refs++
		return i + 1, true
	}
	rec := *r
	rec.Name = "."
	rr, err := toRR(rec)
	if err != nil {
		return 0, false
	}
	t := &tmpl{key: string(kb), rr: rr, t: uint16(r.Type), refs: 1}
	var i uint32
	if n := len(z.freeTmpl); n > 0 {
		i = z.freeTmpl[n-1]
		z.freeTmpl = z.freeTmpl[:n-1]
		z.tmpls[i] = t
	} else {
		if len(z.tmpls) >= 1<<31 {
			return 0, false
		}
		i = uint32(len(z.tmpls))
		z.tmpls = append(z.tmpls, t)
	}
	if z.tmplIdx == nil {
		z.tmplIdx = map[string]uint32{}
	}
	z.tmplIdx[t.key] = i
	return i + 1, true
}

// unref drops one use of the template ref; an unused template is freed.
func (z *zoneIdx) unref(ref uint32) {
	if ref == 0 {
		return
	}
	t := z.tmpls[ref-1]
	if t.refs--; t.refs > 0 {
		return
	}
	delete(z.tmplIdx, t.key)
	z.tmpls[ref-1] = nil
	z.freeTmpl = append(z.freeTmpl, ref-1)
}

// compactCount is the number of compact names.
func (z *zoneIdx) compactCount() int {
	n := 0
	for _, p := range z.psets {
		n += p.count()
	}
	return n
}

// eachCompact calls fn with the record of every compact name (a new dns.RR each time).
func (z *zoneIdx) eachCompact(fn func(dns.RR)) {
	var buf []byte
	emit := func(kind int, key *[32]byte, ref uint32, suffix string) {
		buf = append(hashLabel(buf[:0], kind, key), '.')
		buf = append(buf, suffix...)
		rr := dns.Copy(z.tmpls[ref-1].rr)
		rr.Header().Name = string(buf)
		fn(rr)
	}
	for _, p := range z.psets {
		for i := range p.sha.slots {
			if s := &p.sha.slots[i]; s.ref != 0 {
				emit(kindSHA256, &s.key, s.ref, p.suffix)
			}
		}
		for i := range p.md5.slots {
			if s := &p.md5.slots[i]; s.ref != 0 {
				var k [32]byte
				copy(k[:], s.key[:])
				emit(kindMD5, &k, s.ref, p.suffix)
			}
		}
	}
}

// tmplCacheable reports whether the answer a, for a compact name, can be shared by every name of its template,
// pset and kind: none of its names other than the question's may hold a hash-like label, so that neither the
// records found nor the compression of the names depends on the question's hash.
func tmplCacheable(a answer, qname string) bool {
	for _, sec := range [][]dns.RR{a.answer, a.ns} {
		for _, rr := range sec {
			if h := rr.Header().Name; h != qname && hasHashLabel(h) {
				return false
			}
			switch v := rr.(type) {
			case *dns.CNAME:
				if hasHashLabel(v.Target) {
					return false
				}
			case *dns.SOA:
				if hasHashLabel(v.Ns) || hasHashLabel(v.Mbox) {
					return false
				}
			case *dns.NS:
				if hasHashLabel(v.Ns) {
					return false
				}
			case *dns.NAPTR:
				if hasHashLabel(v.Replacement) {
					return false
				}
			case *dns.A, *dns.AAAA:
			default:
				return false
			}
		}
	}
	return true
}

// inZone reports whether name (lower-case FQDN) is zoneName or below it.
func inZone(name, zoneName string) bool {
	return zoneName == "." || (strings.HasSuffix(name, zoneName) &&
		(len(name) == len(zoneName) || name[len(name)-len(zoneName)-1] == '.'))
}
