// Package xmlcheck refuses XML that breaks XML 1.0 well-formedness or Namespaces in XML 1.0 in the ways that
// encoding/xml (and so etree) let through, before a tree is built from it: an unbound prefix, a prefix
// undeclared with xmlns:p="", names such as "x:" or ":a", one attribute given twice (literally, or through two
// prefixes bound to one namespace), a second root element or text after the root, reserved prefixes bound
// wrongly; and it bounds the namespace declarations of a document. What such documents do downstream is
// worse than a refusal: a signature made over them fails in xmlsec1 and in every Java client.
//
// Check reads the body once with a streaming tokenizer (encoding/xml's RawToken, which does not resolve
// namespaces, so that this package can check them itself) and costs time linear in its size.
package xmlcheck

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// The defaults of Limits, far above what real SMP documents carry (a handful of declarations, nearly all on
// the root element).
const (
	DefaultNSPerElement  = 64
	DefaultNSPerDocument = 1024
)

// The settings that configure the limits in the SMP's configuration; a refusal names the one it hit.
const (
	SettingNSPerElement  = "write.max_ns_per_element"
	SettingNSPerDocument = "write.max_ns_per_document"
)

// Limits bound what a document may declare. A zero (or negative) field takes its default.
type Limits struct {
	// NSPerElement bounds the namespace declarations (xmlns and xmlns:p attributes) on one element
	// (default DefaultNSPerElement).
	NSPerElement int
	// NSPerDocument bounds the namespace declarations of the whole document (default DefaultNSPerDocument).
	NSPerDocument int
}

// Kind says which rule a document breaks; see [Error].
type Kind int

// The kinds of an [Error].
const (
	// Malformed: not well-formed XML 1.0.
	Malformed Kind = iota + 1
	// Namespace: well-formed, but not namespace-well-formed (Namespaces in XML 1.0).
	Namespace
	// Limit: more namespace declarations than Limits allow.
	Limit
)

func (k Kind) String() string {
	switch k {
	case Malformed:
		return "malformed"
	case Namespace:
		return "namespace"
	case Limit:
		return "limit"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is every error of Check: a document is refused. All kinds are the client's fault (HTTP 400).
type Error struct {
	Kind Kind
	// Line and Column (1-based, column in bytes) locate the markup at fault, for people; Offset is the same
	// place as a byte offset into the body.
	Line, Column int
	Offset       int64
	// Msg says what is wrong, naming the prefix, attribute or element, or the limit and its value.
	Msg string
	// Err is encoding/xml's error for a document it could not tokenise, else nil.
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
}

// Unwrap returns encoding/xml's error, if any.
func (e *Error) Unwrap() error { return e.Err }

// The namespace names that Namespaces in XML 1.0 reserves.
const (
	nsXML   = "http://www.w3.org/XML/1998/namespace"
	nsXMLNS = "http://www.w3.org/2000/xmlns/"
)

// Check returns nil when body is one well-formed, namespace-well-formed XML 1.0 document within lim, and
// otherwise an *Error saying what is wrong and where. A UTF-8 byte order mark is allowed at the start. A
// document type declaration is allowed once before the root element (whether to accept one is the caller's
// policy); encoding/xml refuses entity references it does not know.
func Check(body []byte, lim Limits) error {
	if lim.NSPerElement <= 0 {
		lim.NSPerElement = DefaultNSPerElement
	}
	if lim.NSPerDocument <= 0 {
		lim.NSPerDocument = DefaultNSPerDocument
	}
	c := &checker{body: body, lim: lim, scope: map[string]string{}}
	return c.run()
}

// open is an element whose end tag has not been read yet.
type open struct {
	name  xml.Name
	at    int64 // offset of its start tag
	scope int   // c.undo mark to restore at its end tag
}

// binding is an entry of the undo log of the namespace scope.
type binding struct {
	prefix, prev string
	had          bool
}

type checker struct {
	body []byte
	lim  Limits
	dec  *xml.Decoder

	stack    []open
	scope    map[string]string // prefix ("" = default) to namespace name, as in scope now
	undo     []binding
	decls    int // namespace declarations so far
	seenRoot bool
	seenDTD  bool
	tokens   int

	seen []seenAttr // the attributes of the start tag being checked, when it has few
}

// manyAttrs is the number of attributes above which duplicates are found through a map.
const manyAttrs = 16

type seenAttr struct {
	name  attrName
	qname string
}

// attrName is an attribute's expanded name: namespace name (or "" for none) and local part.
type attrName struct{ space, local string }

func (c *checker) run() error {
	c.dec = xml.NewDecoder(bytes.NewReader(c.body))
	c.dec.Strict = true
	for {
		at := c.dec.InputOffset()
		tok, err := c.dec.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return c.syntaxError(err)
		}
		first := c.tokens == 0
		c.tokens++
		switch t := tok.(type) {
		case xml.StartElement:
			if err := c.start(t, at); err != nil {
				return err
			}
		case xml.EndElement:
			if err := c.end(t, at); err != nil {
				return err
			}
		case xml.CharData:
			if len(c.stack) > 0 {
				continue
			}
			raw := c.body[at:c.dec.InputOffset()]
			if first && at == 0 {
				raw = bytes.TrimPrefix(raw, bom)
			}
			if !isSpace(raw) {
				where := "before"
				if c.seenRoot {
					where = "after"
				}
				return c.errAt(Malformed, at+int64(len(raw)-len(bytes.TrimLeft(raw, " \t\r\n"))),
					"text %s the root element; a document has one root element and only markup outside it", where)
			}
		case xml.ProcInst:
			if err := c.procInst(t, at); err != nil {
				return err
			}
		case xml.Directive:
			if err := c.directive(t, at); err != nil {
				return err
			}
		case xml.Comment:
		}
	}
	if n := len(c.stack); n > 0 {
		o := c.stack[n-1]
		line, col := c.pos(o.at)
		return c.errAt(Malformed, int64(len(c.body)), "the document ends inside element <%s> (opened at line %d, column %d)",
			qname(o.name), line, col)
	}
	if !c.seenRoot {
		return c.errAt(Malformed, int64(len(c.body)), "no root element")
	}
	return nil
}

func (c *checker) start(t xml.StartElement, at int64) error {
	if len(c.stack) == 0 {
		if c.seenRoot {
			return c.errAt(Malformed, at, "a second root element <%s>; a document has exactly one root element", qname(t.Name))
		}
		c.seenRoot = true
	}
	mark := len(c.undo)
	c.stack = append(c.stack, open{name: t.Name, at: at, scope: mark})

	// The declarations first: they apply to the element's own name and attributes.
	onElement := 0
	for _, a := range t.Attr {
		prefix, ok := declares(a.Name)
		if !ok {
			continue
		}
		onElement++
		c.decls++
		if onElement > c.lim.NSPerElement {
			return c.errAt(Limit, at, "more than %d namespace declarations on element <%s> (limit %s)",
				c.lim.NSPerElement, qname(t.Name), SettingNSPerElement)
		}
		if c.decls > c.lim.NSPerDocument {
			return c.errAt(Limit, at, "more than %d namespace declarations in the document (limit %s)",
				c.lim.NSPerDocument, SettingNSPerDocument)
		}
		if err := c.checkDecl(prefix, a.Value, t.Name, at); err != nil {
			return err
		}
		c.bind(prefix, a.Value)
	}

	if err := c.checkQName(t.Name, "element", at); err != nil {
		return err
	}
	if t.Name.Space == "xmlns" {
		return c.errAt(Namespace, at, "element <%s> has the prefix xmlns, which is reserved for namespace declarations", qname(t.Name))
	}
	if _, err := c.resolve(t.Name.Space, "element <"+qname(t.Name)+">", at); err != nil {
		return err
	}

	// Attributes: names, and each expanded name once (compared pairwise when there are few, through a map
	// made for this element when there are many: either way linear in the size of the tag).
	c.seen = c.seen[:0]
	var many map[attrName]string
	if len(t.Attr) > manyAttrs {
		many = make(map[attrName]string, len(t.Attr))
	}
	for _, a := range t.Attr {
		var key attrName
		if prefix, ok := declares(a.Name); ok {
			key = attrName{nsXMLNS, prefix}
		} else {
			if err := c.checkQName(a.Name, "attribute", at); err != nil {
				return err
			}
			key.local = a.Name.Local
			if a.Name.Space != "" {
				uri, err := c.resolve(a.Name.Space, "attribute "+qname(a.Name)+" of <"+qname(t.Name)+">", at)
				if err != nil {
					return err
				}
				key.space = uri
			}
		}
		prev, dup := "", false
		if many != nil {
			prev, dup = many[key]
			many[key] = qname(a.Name)
		} else {
			for _, s := range c.seen {
				if s.name == key {
					prev, dup = s.qname, true
					break
				}
			}
			c.seen = append(c.seen, seenAttr{key, qname(a.Name)})
		}
		if !dup {
			continue
		}
		if prev == qname(a.Name) {
			return c.errAt(Malformed, at, "attribute %s appears twice on element <%s>", prev, qname(t.Name))
		}
		return c.errAt(Namespace, at, "attributes %s and %s of element <%s> are the same attribute {%s}%s (both prefixes are bound to %q)",
			prev, qname(a.Name), qname(t.Name), key.space, key.local, key.space)
	}
	return nil
}

// declares returns the prefix that an attribute named n declares ("" for the default namespace), if it is
// a namespace declaration.
func declares(n xml.Name) (string, bool) {
	switch {
	case n.Space == "xmlns":
		return n.Local, true
	case n.Space == "" && n.Local == "xmlns":
		return "", true
	}
	return "", false
}

// checkDecl checks one namespace declaration of element el.
func (c *checker) checkDecl(prefix, uri string, el xml.Name, at int64) error {
	attr := "xmlns"
	if prefix != "" {
		attr = "xmlns:" + prefix
	}
	switch {
	case prefix == "xmlns":
		return c.errAt(Namespace, at, "%s on element <%s>: the prefix xmlns must not be declared", attr, qname(el))
	case prefix == "xml" && uri != nsXML:
		return c.errAt(Namespace, at, "%s=%q on element <%s>: the prefix xml may only be bound to %s", attr, uri, qname(el), nsXML)
	case prefix != "xml" && uri == nsXML:
		return c.errAt(Namespace, at, "%s on element <%s> binds %s, which only the prefix xml may be bound to", attr, qname(el), nsXML)
	case uri == nsXMLNS:
		return c.errAt(Namespace, at, "%s on element <%s> binds %s, which no prefix may be bound to", attr, qname(el), nsXMLNS)
	case prefix != "" && uri == "":
		return c.errAt(Namespace, at, `%s="" on element <%s>: a prefix cannot be undeclared in XML 1.0 namespaces (only the default namespace can, with xmlns="")`,
			attr, qname(el))
	}
	return nil
}

// checkQName refuses names that are XML names but not qualified names: with a colon at the start or the
// end, or alone ("a:b:c" does not get this far: encoding/xml refuses it, see syntaxError).
func (c *checker) checkQName(n xml.Name, what string, at int64) error {
	if n.Space == "" && strings.Contains(n.Local, ":") {
		return c.errAt(Namespace, at, "%s name %q is not a qualified name: a colon must separate a non-empty prefix from a non-empty local name", what, n.Local)
	}
	return nil
}

// resolve returns the namespace name bound to prefix, or an error naming the prefix and where it is used
// ("" resolves to the default namespace, or to none: never an error).
func (c *checker) resolve(prefix, where string, at int64) (string, error) {
	switch prefix {
	case "":
		return c.scope[""], nil
	case "xml":
		return nsXML, nil
	}
	uri, ok := c.scope[prefix]
	if !ok {
		return "", c.errAt(Namespace, at, "unbound prefix %q on %s: no xmlns:%s declaration is in scope", prefix, where, prefix)
	}
	return uri, nil
}

func (c *checker) bind(prefix, uri string) {
	prev, had := c.scope[prefix]
	c.undo = append(c.undo, binding{prefix: prefix, prev: prev, had: had})
	c.scope[prefix] = uri
}

func (c *checker) end(t xml.EndElement, at int64) error {
	n := len(c.stack)
	if n == 0 {
		return c.errAt(Malformed, at, "end tag </%s> without a start tag", qname(t.Name))
	}
	o := c.stack[n-1]
	if o.name != t.Name {
		line, col := c.pos(o.at)
		return c.errAt(Malformed, at, "element <%s> (opened at line %d, column %d) is closed by </%s>", qname(o.name), line, col, qname(t.Name))
	}
	for i := len(c.undo) - 1; i >= o.scope; i-- {
		b := c.undo[i]
		if b.had {
			c.scope[b.prefix] = b.prev
		} else {
			delete(c.scope, b.prefix)
		}
	}
	c.undo = c.undo[:o.scope]
	c.stack = c.stack[:n-1]
	return nil
}

func (c *checker) procInst(t xml.ProcInst, at int64) error {
	if strings.EqualFold(t.Target, "xml") {
		// The XML declaration: the first token, after a byte order mark at most.
		atStart := (at == 0 && c.tokens == 1) || (at == int64(len(bom)) && c.tokens == 2 && bytes.HasPrefix(c.body, bom))
		switch {
		case t.Target != "xml":
			return c.errAt(Malformed, at, "processing instruction target %q is reserved", t.Target)
		case !atStart:
			return c.errAt(Malformed, at, "<?xml ...?> is allowed only at the very start of the document (it is the XML declaration)")
		}
		return nil
	}
	if strings.Contains(t.Target, ":") {
		return c.errAt(Namespace, at, "processing instruction target %q contains a colon", t.Target)
	}
	return nil
}

// bom is the UTF-8 byte order mark.
var bom = []byte("\xef\xbb\xbf")

func (c *checker) directive(t xml.Directive, at int64) error {
	isDoctype := bytes.HasPrefix(t, []byte("DOCTYPE")) && len(t) > len("DOCTYPE") && isSpace(t[len("DOCTYPE"):len("DOCTYPE")+1])
	switch {
	case !isDoctype:
		return c.errAt(Malformed, at, "<!%s ...>: a markup declaration is allowed only inside a document type declaration", firstWord(t))
	case len(c.stack) > 0 || c.seenRoot:
		return c.errAt(Malformed, at, "<!DOCTYPE ...> after the start of the root element; it is allowed only before it")
	case c.seenDTD:
		return c.errAt(Malformed, at, "a second <!DOCTYPE ...>; a document has at most one")
	}
	c.seenDTD = true
	return nil
}

func firstWord(b []byte) string {
	if i := bytes.IndexAny(b, " \t\r\n"); i >= 0 {
		b = b[:i]
	}
	if len(b) > 20 {
		b = b[:20]
	}
	return string(b)
}

// syntaxError turns an error of encoding/xml into an *Error. encoding/xml says "expected element name" for a
// name with two colons: that one is named as the namespace error it is.
func (c *checker) syntaxError(err error) error {
	off := c.dec.InputOffset()
	var se *xml.SyntaxError
	if errors.As(err, &se) && (strings.Contains(se.Msg, "expected element name") || strings.Contains(se.Msg, "expected attribute name")) {
		start := off
		for start > 0 && start <= int64(len(c.body)) && isNameByte(c.body[start-1]) {
			start--
		}
		if name := string(c.body[start:min(off, int64(len(c.body)))]); strings.Count(name, ":") > 1 {
			what := "element"
			if strings.Contains(se.Msg, "attribute") {
				what = "attribute"
			}
			e := c.errAt(Namespace, start, "%s name %q is not a qualified name: it has more than one colon", what, name)
			e.Err = err
			return e
		}
	}
	msg := err.Error()
	if se != nil {
		msg = se.Msg
	}
	e := c.errAt(Malformed, off, "not well-formed XML: %s", msg)
	e.Err = err
	return e
}

func isNameByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' ||
		b == '_' || b == ':' || b == '.' || b == '-' || b >= 0x80
}

// errAt returns an *Error of kind k at byte offset off.
func (c *checker) errAt(k Kind, off int64, format string, args ...any) *Error {
	line, col := c.pos(off)
	return &Error{Kind: k, Line: line, Column: col, Offset: off, Msg: fmt.Sprintf(format, args...)}
}

// pos returns the 1-based line and column (in bytes) of offset off. It is used only on the way out, once per
// refusal (and per error message), so its linear cost does not add up.
func (c *checker) pos(off int64) (line, col int) {
	if off > int64(len(c.body)) {
		off = int64(len(c.body))
	}
	before := c.body[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	col = int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}

func isSpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}
