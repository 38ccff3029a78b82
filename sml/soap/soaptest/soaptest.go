// Package soaptest helps tests of the SML SOAP interface: it finds testdata/soap and validates the Body element of
// an envelope against the interface's schemas with xmllint (the independent checker).
package soaptest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/beevik/etree"
)

// Dir returns the absolute path of testdata/soap in the repository.
func Dir(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("soaptest: cannot locate the source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..", "testdata", "soap")
}

// Request returns the bytes of testdata/soap/requests/name.
func Request(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir(t), "requests", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// BodyElement returns the first element of the envelope's Body as a standalone document (the namespace
// declarations of its ancestors copied onto it), or nil for an empty Body.
func BodyElement(t testing.TB, envelope []byte) []byte {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(envelope); err != nil {
		t.Fatalf("soaptest: envelope is not XML: %v\n%s", err, envelope)
	}
	root := doc.Root()
	if root == nil || root.Tag != "Envelope" {
		t.Fatalf("soaptest: no Envelope:\n%s", envelope)
	}
	var body *etree.Element
	for _, c := range root.ChildElements() {
		if c.Tag == "Body" {
			body = c
		}
	}
	if body == nil {
		t.Fatalf("soaptest: no Body:\n%s", envelope)
	}
	kids := body.ChildElements()
	if len(kids) == 0 {
		return nil
	}
	el := kids[0].Copy()
	declared := map[string]bool{}
	for _, a := range el.Attr {
		if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
			declared[a.FullKey()] = true
		}
	}
	for _, anc := range []*etree.Element{body, root} {
		for _, a := range anc.Attr {
			if (a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns")) && !declared[a.FullKey()] {
				el.CreateAttr(a.FullKey(), a.Value)
				declared[a.FullKey()] = true
			}
		}
	}
	out := etree.NewDocument()
	out.SetRoot(el)
	b, err := out.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Validate checks an element document against xsd (a file name in testdata/soap/xsd) with xmllint; it fails the
// test with xmllint's output when the document is invalid. Without xmllint the test is skipped with a note.
func Validate(t testing.TB, doc []byte, xsd string) {
	t.Helper()
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed (apt-get install libxml2-utils); schema validation skipped")
	}
	f := filepath.Join(t.TempDir(), "doc.xml")
	if err := os.WriteFile(f, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("xmllint", "--noout", "--nonet", "--schema", filepath.Join(Dir(t), "xsd", xsd), f).CombinedOutput()
	if err != nil {
		t.Errorf("xmllint: %v\n%s\ndocument:\n%s", err, strings.TrimSpace(string(out)), doc)
	}
}
