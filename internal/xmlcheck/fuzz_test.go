package xmlcheck

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/beevik/etree"
)

// FuzzCheck: Check never panics; every refusal is an *Error with a position inside the document; and what
// Check accepts, encoding/xml's namespace-aware Token reads to the end without error, and etree builds a
// tree of it with a root element (which is what the SMP does next).
func FuzzCheck(f *testing.F) {
	for _, tc := range refusals {
		if len(tc.doc) < 4096 {
			f.Add([]byte(tc.doc))
		}
	}
	for _, tc := range accepted {
		if len(tc.doc) < 4096 {
			f.Add([]byte(tc.doc))
		}
	}
	for _, p := range testdataXML(f) {
		if b, err := os.ReadFile(p); err == nil && len(b) < 16<<10 {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		err := Check(doc, Limits{NSPerElement: 8, NSPerDocument: 32})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, want *Error", err, err)
			}
			if e.Kind < Malformed || e.Kind > Limit || e.Msg == "" || e.Line < 1 || e.Column < 1 || e.Offset < 0 || e.Offset > int64(len(doc)) {
				t.Fatalf("refusal without a kind, a message or a position in the document: %#v", e)
			}
			return
		}
		d := xml.NewDecoder(bytes.NewReader(doc))
		roots, depth := 0, 0
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Check accepts what encoding/xml refuses: %v\n%q", err, doc)
			}
			switch tok.(type) {
			case xml.StartElement:
				if depth == 0 {
					roots++
				}
				depth++
			case xml.EndElement:
				depth--
			}
		}
		if roots != 1 {
			t.Fatalf("Check accepts a document with %d root elements: %q", roots, doc)
		}
		tree := etree.NewDocument()
		if err := tree.ReadFromBytes(doc); err != nil || tree.Root() == nil {
			t.Fatalf("Check accepts what etree cannot read (err %v): %q", err, doc)
		}
	})
}
