package xmlcheck

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// decls returns n namespace declarations xmlns:pFROM.. with distinct prefixes.
func decls(from, n int) string {
	var b strings.Builder
	for i := from; i < from+n; i++ {
		b.WriteString(` xmlns:p` + strconv.Itoa(i) + `="urn:p:` + strconv.Itoa(i) + `"`)
	}
	return b.String()
}

// attrs returns n attributes a0.. with distinct names.
func attrs(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		b.WriteString(` a` + strconv.Itoa(i) + `="v"`)
	}
	return b.String()
}

// docWithDecls returns a document whose root has perElement declarations and elements children each with
// perElement declarations of their own.
func docWithDecls(perElement, elements int) string {
	var b strings.Builder
	b.WriteString(`<r` + decls(0, perElement) + `>`)
	for i := 1; i <= elements; i++ {
		b.WriteString(`<e` + decls(i*perElement, perElement) + `/>`)
	}
	b.WriteString(`</r>`)
	return b.String()
}

type refusal struct {
	name string
	doc  string
	lim  Limits
	kind Kind
	// msg is a part of the message that names the problem.
	msg string
	// ours is true for refusals that are this package's policy, not libxml2's (the limits).
	ours bool
}

var refusals = []refusal{
	{name: "unbound element prefix", doc: `<x:a/>`, kind: Namespace, msg: `unbound prefix "x" on element <x:a>`},
	{name: "unbound attribute prefix", doc: `<a x:b="1"/>`, kind: Namespace, msg: `unbound prefix "x" on attribute x:b of <a>`},
	{name: "prefix out of scope", doc: `<r><a xmlns:x="urn:x"/><x:b/></r>`, kind: Namespace, msg: `unbound prefix "x" on element <x:b>`},
	{name: "prefix of an ancestor's sibling", doc: `<r><a xmlns:x="urn:x"><b/></a><c><x:d/></c></r>`, kind: Namespace, msg: `unbound prefix "x"`},
	{name: "undeclared prefix", doc: `<a xmlns:y=""/>`, kind: Namespace, msg: `xmlns:y="" on element <a>: a prefix cannot be undeclared`},
	{name: "undeclared prefix below", doc: `<y:a xmlns:y="urn:y"><y:b xmlns:y=""/></y:a>`, kind: Namespace, msg: `xmlns:y=""`},
	{name: "element x:", doc: `<x:/>`, kind: Namespace, msg: `element name "x:" is not a qualified name`},
	{name: "element :a", doc: `<:a/>`, kind: Namespace, msg: `element name ":a" is not a qualified name`},
	{name: "attribute :b", doc: `<a :b="1"/>`, kind: Namespace, msg: `attribute name ":b" is not a qualified name`},
	{name: "attribute b:", doc: `<a b:="1"/>`, kind: Namespace, msg: `attribute name "b:" is not a qualified name`},
	{name: "attribute xmlns:", doc: `<a xmlns:="urn:x"/>`, kind: Namespace, msg: `attribute name "xmlns:" is not a qualified name`},
	{name: "element a:b:c", doc: `<a:b:c/>`, kind: Namespace, msg: `element name "a:b:c" is not a qualified name: it has more than one colon`},
	{name: "attribute a:b:c", doc: "<r>\n  <e a:b:c=\"1\"/></r>", kind: Namespace, msg: `attribute name "a:b:c" is not a qualified name: it has more than one colon`},
	{name: "declaration xmlns:x:y", doc: `<a xmlns:x:y="urn:x"/>`, kind: Namespace, msg: `attribute name "xmlns:x:y" is not a qualified name`},
	{name: "one attribute through two prefixes", doc: `<r xmlns:p="urn:u" xmlns:q="urn:u" p:b="1" q:b="2"/>`, kind: Namespace,
		msg: `attributes p:b and q:b of element <r> are the same attribute {urn:u}b (both prefixes are bound to "urn:u")`},
	{name: "one attribute through an inherited and a new prefix", doc: `<r xmlns:p="urn:u"><e xmlns:q="urn:u" q:b="1" p:b="2"/></r>`, kind: Namespace,
		msg: `attributes q:b and p:b of element <e> are the same attribute {urn:u}b`},
	{name: "one attribute twice", doc: `<r b="1" b="2"/>`, kind: Malformed, msg: `attribute b appears twice on element <r>`},
	{name: "one attribute twice among many", doc: `<r` + attrs(40) + ` a17="x"/>`, kind: Malformed, msg: `attribute a17 appears twice on element <r>`},
	{name: "one attribute through two prefixes among many", doc: `<r xmlns:p="urn:u" xmlns:q="urn:u"` + attrs(40) + ` p:b="1" q:b="2"/>`, kind: Namespace,
		msg: `attributes p:b and q:b of element <r> are the same attribute`},
	{name: "one declaration twice", doc: `<r xmlns:p="urn:u" xmlns:p="urn:u"/>`, kind: Malformed, msg: `attribute xmlns:p appears twice on element <r>`},
	{name: "default declaration twice", doc: `<r xmlns="urn:u" xmlns="urn:v"/>`, kind: Malformed, msg: `attribute xmlns appears twice on element <r>`},
	{name: "two root elements", doc: `<a/><b/>`, kind: Malformed, msg: `a second root element <b>`},
	{name: "two root elements with space", doc: "<a></a>\n\n<a></a>", kind: Malformed, msg: `a second root element <a>`},
	{name: "text after the root", doc: `<a/>text`, kind: Malformed, msg: `text after the root element`},
	{name: "character reference after the root", doc: `<a/>&#32;`, kind: Malformed, msg: `text after the root element`},
	{name: "CDATA after the root", doc: `<a/><![CDATA[ ]]>`, kind: Malformed, msg: `text after the root element`},
	{name: "text before the root", doc: `text<a/>`, kind: Malformed, msg: `text before the root element`},
	{name: "prefix xml bound elsewhere", doc: `<a xmlns:xml="urn:x"/>`, kind: Namespace, msg: `the prefix xml may only be bound to http://www.w3.org/XML/1998/namespace`},
	{name: "prefix xmlns declared", doc: `<a xmlns:xmlns="urn:x"/>`, kind: Namespace, msg: `xmlns:xmlns on element <a>: the prefix xmlns must not be declared`},
	{name: "xml namespace to another prefix", doc: `<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>`, kind: Namespace, msg: `xmlns:p on element <a> binds http://www.w3.org/XML/1998/namespace, which only the prefix xml may be bound to`},
	{name: "xml namespace as default", doc: `<a xmlns="http://www.w3.org/XML/1998/namespace"/>`, kind: Namespace, msg: `xmlns on element <a> binds http://www.w3.org/XML/1998/namespace`},
	{name: "xmlns namespace bound", doc: `<a xmlns:p="http://www.w3.org/2000/xmlns/"/>`, kind: Namespace, msg: `binds http://www.w3.org/2000/xmlns/, which no prefix may be bound to`},
	{name: "xmlns namespace as default", doc: `<a xmlns="http://www.w3.org/2000/xmlns/"/>`, kind: Namespace, msg: `binds http://www.w3.org/2000/xmlns/`},
	{name: "element prefix xmlns", doc: `<xmlns:a/>`, kind: Namespace, msg: `element <xmlns:a> has the prefix xmlns`},
	{name: "end tag without start", doc: `<a/></a>`, kind: Malformed, msg: `end tag </a> without a start tag`},
	{name: "mismatched end tag", doc: "<a>\n<b></c></a>", kind: Malformed, msg: `element <b> (opened at line 2, column 1) is closed by </c>`},
	{name: "end tag with another prefix", doc: `<a xmlns:p="urn:p" xmlns:q="urn:p"><p:b></q:b></a>`, kind: Malformed, msg: `element <p:b> (opened at line 1, column 36) is closed by </q:b>`},
	{name: "unclosed element", doc: "<a>\n  <b>", kind: Malformed, msg: `the document ends inside element <b> (opened at line 2, column 3)`},
	{name: "empty", doc: ``, kind: Malformed, msg: `no root element`},
	{name: "declaration only", doc: `<?xml version="1.0"?>`, kind: Malformed, msg: `no root element`},
	{name: "XML declaration not at the start", doc: ` <?xml version="1.0"?><a/>`, kind: Malformed, msg: `<?xml ...?> is allowed only at the very start of the document`},
	{name: "XML declaration after a byte order mark and a space", doc: "\xef\xbb\xbf <?xml version=\"1.0\"?><a/>", kind: Malformed, msg: `<?xml ...?> is allowed only at the very start`},
	{name: "XML declaration inside", doc: `<a><?xml version="1.0"?></a>`, kind: Malformed, msg: `<?xml ...?> is allowed only at the very start`},
	{name: "reserved PI target", doc: `<?XML version="1.0"?><a/>`, kind: Malformed, msg: `processing instruction target "XML" is reserved`},
	{name: "PI target with a colon", doc: `<?p:i x?><a/>`, kind: Namespace, msg: `processing instruction target "p:i" contains a colon`},
	{name: "DOCTYPE inside the root", doc: `<a><!DOCTYPE a></a>`, kind: Malformed, msg: `<!DOCTYPE ...> after the start of the root element`},
	{name: "DOCTYPE after the root", doc: `<a/><!DOCTYPE a>`, kind: Malformed, msg: `<!DOCTYPE ...> after the start of the root element`},
	{name: "two DOCTYPEs", doc: `<!DOCTYPE a><!DOCTYPE a><a/>`, kind: Malformed, msg: `a second <!DOCTYPE ...>`},
	{name: "markup declaration outside a DOCTYPE", doc: `<!ELEMENT a ANY><a/>`, kind: Malformed, msg: `<!ELEMENT ...>: a markup declaration is allowed only inside a document type declaration`},
	{name: "not well-formed", doc: `<a b="<"/>`, kind: Malformed, msg: `not well-formed XML: unescaped < inside quoted string`},
	{name: "unknown entity", doc: `<a>&e;</a>`, kind: Malformed, msg: `not well-formed XML: invalid character entity &e;`},
	{name: "declarations on one element, default limit", doc: `<a` + decls(0, DefaultNSPerElement+1) + `/>`, kind: Limit, ours: true,
		msg: `more than 64 namespace declarations on element <a> (limit write.max_ns_per_element)`},
	{name: "declarations in the document, default limit", doc: docWithDecls(DefaultNSPerElement, DefaultNSPerDocument/DefaultNSPerElement), kind: Limit, ours: true,
		msg: `more than 1024 namespace declarations in the document (limit write.max_ns_per_document)`},
	{name: "declarations on one element, configured", doc: `<a xmlns="urn:d"` + decls(0, 2) + `/>`, lim: Limits{NSPerElement: 2}, kind: Limit, ours: true,
		msg: `more than 2 namespace declarations on element <a> (limit write.max_ns_per_element)`},
	{name: "declarations in the document, configured", doc: docWithDecls(2, 2), lim: Limits{NSPerElement: 2, NSPerDocument: 5}, kind: Limit, ours: true,
		msg: `more than 5 namespace declarations in the document (limit write.max_ns_per_document)`},
}

var accepted = []struct {
	name string
	doc  string
	lim  Limits
}{
	{"minimal", `<a/>`, Limits{}},
	{"prolog and epilog", "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- c -->\n<?pi x?>\n<a/>\n<!-- after -->\n<?pi after?>\n", Limits{}},
	{"byte order mark", "\xef\xbb\xbf<?xml version=\"1.0\"?><a/>", Limits{}},
	{"byte order mark without declaration", "\xef\xbb\xbf<a/>", Limits{}},
	{"DOCTYPE before the root", `<!DOCTYPE a><a/>`, Limits{}},
	{"namespaces", `<a xmlns="urn:u" xmlns:p="urn:v" p:x="1" x="2" xml:lang="en"><p:b xmlns="">t</p:b><c xml:space="preserve"/></a>`, Limits{}},
	{"default namespace undeclared", `<a xmlns="urn:u"><b xmlns=""/></a>`, Limits{}},
	{"prefix xml declared rightly", `<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:lang="de"/>`, Limits{}},
	{"prefix redeclared", `<p:a xmlns:p="urn:u"><p:b xmlns:p="urn:v" p:c="1"/><p:d/></p:a>`, Limits{}},
	{"prefix back in scope", `<r xmlns:x="urn:1"><a xmlns:x="urn:2"/><x:b/></r>`, Limits{}},
	{"one local name in several namespaces", `<a xmlns:p="urn:u" xmlns:q="urn:v" p:b="1" q:b="2" b="3"/>`, Limits{}},
	{"unprefixed attribute beside a default namespace", `<a xmlns="urn:u" xmlns:p="urn:u" b="1" p:b="2"/>`, Limits{}},
	{"many attributes", `<r` + attrs(40) + `/>`, Limits{}},
	{"declarations at the element limit", `<a` + decls(0, DefaultNSPerElement) + `/>`, Limits{}},
	{"declarations at the document limit", docWithDecls(DefaultNSPerElement, DefaultNSPerDocument/DefaultNSPerElement-1), Limits{}},
	{"configured limits", docWithDecls(2, 2), Limits{NSPerElement: 2, NSPerDocument: 6}},
	{"element named xmlns", `<xmlns/>`, Limits{}},
	{"comments and CDATA", `<a><!-- x --><![CDATA[<b>]]>&amp;&#x20AC;</a>`, Limits{}},
}

// Each problem is refused with its kind, where it is, and a message that names it; libxml2 (xmllint)
// finds each one too, except the limits, which are ours.
func TestCheckRefuses(t *testing.T) {
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			err := Check([]byte(tc.doc), tc.lim)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("Check(%q) = %v, want an *Error", tc.doc, err)
			}
			if e.Kind != tc.kind || !strings.Contains(e.Error(), tc.msg) {
				t.Errorf("Check(%.200q):\n got %s: %v\nwant %s: ...%s...", tc.doc, e.Kind, e, tc.kind, tc.msg)
			}
			if e.Line < 1 || e.Column < 1 || e.Offset < 0 || e.Offset > int64(len(tc.doc)) {
				t.Errorf("position line %d column %d offset %d is not in the document", e.Line, e.Column, e.Offset)
			}
			if tc.ours {
				if clean, msg := xmllint(t, tc.doc); !clean {
					t.Errorf("xmllint refuses it too (the test case is not about the limit alone): %s", msg)
				}
				return
			}
			if clean, _ := xmllint(t, tc.doc); clean {
				t.Errorf("xmllint finds nothing wrong with %.200q", tc.doc)
			}
		})
	}
}

// Documents that are namespace-well-formed pass, and libxml2 agrees.
func TestCheckAccepts(t *testing.T) {
	for _, tc := range accepted {
		t.Run(tc.name, func(t *testing.T) {
			if err := Check([]byte(tc.doc), tc.lim); err != nil {
				t.Fatalf("Check(%.200q) = %v", tc.doc, err)
			}
			if clean, msg := xmllint(t, tc.doc); !clean {
				t.Errorf("xmllint refuses what Check accepts: %s", msg)
			}
		})
	}
}

// The position of a refusal is the markup at fault.
func TestCheckPosition(t *testing.T) {
	doc := "<?xml version=\"1.0\"?>\n<r xmlns:p=\"urn:p\">\n  <p:a/>\n  <q:b/>\n</r>"
	var e *Error
	if !errors.As(Check([]byte(doc), Limits{}), &e) {
		t.Fatal("accepted")
	}
	if e.Line != 4 || e.Column != 3 || doc[e.Offset:e.Offset+5] != "<q:b/" {
		t.Fatalf("refused at line %d, column %d, offset %d (%q); want line 4, column 3, at <q:b/>", e.Line, e.Column, e.Offset, doc[e.Offset:])
	}
	if got := e.Error(); !strings.HasPrefix(got, "line 4, column 3: ") {
		t.Fatalf("message %q does not start with the position", got)
	}
}

// testdataXML returns the XML files under the repository's testdata that are meant to be valid (files named
// bad-* are not).
func testdataXML(t testing.TB) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join("..", "..", "testdata"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".xml") && !strings.HasPrefix(d.Name(), "bad-") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d XML files under testdata", len(files))
	}
	return files
}

// Every real document of the test data passes: the SMP samples of PEPPOL and OASIS, the golden responses,
// the signed samples, the SOAP requests.
func TestCheckTestdata(t *testing.T) {
	smp := 0
	for _, p := range testdataXML(t) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := Check(b, Limits{}); err != nil {
			t.Errorf("%s: %v", p, err)
		}
		if strings.Contains(p, string(filepath.Separator)+"smp"+string(filepath.Separator)) {
			smp++
		}
	}
	if smp < 10 {
		t.Fatalf("only %d SMP documents under testdata/smp", smp)
	}
}

// xmllint reports whether libxml2 reads doc without any error, namespace errors included (those are
// reported on stderr with exit status 0). Without xmllint the test is skipped.
func xmllint(t *testing.T, doc string) (clean bool, msg string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed (scripts/install-test-deps.sh)")
	}
	p := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--nonet", p).CombinedOutput()
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("xmllint: %v", err)
		}
		return false, string(out)
	}
	return len(out) == 0, string(out)
}

func BenchmarkCheck(b *testing.B) {
	for _, p := range testdataXML(b) {
		if !strings.Contains(p, "smp2_servicemetadata1") {
			continue
		}
		doc, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(filepath.Base(filepath.Dir(p))+"/"+filepath.Base(p), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := Check(doc, Limits{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, n := range []int{4000, 16000} {
		doc := []byte(docWithDecls(2, n/2))
		b.Run("decls="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if err := Check(doc, Limits{NSPerDocument: n + 2}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
