package xmldsig

import (
	"crypto/x509"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// manyNamespaces returns a document with n namespace declarations in one of three shapes:
//   - "root": all n on the document element, which has n/16 children using some of them;
//   - "nested": a chain of n elements, each declaring one prefix (all n are in scope at the bottom);
//   - "siblings": n/2 on the document element and n/2 children declaring one each.
func manyNamespaces(shape string, n int) string {
	var b strings.Builder
	b.WriteString(`<r:Root xmlns:r="urn:r"`)
	onRoot := 0
	switch shape {
	case "root":
		onRoot = n
	case "siblings":
		onRoot = n / 2
	}
	for i := 0; i < onRoot; i++ {
		b.WriteString(` xmlns:p` + strconv.Itoa(i) + `="urn:ns:` + strconv.Itoa(i) + `"`)
	}
	b.WriteString(`>`)
	switch shape {
	case "root":
		for i := 0; i < n/16; i++ {
			p := "p" + strconv.Itoa(i*16)
			b.WriteString(`<` + p + `:E ` + p + `:a="v">text</` + p + `:E>`)
		}
	case "siblings":
		for i := 0; i < n-onRoot; i++ {
			p := "q" + strconv.Itoa(i)
			b.WriteString(`<` + p + `:E xmlns:` + p + `="urn:q:` + strconv.Itoa(i) + `" p0:a="v">text</` + p + `:E>`)
		}
	case "nested":
		for i := 0; i < n; i++ {
			p := "p" + strconv.Itoa(i)
			b.WriteString(`<` + p + `:E xmlns:` + p + `="urn:ns:` + strconv.Itoa(i) + `">`)
		}
		for i := n - 1; i >= 0; i-- {
			b.WriteString(`</p` + strconv.Itoa(i) + `:E>`)
		}
	}
	b.WriteString(`</r:Root>`)
	return b.String()
}

// BenchmarkC14NManyNamespaces canonicalises documents with 4,000 and 16,000 namespace declarations in every
// mode: with a linear canonicaliser, ns/op for 16,000 is about four times that for 4,000 (it was about 16 times
// when every declaration copied the whole scope). Compare the pairs in the output, e.g.
//
//	go test -run='^$' -bench=C14NManyNamespaces ./xmldsig/
func BenchmarkC14NManyNamespaces(b *testing.B) {
	modes := map[string]string{"c14n10": C14N10, "c14n11": C14N11, "exc": ExcC14N}
	for _, shape := range []string{"root", "nested", "siblings"} {
		for _, mname := range []string{"c14n10", "c14n11", "exc"} {
			for _, n := range []int{4000, 16000} {
				b.Run(shape+"/"+mname+"/decls="+strconv.Itoa(n), func(b *testing.B) {
					doc := etree.NewDocument()
					doc.ReadSettings.MaxDepth = n + 10
					if err := doc.ReadFromString(manyNamespaces(shape, n)); err != nil {
						b.Fatal(err)
					}
					mode := c14nModeOf(modes[mname])
					if mname == "exc" {
						mode, _ = c14nModeFor(ExcC14N, "")
					}
					b.ReportAllocs()
					b.ResetTimer()
					for b.Loop() {
						if len(c14nDocument(mode, doc.Root(), nil)) == 0 {
							b.Fatal("no output")
						}
					}
				})
			}
		}
	}
}

// BenchmarkSignManyNamespaces signs (both digests, the RSA signature and the serialisation) a document with
// 4,000 and 16,000 namespace declarations on its document element.
func BenchmarkSignManyNamespaces(b *testing.B) {
	f := newSignFixture(b)
	s, err := NewSigner(f.leaf.Key, []*x509.Certificate{f.leaf.Cert}, ProfileSMP2)
	if err != nil {
		b.Fatal(err)
	}
	for _, n := range []int{4000, 16000} {
		b.Run("decls="+strconv.Itoa(n), func(b *testing.B) {
			text := manyNamespaces("root", n)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				b.StopTimer()
				doc := etree.NewDocument()
				if err := doc.ReadFromString(text); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := s.SignEnveloped(doc, LastChild); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
