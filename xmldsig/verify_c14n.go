package xmldsig

import (
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
	// prefixes is the InclusiveNamespaces PrefixList of exclusive C14N ("" stands for #default).
	prefixes []string
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
			if !containsString(m.prefixes, p) {
				m.prefixes = append(m.prefixes, p)
			}
		}
	}
	return m, true
}

// nsScope is a list of namespace bindings, prefix ("" = default namespace) to URI ("" = none), later
// entries shadowing earlier ones. A slice, not a map, so that the work done never depends on map order
// (which also keeps fuzzing coverage deterministic).
type nsScope []nsDecl

// lookup returns the URI bound to prefix.
func (s nsScope) lookup(prefix string) (string, bool) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i].prefix == prefix {
			return s[i].uri, true
		}
	}
	return "", false
}

// with returns s extended by the namespace declarations of e (s itself when e declares none). It never
// writes into s's backing array.
func (s nsScope) with(e *etree.Element) nsScope {
	out := s
	for _, a := range e.Attr {
		var prefix string
		switch {
		case a.Space == "xmlns":
			prefix = a.Key
		case a.Space == "" && a.Key == "xmlns":
			prefix = ""
		default:
			continue
		}
		out = append(out[:len(out):len(out)], nsDecl{prefix, a.Value})
	}
	return out
}

// prefixes returns the distinct prefixes bound in s, in order of first binding.
func (s nsScope) prefixes() []string {
	var out []string
	for _, d := range s {
		if !containsString(out, d.prefix) {
			out = append(out, d.prefix)
		}
	}
	return out
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// scopeOf returns the namespaces in scope at e's parent (the declarations of e's ancestors).
func scopeOf(e *etree.Element) nsScope {
	var chain []*etree.Element
	for p := e.Parent(); p != nil; p = p.Parent() {
		chain = append(chain, p)
	}
	var s nsScope
	for i := len(chain) - 1; i >= 0; i-- {
		s = s.with(chain[i])
	}
	return s
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
}

// c14nSubtree canonicalises the subtree rooted at apex, in the namespace context of its ancestors.
func c14nSubtree(mode c14nMode, apex *etree.Element) []byte {
	w := &c14nWriter{mode: mode}
	var inherited []etree.Attr
	if !mode.exclusive {
		inherited = inheritedXMLAttrs(apex, mode.v11)
	}
	w.element(apex, scopeOf(apex), nil, inherited)
	return w.buf
}

// c14nDocument canonicalises the document whose element is root, without the subtree skip and without
// comments: the node set of Reference URI="" after the enveloped-signature transform.
func c14nDocument(mode c14nMode, root, skip *etree.Element) []byte {
	w := &c14nWriter{mode: mode, skip: skip, noComments: true}
	doc := root.Parent()
	if !isDocumentNode(doc) {
		w.element(root, nil, nil, nil)
		return w.buf
	}
	after := false
	for _, t := range doc.Child {
		switch t := t.(type) {
		case *etree.Element:
			w.element(t, nil, nil, nil)
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
	return w.buf
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

// element writes e. parentScope holds the namespaces in scope at e's parent; rendered those that the
// nearest output ancestor has rendered (or that are implied: no default namespace).
func (w *c14nWriter) element(e *etree.Element, parentScope, rendered nsScope, extra []etree.Attr) {
	if e == w.skip {
		return
	}
	scope := parentScope.with(e)

	// Namespace declarations to render.
	var decls []nsDecl
	consider := func(prefix string) {
		if prefix == "xml" {
			return
		}
		uri, inScope := scope.lookup(prefix)
		r, done := rendered.lookup(prefix)
		if prefix == "" {
			if uri != r { // r is "" when no default namespace was rendered
				decls = append(decls, nsDecl{"", uri})
			}
			return
		}
		if !inScope || uri == "" {
			return
		}
		if !done || r != uri {
			decls = append(decls, nsDecl{prefix, uri})
		}
	}
	var candidates []string
	if w.mode.exclusive {
		candidates = append(candidates, e.Space)
		for _, a := range e.Attr {
			if a.Space != "" && a.Space != "xmlns" && !containsString(candidates, a.Space) {
				candidates = append(candidates, a.Space)
			}
		}
		for _, p := range w.mode.prefixes {
			if !containsString(candidates, p) {
				candidates = append(candidates, p)
			}
		}
	} else {
		candidates = scope.prefixes()
		if !containsString(candidates, "") {
			candidates = append(candidates, "") // an undeclared default namespace below a rendered one: xmlns=""
		}
	}
	for _, p := range candidates {
		consider(p)
	}
	sort.Slice(decls, func(i, j int) bool { return decls[i].prefix < decls[j].prefix })

	childRendered := rendered
	for _, d := range decls {
		childRendered = append(childRendered[:len(childRendered):len(childRendered)], d)
	}

	// Ordinary attributes, sorted by namespace URI then local name.
	attrs := make([]c14nAttr, 0, len(e.Attr)+len(extra))
	add := func(a etree.Attr) {
		ca := c14nAttr{local: a.Key, name: a.Key, value: a.Value}
		if a.Space != "" {
			ca.name = a.Space + ":" + a.Key
			if a.Space == "xml" {
				ca.uri = nsXML
			} else {
				ca.uri, _ = scope.lookup(a.Space)
			}
		}
		attrs = append(attrs, ca)
	}
	for _, a := range e.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
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
			w.element(t, scope, childRendered, nil)
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
