package identifier

import (
	"net/url"
	"strings"
	"testing"
)

func TestDecodeSegment(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"raw separator", "iso6523-actorid-upis::0088:5798000000001", "iso6523-actorid-upis::0088:5798000000001"},
		{"upper-case escapes", "iso6523-actorid-upis%3A%3A0088%3A5798000000001", "iso6523-actorid-upis::0088:5798000000001"},
		{"lower-case escapes", "iso6523-actorid-upis%3a%3a0088%3a5798000000001", "iso6523-actorid-upis::0088:5798000000001"},
		{"mixed", "iso6523-actorid-upis%3A:0088:5798000000001", "iso6523-actorid-upis::0088:5798000000001"},
		{"hash", "busdox-docid-qns%3A%3Aurn%3Ax%3A%3AInvoice%23%23urn%3Acen.eu%3Aen16931%3A2017%23compliant%3A%3A2.1", "busdox-docid-qns::urn:x::Invoice##urn:cen.eu:en16931:2017#compliant::2.1"},
		{"plus is a plus", "s::a+b", "s::a+b"},
		{"escaped plus", "s::a%2Bb", "s::a+b"},
		{"plus next to an escape", "s%3A%3Aa+b%2B+", "s::a+b++"},
		{"escaped space", "s::a%20b", "s::a b"},
		{"slash inside the value", "s::a%2Fb", "s::a/b"},
		{"lower-case slash", "s::a%2fb", "s::a/b"},
		{"decoded once", "iso6523-actorid-upis%253A%253A0088%253A1", "iso6523-actorid-upis%3A%3A0088%3A1"},
		{"percent itself", "s::100%25", "s::100%"},
		{"utf-8", "s::%C3%A9", "s::é"},
		{"empty", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeSegment(c.in)
			if err != nil || got != c.want {
				t.Fatalf("DecodeSegment(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
}

func TestDecodeSegmentMalformed(t *testing.T) {
	cases := []struct {
		name, in, part, msg string
	}{
		{"bad hex", "s::%G1", "%G1", `"%G1" at byte 4`},
		{"bad second digit", "s::a%4x", "%4x", "at byte 5"},
		{"truncated", "s::%4", "%4", `"%4" at byte 4`},
		{"lone percent", "%", "%", "at byte 1"},
		{"after a good escape", "%3A%zz", "%zz", "at byte 4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := DecodeSegment(c.in)
			if err == nil {
				t.Fatalf("DecodeSegment(%q) = %q, want an error", c.in, got)
			}
			checkError(t, err, 0, RuleEscape, c.part, c.in, c.msg)
			if !strings.Contains(err.Error(), "path segment") {
				t.Errorf("Error() = %v, want it to say path segment", err)
			}
			// ParseSegment reports the same error with the kind set
			_, err = OASIS.ParseSegment(Process, c.in)
			checkError(t, err, Process, RuleEscape, c.part, c.in, c.msg)
		})
	}
}

func TestEncodeSegment(t *testing.T) {
	cases := []struct{ in, want string }{
		{"iso6523-actorid-upis::0088:5798000000001", "iso6523-actorid-upis%3A%3A0088%3A5798000000001"},
		{"a#b/c+d e%f", "a%23b%2Fc%2Bd%20e%25f"},
		{"AZaz09-._~", "AZaz09-._~"},
		{"é", "%C3%A9"},
		{"", ""},
	}
	for _, c := range cases {
		if got := EncodeSegment(c.in); got != c.want {
			t.Errorf("EncodeSegment(%q) = %q, want %q", c.in, got, c.want)
		}
		back, err := DecodeSegment(c.want)
		if err != nil || back != c.in {
			t.Errorf("DecodeSegment(EncodeSegment(%q)) = %q, %v", c.in, back, err)
		}
		// what any RFC 3986 decoder makes of it
		if u, err := url.PathUnescape(c.want); err != nil || u != c.in {
			t.Errorf("url.PathUnescape(%q) = %q, %v", c.want, u, err)
		}
	}
}

func TestDemoIdentifiersInURLs(t *testing.T) {
	doc, err := PEPPOL.Parse(DocumentType, demoDocType)
	if err != nil {
		t.Fatal(err)
	}
	enc := EncodeID(doc)
	if strings.ContainsAny(enc, ":#/+ ") {
		t.Fatalf("EncodeID = %q still contains a reserved character", enc)
	}
	want := "busdox-docid-qns%3A%3Aurn%3Aoasis%3Anames%3Aspecification%3Aubl%3Aschema%3Axsd%3AInvoice-2%3A%3AInvoice%23%23urn%3Acen.eu%3Aen16931%3A2017%23compliant%23urn%3Afdc%3Apeppol.eu%3A2017%3Apoacc%3Abilling%3A3.0%3A%3A2.1"
	if enc != want {
		t.Fatalf("EncodeID(demo doctype) =\n%s\nwant\n%s", enc, want)
	}
	for _, seg := range []string{enc, strings.ReplaceAll(enc, "%3A", "%3a"), strings.ReplaceAll(enc, "%3A", ":")} {
		got, err := PEPPOL.ParseSegment(DocumentType, seg)
		if err != nil || got != doc {
			t.Errorf("ParseSegment(%q) = %#v, %v; want %#v", seg, got, err, doc)
		}
	}
	// a raw '#' never reaches the server (it starts the fragment); what arrives is cut short
	cut := strings.ReplaceAll(enc, "%23", "#")
	cut = cut[:strings.IndexByte(cut, '#')]
	if got, err := PEPPOL.ParseSegment(DocumentType, cut); err == nil && got == doc {
		t.Errorf("a truncated segment must not give the demo document type")
	}

	proc, err := PEPPOL.ParseSegment(Process, "cenbii-procid-ubl%3A%3Aurn%3Afdc%3Apeppol.eu%3A2017%3Apoacc%3Abilling%3A01%3A1.0")
	if err != nil || proc.String() != demoProcess {
		t.Fatalf("process = %v, %v; want %s", proc, err, demoProcess)
	}
	part, err := PEPPOL.ParseSegment(Participant, "ISO6523-ACTORID-UPIS%3a%3a9915%3aSignpost-Demo")
	if err != nil || part.String() != "iso6523-actorid-upis::9915:signpost-demo" {
		t.Fatalf("participant = %v, %v", part, err)
	}
	// double-encoded input is decoded once and then rejected, not silently accepted
	if _, err := PEPPOL.ParseSegment(Participant, "iso6523-actorid-upis%253A%253A9915%253Atest"); err == nil {
		t.Errorf("double-encoded participant accepted")
	}
}

func BenchmarkParseSegment(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PEPPOL.ParseSegment(Participant, "iso6523-actorid-upis%3A%3A0088%3A5798000000001"); err != nil {
			b.Fatal(err)
		}
	}
}
