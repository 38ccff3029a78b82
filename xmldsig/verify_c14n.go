package xmldsig

import (
	"context"
	"net/url"
	"sort"
	"strings"

	"github.com/beevik/etree"
)

// Canonical XML (C14N 1.0, C14N 1.1 and Exclusive C14N 1.0) written directly from the parsed etree document,
// for the verifier. The node sets it handles are the ones SMP signatures use: a whole element subtree
// (SignedInfo) in the namespace context of its ancestors, and the whole document minus one Signature element
// (Reference URI="" with the enveloped-signature transform). It never modifies or copies the tree it reads.

const nsXML = "http://www.w3.org/XML/1998/namespace"

// c14nMode is one canonicalisation algorithm.
type c14nMode struct {
	exclusive bool
	comments  bool
	v11       bool
	// prefixes is the InclusiveNamespaces PrefixList of exclusive C14N ("" stands for #default), each prefix
	// once, in the order given; inPrefixes holds the same prefixes.
	prefixes   []string
	inPrefixes map[string]bool
}

// c14nModeFor returns the mode of a canonicalisation algorithm URI; prefixList is the InclusiveNamespaces
// PrefixList (exclusive C14N only).
func c14nModeFor(uri, prefixList string) (c14nMode, bool) {
	var m c14nMode
	switch uri {
	case C14N10:
	case C14N10Comments:
		m.comments = true
	case C14N11:
		m.v11 = true
	case C14N11Comments:
		m.v11, m.comments = true, true
	case ExcC14N:
		m.exclusive = true
	case ExcC14NComments:
		m.exclusive, m.comments = true, true
	default:
		return m, false
	}
	if m.exclusive {
		for _, p := range strings.Fields(prefixList) {
			if p == "#default" {
				p = ""
			}
			if m.inPrefixes == nil {
				m.inPrefixes = map[string]bool{}
			}
			if !m.inPrefixes[p] {
				m.inPrefixes[p] = true
				m.prefixes = append(m.prefixes, p)
			}
		}
	}
	return m, true
}

// nsBindings maps namespace prefixes ("" = default namespace) to URIs ("" = none) while the canonicaliser
// walks the tree. A binding costs O(1) and is undone in O(1) when the walk leaves the element that made it
// (an undo log, restored to a mark), so a walk costs time linear in the size of the document however many
// declarations are in scope: copying the scope for every declaration made it quadratic.
type nsBindings struct {
	cur  map[string]string
	undo []nsUndo
}

// nsUndo is one binding: the prefix and what it was bound to before (had is false when it was unbound).
type nsUndo struct {
	prefix, prev string
	had          bool
}

func newNSBindings() nsBindings { return nsBindings{cur: map[string]string{}} }

// lookup returns the URI bound to prefix.
func (b *nsBindings) lookup(prefix string) (string, bool) {
	uri, ok := b.cur[prefix]
	return uri, ok
}

// bind binds prefix to uri until the walk restores a mark taken before.
func (b *nsBindings) bind(prefix, uri string) {
	prev, had := b.cur[prefix]
	b.undo = append(b.undo, nsUndo{prefix: prefix, prev: prev, had: had})
	b.cur[prefix] = uri
}

// mark returns the position to restore to undo every binding made after it.
func (b *nsBindings) mark() int { return len(b.undo) }

// restore undoes the bindings made since mark m, latest first.
func (b *nsBindings) restore(m int) {
	for i := len(b.undo) - 1; i >= m; i-- {
		u := b.undo[i]
		if u.had {
			b.cur[u.prefix] = u.prev
		} else {
			delete(b.cur, u.prefix)
		}
	}
	b.undo = b.undo[:m]
}

// bindDecls binds the namespace declarations of e.
func (b *nsBindings) bindDecls(e *etree.Element) {
	for _, a := range e.Attr {
		if prefix, ok := declaredPrefix(a); ok {
			b.bind(prefix, a.Value)
		}
	}
}

// declaredPrefix returns the prefix a declares when a is a namespace declaration ("" for xmlns="...").
func declaredPrefix(a etree.Attr) (string, bool) {
	switch {
	case a.Space == "xmlns":
		return a.Key, true
	case a.Space == "" && a.Key == "xmlns":
		return "", true
	}
	return "", false
}

// bindAncestors binds the namespace declarations of e's ancestors, outermost first: the namespaces in scope
// at e's parent.
func (b *nsBindings) bindAncestors(e *etree.Element) {
	var chain []*etree.Element
	for p := e.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	for i := len(chain) - 1; i >= 0; i-- {
		b.bindDecls(chain[i])
	}
}

// isDocumentNode reports whether e is the etree Document's own element (not an XML element).
func isDocumentNode(e *etree.Element) bool { return e != nil && e.Tag == "" && e.Space == "" }

// c14nWriter accumulates canonical output.
type c14nWriter struct {
	mode c14nMode
	skip *etree.Element // left out with its subtree (the enveloped signature); may be nil
	// noComments drops comments whatever the mode says (URI="" node sets have no comment nodes).
	noComments bool
	buf        []byte

	// scope holds the namespaces in scope at the element being written; rendered those that the output
	// ancestors have rendered (no binding stands for no default namespace).
	scope, rendered nsBindings

	// ctx is looked at every checkEvery elements (unless it can never end); err is its error once it has
	// ended, and nothing more is written then.
	ctx      context.Context
	done     <-chan struct{}
	err      error
	elements int
}

// checkEvery is how many elements the canonicaliser writes between two looks at its context: often enough
// to stop within milliseconds, rarely enough to cost nothing measurable.
const checkEvery = 256

func newC14NWriter(ctx context.Context, mode c14nMode) *c14nWriter {
	return &c14nWriter{mode: mode, ctx: ctx, done: ctx.Done(), scope: newNSBindings(), rendered: newNSBindings()}
}

// c14nSubtree canonicalises the subtree rooted at apex, in the namespace context of its ancestors.
func c14nSubtree(mode c14nMode, apex *etree.Element) []byte {
	out, _ := c14nSubtreeContext(context.Background(), mode, apex)
	return out
}

// c14nSubtreeContext is c14nSubtree that stops with ctx's error once ctx ends.
func c14nSubtreeContext(ctx context.Context, mode c14nMode, apex *etree.Element) ([]byte, error) {
	w := newC14NWriter(ctx, mode)
	var inherited []etree.Attr
	if !mode.exclusive {
		inherited = inheritedXMLAttrs(apex, mode.v11)
	}
	w.scope.bindAncestors(apex)
	w.element(apex, true, inherited)
	return w.buf, w.err
}

// c14nDocument canonicalises the document whose element is root, without the subtree skip and without
// comments: the node set of Reference URI="" after the enveloped-signature transform.
func c14nDocument(mode c14nMode, root, skip *etree.Element) []byte {
	out, _ := c14nDocumentContext(context.Background(), mode, root, skip)
	return out
}

// c14nDocumentContext is c14nDocument that stops with ctx's error once ctx ends.
func c14nDocumentContext(ctx context.Context, mode c14nMode, root, skip *etree.Element) ([]byte, error) {
	w := newC14NWriter(ctx, mode)
	w.skip, w.noComments = skip, true
	w.document(root)
	return w.buf, w.err
}

// document writes the document whose element is root: the processing instructions around it and the
// element. Comments outside the document element are never written (no node set of this package has them).
func (w *c14nWriter) document(root *etree.Element) {
	doc := root.Parent()
	if !isDocumentNode(doc) {
		w.element(root, true, nil)
		return
	}
	after := false
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			w.element(t, true, nil)
			after = true
		case *etree.ProcInst:
			if t.Target == "xml" {
				continue // the XML declaration is not a processing instruction
			}
			if after {
				w.buf = append(w.buf, '\n')
			}
			w.procInst(t)
			if !after {
				w.buf = append(w.buf, '\n')
			}
		}
		// Character data, comments and the document type declaration at document level are not output.
	}
}

// inheritedXMLAttrs returns the xml:* attributes of apex's ancestors that apex does not set itself
// (inclusive C14N of a document subset; C14N 1.1 inherits only xml:lang and xml:space, and replaces
// xml:base by its fixup, see xmlBaseFixup).
func inheritedXMLAttrs(apex *etree.Element, v11 bool) []etree.Attr {
	var out []etree.Attr
	if v11 {
		if base, ok := xmlBaseFixup(apex); ok {
			out = append(out, etree.Attr{Space: "xml", Key: "base", Value: base})
		}
	}
	seen := map[string]bool{}
	for _, a := range apex.Attr {
		if a.Space == "xml" {
			seen[a.Key] = true
		}
	}
	for p := apex.Parent(); p != nil && !isDocumentNode(p); p = p.Parent() {
		for _, a := range p.Attr {
			if a.Space != "xml" || seen[a.Key] {
				continue
			}
			if v11 && a.Key != "lang" && a.Key != "space" {
				continue
			}
			seen[a.Key] = true
			out = append(out, etree.Attr{Space: "xml", Key: a.Key, Value: a.Value})
		}
	}
	return out
}

// xmlBaseFixup returns the xml:base value C14N 1.1 (section 2.4) writes on apex when its ancestors are not
// output: apex's own xml:base, or else its nearest ancestor's, resolved against the xml:base values of the
// ancestors above, as libxml2 (xmlsec1) computes it. ok is false when there is no xml:base or the result is
// empty; a value apex sets itself is then written as it is.
func xmlBaseFixup(apex *etree.Element) (string, bool) {
	res, have := "", false
	for e := apex; e != nil && !isDocumentNode(e); e = e.Parent() {
		a := xmlAttr(e, "base")
		if a == nil {
			continue
		}
		if !have {
			res, have = a.Value, true
			continue
		}
		base := a.Value
		if n := len(base); n > 1 && base[n-2] == '.' {
			base += "/" // as libxml2 does, so that ".." always goes up
		}
		res = resolveURI(base, res)
	}
	return res, have && res != ""
}

func xmlAttr(e *etree.Element, key string) *etree.Attr {
	for i := range e.Attr {
		if e.Attr[i].Space == "xml" && e.Attr[i].Key == key {
			return &e.Attr[i]
		}
	}
	return nil
}

// resolveURI resolves ref against base (RFC 3986); when either does not parse, ref is kept as it is.
func resolveURI(base, ref string) string {
	b, err := url.Parse(base)
	if err != nil {
		return ref
	}
	r, err := url.Parse(ref)
	if err != nil {
		return ref
	}
	return b.ResolveReference(r).String()
}

type nsDecl struct{ prefix, uri string }

type c14nAttr struct {
	uri, local, name, value string
}

// stopped reports whether the writer has stopped because its context ended, looking at the context every
// checkEvery calls.
func (w *c14nWriter) stopped() bool {
	if w.err != nil {
		return true
	}
	if w.done == nil {
		return false
	}
	w.elements++
	if w.elements%checkEvery == 0 {
		w.err = w.ctx.Err()
	}
	return w.err != nil
}

// element writes e with its subtree. w.scope holds the namespaces in scope at e's parent and w.rendered those
// that the nearest output ancestor has rendered; both are as they were when element returns. apex is true
// when e's parent is not output (the document element, or the apex of a subtree): every namespace in scope
// is then a candidate for rendering. Below the apex, the parent has rendered every namespace in scope that
// inclusive canonicalisation renders, so only e's own declarations can add to them; that keeps the work per
// element proportional to what e carries, not to the namespaces in scope. extra are attributes to write as
// if e carried them (inherited xml:* attributes).
func (w *c14nWriter) element(e *etree.Element, apex bool, extra []etree.Attr) {
	if e == w.skip || w.stopped() {
		return
	}
	scopeMark, renderedMark := w.scope.mark(), w.rendered.mark()
	defer func() {
		w.scope.restore(scopeMark)
		w.rendered.restore(renderedMark)
	}()
	w.scope.bindDecls(e)

	// Namespace declarations to render. A prefix considered twice is rendered once: the first time binds
	// it in w.rendered.
	var decls []nsDecl
	consider := func(prefix string) {
		if prefix == "xml" {
			return
		}
		uri, inScope := w.scope.lookup(prefix)
		r, done := w.rendered.lookup(prefix)
		if prefix == "" {
			if uri != r { // r is "" when no default namespace was rendered
				decls = append(decls, nsDecl{"", uri})
				w.rendered.bind("", uri)
			}
			return
		}
		if !inScope || uri == "" {
			return
		}
		if !done || r != uri {
			decls = append(decls, nsDecl{prefix, uri})
			w.rendered.bind(prefix, uri)
		}
	}
	if w.mode.exclusive {
		// Visibly utilised prefixes, and those of the InclusiveNamespaces PrefixList, which are treated as
		// inclusive canonicalisation treats every prefix.
		consider(e.Space)
		for _, a := range e.Attr {
			if a.Space != "" && a.Space != "xmlns" {
				consider(a.Space)
			}
		}
		if apex {
			for _, p := range w.mode.prefixes {
				consider(p)
			}
		} else if len(w.mode.prefixes) > 0 {
			for _, a := range e.Attr {
				if p, ok := declaredPrefix(a); ok && w.mode.inPrefixes[p] {
					consider(p)
				}
			}
		}
	} else {
		if apex {
			// Nothing is rendered yet: every binding in scope (an empty default namespace renders nothing).
			for _, u := range w.scope.undo {
				consider(u.prefix)
			}
		} else {
			for _, a := range e.Attr {
				if p, ok := declaredPrefix(a); ok {
					consider(p)
				}
			}
		}
	}
	sort.Slice(decls, func(i, j int) bool { return decls[i].prefix < decls[j].prefix })

	// Ordinary attributes, sorted by namespace URI then local name.
	attrs := make([]c14nAttr, 0, len(e.Attr)+len(extra))
	add := func(a etree.Attr) {
		ca := c14nAttr{local: a.Key, name: a.Key, value: a.Value}
		if a.Space != "" {
			ca.name = a.Space + ":" + a.Key
			if a.Space == "xml" {
				ca.uri = nsXML
			} else {
				ca.uri, _ = w.scope.lookup(a.Space)
			}
		}
		attrs = append(attrs, ca)
	}
	for _, a := range e.Attr {
		if _, ok := declaredPrefix(a); ok {
			continue
		}
		if a.Space == "xml" && a.Key == "base" && hasXMLAttr(extra, "base") {
			continue // replaced by the C14N 1.1 fixup
		}
		add(a)
	}
	for _, a := range extra {
		add(a)
	}
	sort.Slice(attrs, func(i, j int) bool {
		if attrs[i].uri != attrs[j].uri {
			return attrs[i].uri < attrs[j].uri
		}
		return attrs[i].local < attrs[j].local
	})

	name := e.Tag
	if e.Space != "" {
		name = e.Space + ":" + e.Tag
	}
	w.buf = append(w.buf, '<')
	w.buf = append(w.buf, name...)
	for _, d := range decls {
		if d.prefix == "" {
			w.buf = append(w.buf, ` xmlns="`...)
		} else {
			w.buf = append(w.buf, ` xmlns:`...)
			w.buf = append(w.buf, d.prefix...)
			w.buf = append(w.buf, `="`...)
		}
		w.attrValue(d.uri)
		w.buf = append(w.buf, '"')
	}
	for _, a := range attrs {
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, a.name...)
		w.buf = append(w.buf, `="`...)
		w.attrValue(a.value)
		w.buf = append(w.buf, '"')
	}
	w.buf = append(w.buf, '>')

	for _, t := range e.Child {
		switch t := t.(type) {
		case *etree.Element:
			w.element(t, false, nil)
		case *etree.CharData:
			w.text(t.Data)
		case *etree.Comment:
			if w.mode.comments && !w.noComments {
				w.buf = append(w.buf, "<!--"...)
				w.buf = append(w.buf, t.Data...)
				w.buf = append(w.buf, "-->"...)
			}
		case *etree.ProcInst:
			w.procInst(t)
		}
	}
	w.buf = append(w.buf, "</"...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, '>')
}

func hasXMLAttr(attrs []etree.Attr, key string) bool {
	for _, a := range attrs {
		if a.Space == "xml" && a.Key == key {
			return true
		}
	}
	return false
}

func (w *c14nWriter) procInst(p *etree.ProcInst) {
	w.buf = append(w.buf, "<?"...)
	w.buf = append(w.buf, p.Target...)
	if p.Inst != "" {
		w.buf = append(w.buf, ' ')
		w.buf = append(w.buf, p.Inst...)
	}
	w.buf = append(w.buf, "?>"...)
}

func (w *c14nWriter) text(s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			w.buf = append(w.buf, "&amp;"...)
		case '<':
			w.buf = append(w.buf, "&lt;"...)
		case '>':
			w.buf = append(w.buf, "&gt;"...)
		case '\r':
			w.buf = append(w.buf, "&#xD;"...)
		default:
			w.buf = append(w.buf, c)
		}
	}
}

func (w *c14nWriter) attrValue(s string) {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			w.buf = append(w.buf, "&amp;"...)
		case '<':
			w.buf = append(w.buf, "&lt;"...)
		case '"':
			w.buf = append(w.buf, "&quot;"...)
		case '\t':
			w.buf = append(w.buf, "&#x9;"...)
		case '\n':
			w.buf = append(w.buf, "&#xA;"...)
		case '\r':
			w.buf = append(w.buf, "&#xD;"...)
		default:
			w.buf = append(w.buf, c)
		}
	}
}
