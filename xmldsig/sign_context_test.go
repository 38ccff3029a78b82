package xmldsig

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// endsAfter is a context that ends at its (looks+1)th call of Err: it makes "the deadline passes while
// signing" happen at a chosen point, without any clock.
type endsAfter struct {
	context.Context
	looks, calls int
	done         chan struct{}
}

func newEndsAfter(looks int) *endsAfter {
	return &endsAfter{Context: context.Background(), looks: looks, done: make(chan struct{})}
}

func (c *endsAfter) Done() <-chan struct{} { return c.done }

func (c *endsAfter) Err() error {
	c.calls++
	if c.calls > c.looks {
		if c.calls == c.looks+1 {
			close(c.done)
		}
		return context.Canceled
	}
	return nil
}

// bigDocument has n elements with some text each (and namespaces, so that every part of the canonicaliser
// runs).
func bigDocument(t testing.TB, n int) *etree.Document {
	t.Helper()
	var b strings.Builder
	b.WriteString(`<Root xmlns="urn:root" xmlns:x="urn:x"><Head>h</Head>`)
	for i := 0; i < n; i++ {
		b.WriteString(`<x:Item n="` + strconv.Itoa(i) + `">some text that makes the output longer</x:Item>`)
	}
	b.WriteString(`</Root>`)
	doc := etree.NewDocument()
	if err := doc.ReadFromString(b.String()); err != nil {
		t.Fatal(err)
	}
	return doc
}

func hasSignature(root *etree.Element) bool {
	for _, c := range root.ChildElements() {
		if c.Tag == "Signature" {
			return true
		}
	}
	return false
}

// A context that has already ended stops signing before any work, and the document is left as it was.
func TestSignEnvelopedContextEnded(t *testing.T) {
	f := newSignFixture(t)
	s, err := NewSigner(f.leaf.Key, []*x509.Certificate{f.leaf.Cert}, ProfileSMP1)
	if err != nil {
		t.Fatal(err)
	}
	doc := bigDocument(t, 10)
	before, _ := doc.WriteToString()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out, err := s.SignEnvelopedContext(ctx, doc, SecondChild)
	if !errors.Is(err, context.Canceled) || out != nil {
		t.Fatalf("got %d bytes, err %v; want context.Canceled", len(out), err)
	}
	if after, _ := doc.WriteToString(); after != before {
		t.Fatalf("document changed:\n%s", after)
	}
}

// The canonicaliser looks at its context while it works, every checkEvery elements, and stops at the first
// look after the context ended, with part of the output only.
func TestC14NStopsWhenContextEnds(t *testing.T) {
	const n = 20 * checkEvery
	doc := bigDocument(t, n)
	mode := c14nModeOf(C14N10)
	full := c14nDocument(mode, doc.Root(), nil)

	counter := newEndsAfter(1 << 30)
	out, err := c14nDocumentContext(counter, mode, doc.Root(), nil)
	if err != nil || !bytes.Equal(out, full) {
		t.Fatalf("with a context that does not end: err %v, output differs: %v", err, !bytes.Equal(out, full))
	}
	if counter.calls < n/checkEvery {
		t.Fatalf("the context was looked at %d times for %d elements; want at least %d", counter.calls, n, n/checkEvery)
	}

	ctx := newEndsAfter(2)
	out, err = c14nDocumentContext(ctx, mode, doc.Root(), nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if len(out) >= len(full)/4 {
		t.Fatalf("wrote %d of %d bytes after the context ended at the third look", len(out), len(full))
	}
	if ctx.calls != 3 {
		t.Fatalf("the context was looked at %d times after it ended; want no look after the one that saw it end", ctx.calls-3)
	}
}

// Wherever signing is when the context ends (canonicalisation of the document, of SignedInfo, or
// serialisation), it stops with the context's error and leaves the document without a signature; once the
// context outlives the work, the signature verifies. Both phases look at the context repeatedly.
func TestSignEnvelopedContextStopsAnywhere(t *testing.T) {
	f := newSignFixture(t)
	s, err := NewSigner(f.leaf.Key, []*x509.Certificate{f.leaf.Cert}, ProfileSMP2)
	if err != nil {
		t.Fatal(err)
	}
	const n = 4 * checkEvery
	doc := bigDocument(t, n)
	kids := len(doc.Root().Child)
	var out []byte
	looks := 0
	for ; looks < 10000; looks++ {
		out, err = s.SignEnvelopedContext(newEndsAfter(looks), doc, LastChild)
		if err == nil {
			break
		}
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "signing stopped") {
			t.Fatalf("context ends at look %d: err %v, want one that wraps context.Canceled", looks+1, err)
		}
		if out != nil || hasSignature(doc.Root()) || len(doc.Root().Child) != kids {
			t.Fatalf("context ends at look %d: the document keeps a signature or output was returned", looks+1)
		}
	}
	if err != nil {
		t.Fatalf("still failing after %d looks: %v", looks, err)
	}
	// At least one look at the start, one per checkEvery elements, and one per 4 KiB written (counted with
	// slack for buffering).
	if want := 1 + n/checkEvery + len(out)/8192; looks < want {
		t.Errorf("signing looked at its context %d times for %d elements and %d bytes; want at least %d", looks, n, len(out), want)
	}
	if _, _, err := (&Verifier{Roots: rootPool(f)}).Verify(out); err != nil {
		t.Fatalf("the signature made once the context outlived the work does not verify: %v", err)
	}
	if ok, msg := f.xmlsecVerify(t, out); !ok {
		t.Fatalf("xmlsec1 rejects it:\n%s", msg)
	}
}

// rootPool returns the fixture's trust anchor.
func rootPool(f *signFixture) *x509.CertPool {
	pool := x509.NewCertPool()
	if pem, err := os.ReadFile(f.caFile); err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	return pool
}
