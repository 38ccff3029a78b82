package xmldsig

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"

	"github.com/signpost-project/signpost/internal/xmlcheck"
)

// docGen builds a namespace-well-formed document from fuzz input bytes: each byte is one choice (how many
// declarations, which prefix, which URI, ...); when the bytes run out every choice is the first one, so
// every input makes a document. The documents are dense in what canonicalisation has to get right:
// redeclared prefixes, default namespaces set and unset (xmlns=""), prefixed attributes (sorted by
// namespace URI, then local name), bursts of declarations, xml:lang and xml:space, character references
// in text and attributes, CDATA, comments and processing instructions inside and outside the root element.
type docGen struct {
	in  []byte
	pos int
	out strings.Builder
	// elements left to write, so that one input makes a document of bounded size
	budget int
}

func (g *docGen) pick(n int) int {
	if g.pos >= len(g.in) || n <= 1 {
		return 0
	}
	v := int(g.in[g.pos]) % n
	g.pos++
	return v
}

var (
	genPrefixes = []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	genURIs     = []string{"urn:x:0", "urn:x:1", "urn:x:2", "http://example.com/ns/a", "http://example.com/ns/b", "urn:x:0/sub", "http://example.com/ns/%C3%A9"}
	genLocals   = []string{"a", "b", "z"}
	genValues   = []string{"v", "", "x y", "&amp;&lt;&gt;&quot;'", "&#9;&#10;&#13;", "tab\there", "é𝄞", "a\"b", "]]>"}
	genTexts    = []string{"t", " ", "\n  ", "a&amp;b&lt;c&gt;d", "&#13;&#10;", "cr\r\nlf", "]]&gt;", "<![CDATA[<&>]]>", "<!--c-->", "<!---->", "<?p d?>", "<?q?>", "é𝄞\t", "\"'"}
)

// scope is the prefixes bound at the element being written (without the default namespace).
type genScope map[string]string

func (g *docGen) document() string {
	g.budget = 40
	if g.pick(2) == 0 {
		g.out.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	}
	for i := g.pick(3); i > 0; i-- {
		g.out.WriteString("<?before " + strconv.Itoa(i) + "?>\n")
	}
	g.element(genScope{}, 0)
	for i := g.pick(3); i > 0; i-- {
		g.out.WriteString("\n<?after x=\"" + strconv.Itoa(i) + "\"?>")
	}
	if g.pick(2) == 1 {
		g.out.WriteString("\n")
	}
	return g.out.String()
}

func (g *docGen) element(parent genScope, depth int) {
	g.budget--
	scope := make(genScope, len(parent)+4)
	for p, u := range parent {
		scope[p] = u
	}
	var attrs []string
	declared := map[string]bool{}
	declare := func(prefix, uri string) {
		if declared[prefix] {
			return
		}
		declared[prefix] = true
		if prefix == "" {
			attrs = append(attrs, `xmlns="`+uri+`"`)
			return
		}
		attrs = append(attrs, `xmlns:`+prefix+`="`+uri+`"`)
		scope[prefix] = uri
	}
	// Declarations: a few from the pools, sometimes a burst of many.
	for i := g.pick(4); i > 0; i-- {
		switch g.pick(4) {
		case 0:
			uri := ""
			if k := g.pick(len(genURIs) + 1); k > 0 {
				uri = genURIs[k-1]
			}
			declare("", uri)
		default:
			declare(genPrefixes[g.pick(len(genPrefixes))], genURIs[g.pick(len(genURIs))])
		}
	}
	if g.pick(8) == 7 {
		for i, n := 0, 10+g.pick(40); i < n; i++ {
			declare("n"+strconv.Itoa(i), genURIs[(i+g.pick(3))%len(genURIs)])
		}
	}
	var bound []string
	for _, p := range genPrefixes {
		if _, ok := scope[p]; ok {
			bound = append(bound, p)
		}
	}
	// The element's name: unprefixed (the default namespace, if any) or with a bound prefix.
	name := genLocals[g.pick(len(genLocals))]
	if len(bound) > 0 && g.pick(2) == 1 {
		name = bound[g.pick(len(bound))] + ":" + name
	}
	// Attributes, each expanded name once.
	seen := map[string]bool{}
	for i := g.pick(5); i > 0; i-- {
		var qn, expanded string
		switch k := g.pick(6); {
		case k == 0 || len(bound) == 0:
			l := genLocals[g.pick(len(genLocals))]
			qn, expanded = l, "|"+l
		case k == 1:
			qn = []string{"xml:lang", "xml:space"}[g.pick(2)]
			expanded = qn
		default:
			p, l := bound[g.pick(len(bound))], genLocals[g.pick(len(genLocals))]
			qn, expanded = p+":"+l, scope[p]+"|"+l
		}
		if seen[expanded] {
			continue
		}
		seen[expanded] = true
		v := genValues[g.pick(len(genValues))]
		switch qn {
		case "xml:space":
			v = []string{"preserve", "default"}[g.pick(2)]
		case "xml:lang":
			v = []string{"en", "de-CH", ""}[g.pick(3)]
		}
		attrs = append(attrs, qn+`="`+strings.ReplaceAll(strings.ReplaceAll(v, "\"", "&quot;"), "]]>", "]]&gt;")+`"`)
	}
	// Attributes in an order of the input's choosing: canonical order must not depend on it.
	for i := len(attrs) - 1; i > 0; i-- {
		j := g.pick(i + 1)
		attrs[i], attrs[j] = attrs[j], attrs[i]
	}
	g.out.WriteString("<" + name)
	for _, a := range attrs {
		g.out.WriteString(" " + a)
	}
	kids := 0
	if depth < 6 {
		kids = g.pick(4)
	}
	if kids == 0 && g.pick(2) == 0 {
		g.out.WriteString("/>")
		return
	}
	g.out.WriteString(">")
	for i := 0; i < kids; i++ {
		if g.pick(2) == 1 {
			g.out.WriteString(genTexts[g.pick(len(genTexts))])
		}
		if g.budget > 0 {
			g.element(scope, depth+1)
		}
	}
	if g.pick(2) == 1 {
		g.out.WriteString(genTexts[g.pick(len(genTexts))])
	}
	g.out.WriteString("</" + name + ">")
}

// xmllintModes are our modes (with comments, as xmllint always keeps them) and xmllint's option for each:
// the whole document canonicalised.
var xmllintModes = []struct {
	uri, flag string
}{
	{C14N10Comments, "--c14n"},
	{C14N11Comments, "--c14n11"},
	{ExcC14NComments, "--exc-c14n"},
}

// FuzzC14NAgainstLibxml2 canonicalises generated documents with many namespaces with our canonicaliser and
// with libxml2's (xmllint --c14n, --c14n11 and --exc-c14n on the whole document) and requires the same
// bytes. The first input byte chooses the algorithm, the rest the document.
func FuzzC14NAgainstLibxml2(f *testing.F) {
	if _, err := exec.LookPath("xmllint"); err != nil {
		f.Skip("xmllint not installed (scripts/install-test-deps.sh)")
	}
	r := rand.New(rand.NewPCG(10, 0))
	for i := 0; i < 24; i++ {
		seed := make([]byte, 16+r.IntN(400))
		for j := range seed {
			seed[j] = byte(r.Uint32())
		}
		seed[0] = byte(i % len(xmllintModes))
		f.Add(seed)
	}
	f.Add([]byte{0})
	f.Add([]byte{1, 7, 7, 7, 7, 7, 7, 7, 7})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, in []byte) {
		if len(in) == 0 {
			return
		}
		m := xmllintModes[int(in[0])%len(xmllintModes)]
		g := &docGen{in: in[1:]}
		doc := g.document()
		if err := xmlcheck.Check([]byte(doc), xmlcheck.Limits{}); err != nil {
			t.Fatalf("the generator made a document that is not namespace-well-formed: %v\n%s", err, doc)
		}
		want := xmllintC14N(t, dir, m.flag, doc)
		got := ourC14N(t, m.uri, doc)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s differs from xmllint %s for\n%s\n--- ours\n%s\n--- xmllint\n%s", m.uri, m.flag, doc, got, want)
		}
	})
}

// ourC14N canonicalises the whole document doc, comments included, as the verifier reads documents.
func ourC14N(t *testing.T, uri, doc string) []byte {
	t.Helper()
	tree := etree.NewDocument()
	if err := tree.ReadFromBytes(normalizeAttrWhitespace([]byte(doc))); err != nil || tree.Root() == nil {
		t.Fatalf("etree cannot read the generated document (%v):\n%s", err, doc)
	}
	mode, _ := c14nModeFor(uri, "")
	w := newC14NWriter(context.Background(), mode)
	w.document(tree.Root())
	return w.buf
}

// xmllintC14N returns libxml2's canonical form of doc; a document that xmllint reads with any error or
// warning fails the test (the generator must make clean documents).
func xmllintC14N(t *testing.T, dir, flag, doc string) []byte {
	t.Helper()
	f, err := os.CreateTemp(dir, "doc-*.xml")
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(f.Name())
	if _, err := f.WriteString(doc); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command("xmllint", "--nonet", flag, filepath.Base(f.Name()))
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("xmllint %s: %v\n%s\nfor\n%s", flag, err, stderr.String(), doc)
	}
	return stdout.Bytes()
}
