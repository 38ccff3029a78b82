package identifier

import (
	"errors"
	"strings"
	"testing"
)

const (
	demoDocType = "busdox-docid-qns::urn:oasis:names:specification:ubl:schema:xsd:Invoice-2::Invoice##urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0::2.1"
	demoProcess = "cenbii-procid-ubl::urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
	ebCore      = "urn:oasis:names:tc:ebcore:partyid-type:iso6523"
)

var lax = Policy{Lax: true} // lax without case folding

type validCase struct {
	name   string
	policy Policy
	kind   Kind
	in     string
	want   ID
}

var validCases = []validCase{
	// PEPPOL participants
	{"gln", PEPPOL, Participant, "iso6523-actorid-upis::0088:5798000000001", ID{SchemeISO6523, "0088:5798000000001"}},
	{"test ICD", PEPPOL, Participant, "iso6523-actorid-upis::9915:test", ID{SchemeISO6523, "9915:test"}},
	{"value folded", PEPPOL, Participant, "iso6523-actorid-upis::0088:123ABC", ID{SchemeISO6523, "0088:123abc"}},
	{"scheme folded", PEPPOL, Participant, "ISO6523-ACTORID-UPIS::9915:Signpost-Demo", ID{SchemeISO6523, "9915:signpost-demo"}},
	{"all unreserved", PEPPOL, Participant, "iso6523-actorid-upis::0192:A-z.0_9~", ID{SchemeISO6523, "0192:a-z.0_9~"}},
	{"any ICD", PEPPOL, Participant, "iso6523-actorid-upis::0000:x", ID{SchemeISO6523, "0000:x"}},
	{"longest", PEPPOL, Participant, "iso6523-actorid-upis::0088:" + strings.Repeat("a", 130), ID{SchemeISO6523, "0088:" + strings.Repeat("a", 130)}},
	{"other scheme kept case", PEPPOL, Participant, "abc-def-123::Some:Value", ID{"abc-def-123", "Some:Value"}},
	{"other scheme longest value", PEPPOL, Participant, "abc-def-ghi::" + strings.Repeat("X", 135), ID{"abc-def-ghi", strings.Repeat("X", 135)}},
	{"FoldCase other scheme", Policy{FoldCase: []string{"ABC-def-ghi"}}, Participant, "abc-def-ghi::VaLue", ID{"abc-def-ghi", "value"}},
	// PEPPOL document types and processes: case-sensitive values, lower-case schemes
	{"demo doctype", PEPPOL, DocumentType, demoDocType, ID{SchemeDocTypeQNS, strings.TrimPrefix(demoDocType, "busdox-docid-qns::")}},
	{"doctype scheme folded, value not", PEPPOL, DocumentType, "BUSDOX-DOCID-QNS::urn:X::Invoice##A::2.1", ID{SchemeDocTypeQNS, "urn:X::Invoice##A::2.1"}},
	{"wildcard doctype", PEPPOL, DocumentType, "peppol-doctype-wildcard::urn:x::Invoice##urn:peppol:pint:billing-1@*::1.0", ID{SchemeDocTypeWild, "urn:x::Invoice##urn:peppol:pint:billing-1@*::1.0"}},
	{"latin-1 doctype", PEPPOL, DocumentType, "busdox-docid-qns::urn:é:ÿ", ID{SchemeDocTypeQNS, "urn:é:ÿ"}},
	{"doctype 500", PEPPOL, DocumentType, "busdox-docid-qns::" + strings.Repeat("d", 500), ID{SchemeDocTypeQNS, strings.Repeat("d", 500)}},
	{"demo process", PEPPOL, Process, demoProcess, ID{SchemeProcessUBL, "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"}},
	{"process case kept", PEPPOL, Process, "Cenbii-Procid-UBL::URN:X", ID{SchemeProcessUBL, "URN:X"}},
	{"no process", PEPPOL, Process, "busdox-procid-transport::busdox:noprocess", ID{SchemeProcessNone, ValueNoProcess}},
	{"process 200", PEPPOL, Process, "cenbii-procid-ubl::" + strings.Repeat("p", 200), ID{SchemeProcessUBL, strings.Repeat("p", 200)}},
	// OASIS (lax)
	{"oasis participant folded", OASIS, Participant, "iso6523-actorid-upis::0088:ABC", ID{SchemeISO6523, "0088:abc"}},
	{"oasis ebcore", OASIS, Participant, ebCore + "::0088:4035811991021", ID{ebCore, "0088:4035811991021"}},
	{"oasis ebcore scheme folded", OASIS, Participant, strings.ToUpper(ebCore) + "::0088:AB", ID{ebCore, "0088:ab"}},
	{"oasis scheme-less folded", OASIS, Participant, ebCore + ":0088:AB", ID{"", ebCore + ":0088:ab"}},
	{"oasis space in value", OASIS, Participant, "my scheme-x::a b"[3:], ID{"scheme-x", "a b"}},
	{"oasis unicode folded", OASIS, Participant, "s::ÄÖÜ", ID{"s", "äöü"}},
	{"oasis doctype case kept", OASIS, DocumentType, "bdx-docid-qns::Urn:X##Y", ID{"bdx-docid-qns", "Urn:X##Y"}},
	{"oasis no process", OASIS, Process, "bdx:noprocess", ID{"", "bdx:noprocess"}},
	{"oasis value starts with colon", OASIS, Participant, "s:::x", ID{"s", ":x"}},
	{"strict value starts with colon", PEPPOL, Participant, "a-b-c:::x", ID{"a-b-c", ":x"}},
	{"oasis value 1024", OASIS, DocumentType, "s::" + strings.Repeat("é", 1024), ID{"s", strings.Repeat("é", 1024)}},
	{"oasis scheme 100", OASIS, Process, strings.Repeat("s", 100) + "::v", ID{strings.Repeat("s", 100), "v"}},
	{"lax without folding", lax, Participant, "S::AbC", ID{"s", "AbC"}},
	{"lax fold scheme-less via empty entry", Policy{Lax: true, FoldCase: []string{""}}, Participant, "AbC", ID{"", "abc"}},
	{"lax fold listed scheme only", Policy{Lax: true, FoldCase: []string{"a"}}, Participant, "b::AbC", ID{"b", "AbC"}},
}

func TestParseValid(t *testing.T) {
	for _, c := range validCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.policy.Parse(c.kind, c.in)
			if err != nil {
				t.Fatalf("Parse(%v, %q): %v", c.kind, c.in, err)
			}
			if got != c.want {
				t.Fatalf("Parse(%v, %q) = %#v, want %#v", c.kind, c.in, got, c.want)
			}
			// canonical form is a fixed point
			again, err := c.policy.Parse(c.kind, got.String())
			if err != nil || again != got {
				t.Fatalf("Parse(%q) = %#v, %v; want %#v", got.String(), again, err, got)
			}
			// New with the same parts
			scheme, value := "", c.in
			if i := strings.Index(c.in, "::"); i >= 0 {
				scheme, value = c.in[:i], c.in[i+2:]
			}
			viaNew, err := c.policy.New(c.kind, scheme, value)
			if err != nil || viaNew != c.want {
				t.Fatalf("New(%v, %q, %q) = %#v, %v; want %#v", c.kind, scheme, value, viaNew, err, c.want)
			}
			// the URL path segment
			viaSeg, err := c.policy.ParseSegment(c.kind, EncodeID(got))
			if err != nil || viaSeg != c.want {
				t.Fatalf("ParseSegment(%q) = %#v, %v; want %#v", EncodeID(got), viaSeg, err, c.want)
			}
		})
	}
}

type invalidCase struct {
	name   string
	policy Policy
	kind   Kind
	in     string
	rule   string
	part   string
	msg    string // substring of Error()
}

var invalidCases = []invalidCase{
	// structure
	{"unknown kind", PEPPOL, Kind(9), "iso6523-actorid-upis::0088:1", RuleKind, "", "kind(9)"},
	{"zero kind", OASIS, 0, "a::b", RuleKind, "", RuleKind},
	{"no scheme strict", PEPPOL, Participant, "0088:5798000000001", RuleNoScheme, "", `must be "scheme::value"`},
	{"empty", PEPPOL, Participant, "", RuleNoScheme, "", `participant ""`},
	{"empty scheme", PEPPOL, Participant, "::0088:1", RuleSchemeEmpty, "", RuleSchemeEmpty},
	{"empty scheme lax", OASIS, Participant, "::x", RuleSchemeEmpty, "", RuleSchemeEmpty},
	{"empty lax", OASIS, DocumentType, "", RuleValueEmpty, "", RuleValueEmpty},
	{"bad utf-8", OASIS, Participant, "s::a\xffb", RuleUTF8, "\xff", `identifier contains "\xff" at byte 5`},
	{"bad utf-8 strict", PEPPOL, DocumentType, "busdox-docid-qns::\xc3", RuleUTF8, "\xc3", "at byte 19"},
	// PEPPOL schemes
	{"scheme too long", PEPPOL, Participant, "abcdefghij-abcdefghij-abcde::x", RuleSchemeLength, "abcdefghij-abcdefghij-abcde", "scheme has 27 characters"},
	{"scheme space", PEPPOL, Participant, "iso6523 actorid-upis::0088:1", RuleSchemeSpace, " ", "scheme contains a space at position 8"},
	{"scheme tab", OASIS, Participant, "a\tb::x", RuleSchemeSpace, "\t", "scheme contains a tab at position 2"},
	{"scheme non-ascii", PEPPOL, DocumentType, "busdox-docİd-qns::x", RuleSchemeASCII, "İ", `"İ" (U+0130) at position 11`},
	{"participant scheme two groups", PEPPOL, Participant, "iso6523-actorid::0088:1", RuleParticipantForm, "iso6523-actorid", `scheme "iso6523-actorid"`},
	{"participant scheme four groups", PEPPOL, Participant, "a-b-c-d::x", RuleParticipantForm, "a-b-c-d", "DNS label"},
	{"participant scheme empty group", PEPPOL, Participant, "a--c::x", RuleParticipantForm, "a--c", ""},
	{"participant scheme trailing hyphen", PEPPOL, Participant, "a-b-::x", RuleParticipantForm, "a-b-", ""},
	{"participant scheme underscore", PEPPOL, Participant, "a_b-c-d::x", RuleParticipantForm, "a_b-c-d", ""},
	{"participant scheme with colon", PEPPOL, Participant, "a-b-c:d::x", RuleParticipantForm, "a-b-c:d", ""},
	{"doctype scheme", PEPPOL, DocumentType, "bdx-docid-qns::urn:x", RuleDocTypeScheme, "bdx-docid-qns", "busdox-docid-qns or peppol-doctype-wildcard"},
	{"process scheme", PEPPOL, Process, "bdx-procid-transport::x", RuleProcessScheme, "bdx-procid-transport", ""},
	{"process scheme-less strict", PEPPOL, Process, "busdox:noprocess", RuleNoScheme, "", ""},
	{"noprocess other value", PEPPOL, Process, "busdox-procid-transport::busdox:NoProcess", RuleNoProcess, "busdox:NoProcess", ""},
	// iso6523-actorid-upis values
	{"space after ICD", PEPPOL, Participant, "iso6523-actorid-upis::0088:a b", RuleICDValue, " ", "value contains a space at position 7; allowed after the ICD: A-Z a-z 0-9 - . _ ~"},
	{"hash after ICD", PEPPOL, Participant, "iso6523-actorid-upis::0088:a#b", RuleICDValue, "#", `"#" (U+0023) at position 7`},
	{"colon after ICD", PEPPOL, Participant, "iso6523-actorid-upis::0088::x", RuleICDValue, ":", "position 6"},
	{"non-ascii after ICD", PEPPOL, Participant, "iso6523-actorid-upis::0088:æ", RuleICDValue, "æ", "U+00E6"},
	{"three-digit ICD", PEPPOL, Participant, "iso6523-actorid-upis::088:1", RuleICD, ":", "position 4"},
	{"letter ICD", PEPPOL, Participant, "iso6523-actorid-upis::O088:1", RuleICD, "O", "position 1"},
	{"no colon after ICD", PEPPOL, Participant, "iso6523-actorid-upis::00881", RuleICD, "1", "position 5"},
	{"ICD only", PEPPOL, Participant, "iso6523-actorid-upis::0088", RuleICD, "0088", ""},
	{"nothing after ICD", PEPPOL, Participant, "iso6523-actorid-upis::0088:", RuleICDLength, "", RuleICDLength},
	{"empty value", PEPPOL, Participant, "iso6523-actorid-upis::", RuleValueEmpty, "", RuleValueEmpty},
	{"value 136", PEPPOL, Participant, "iso6523-actorid-upis::0088:" + strings.Repeat("a", 131), RuleValueLength, "0088:" + strings.Repeat("a", 131), "value has 136 characters; value is too long (at most 135)"},
	{"wildcard participant", PEPPOL, Participant, "iso6523-actorid-upis::*", RuleICD, "*", ""},
	// other participant schemes
	{"other value space", PEPPOL, Participant, "abc-def-ghi::a b", RuleValueSpace, " ", "position 2"},
	{"other value non-ascii", PEPPOL, Participant, "abc-def-ghi::aé", RuleValueASCII, "é", "position 2"},
	{"other value 136", PEPPOL, Participant, "abc-def-ghi::" + strings.Repeat("x", 136), RuleValueLength, strings.Repeat("x", 136), "(at most 135)"},
	// document types
	{"doctype star", PEPPOL, DocumentType, "busdox-docid-qns::urn:x::Invoice##urn:a@*::1", RuleWildcard, "*", "position 23"},
	{"doctype space", PEPPOL, DocumentType, "busdox-docid-qns::urn:x:: Invoice", RuleValueSpace, " ", "position 8"},
	{"doctype nbsp", PEPPOL, DocumentType, "busdox-docid-qns::a\u00a0b", RuleValueSpace, "\u00a0", "U+00A0"},
	{"doctype beyond latin-1", PEPPOL, DocumentType, "busdox-docid-qns::urn:€", RuleValueLatin1, "€", "position 5"},
	{"doctype control", PEPPOL, DocumentType, "busdox-docid-qns::a\x00", RuleValueControl, "\x00", "position 2"},
	{"doctype 501", PEPPOL, DocumentType, "busdox-docid-qns::" + strings.Repeat("d", 501), RuleValueLength, strings.Repeat("d", 501), "(at most 500)"},
	{"doctype empty", PEPPOL, DocumentType, "busdox-docid-qns::", RuleValueEmpty, "", ""},
	// processes
	{"process 201", PEPPOL, Process, "cenbii-procid-ubl::" + strings.Repeat("p", 201), RuleValueLength, strings.Repeat("p", 201), "(at most 200)"},
	{"process newline", PEPPOL, Process, "cenbii-procid-ubl::a\nb", RuleValueSpace, "\n", "a line feed at position 2"},
	{"process beyond latin-1", PEPPOL, Process, "cenbii-procid-ubl::Ā", RuleValueLatin1, "Ā", ""},
	// lax
	{"lax scheme space", OASIS, DocumentType, "a b::x", RuleSchemeSpace, " ", ""},
	{"lax scheme control", OASIS, DocumentType, "a\x7fb::x", RuleSchemeControl, "\x7f", "U+007F"},
	{"lax scheme trailing colon", OASIS, Participant, "a::::x"[1:], RuleSchemeEmpty, "", ""},
	{"lax scheme 101", OASIS, Participant, strings.Repeat("s", 101) + "::v", RuleSchemeLength, strings.Repeat("s", 101), "(at most 100)"},
	{"lax value control", OASIS, Participant, "s::a\tb", RuleValueControl, "\t", "a tab at position 2"},
	{"lax value C1 control", OASIS, Participant, "s::a\u0085", RuleValueControl, "\u0085", ""},
	{"lax value empty", OASIS, Participant, "s::", RuleValueEmpty, "", ""},
	{"lax value 1025", OASIS, Process, "s::" + strings.Repeat("v", 1025), RuleValueLength, strings.Repeat("v", 1025), "value has 1025 characters"},
	{"lax scheme-less control", OASIS, Participant, "a\rb", RuleValueControl, "\r", "a carriage return"},
}

func TestParseInvalid(t *testing.T) {
	for _, c := range invalidCases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.policy.Parse(c.kind, c.in)
			if err == nil {
				t.Fatalf("Parse(%v, %q) = %#v, want error %q", c.kind, c.in, got, c.rule)
			}
			checkError(t, err, c.kind, c.rule, c.part, c.in, c.msg)
			if !got.IsZero() {
				t.Errorf("ID on error = %#v, want zero", got)
			}
		})
	}
}

func checkError(t *testing.T, err error, kind Kind, rule, part, input, msg string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	if e.Kind != kind || e.Rule != rule || e.Part != part || e.Input != input {
		t.Errorf("error = {Kind %v, Rule %q, Part %q, Input %q}\nwant   {Kind %v, Rule %q, Part %q, Input %q}",
			e.Kind, e.Rule, e.Part, shorten(e.Input), kind, rule, part, shorten(input))
	}
	s := err.Error()
	if !strings.HasPrefix(s, "identifier: ") || !strings.Contains(s, rule) || !strings.Contains(s, msg) {
		t.Errorf("Error() = %s\nwant the prefix, the rule %q and %q", s, rule, msg)
	}
	if kind >= Participant && kind <= Process && !strings.Contains(s, kind.String()) {
		t.Errorf("Error() = %s, does not name the kind %v", s, kind)
	}
}

func TestErrorMessageExample(t *testing.T) {
	_, err := PEPPOL.Parse(Participant, "iso6523-actorid-upis::0088:a b")
	want := `identifier: participant "iso6523-actorid-upis::0088:a b": value contains a space at position 7; allowed after the ICD: A-Z a-z 0-9 - . _ ~`
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	_, err = PEPPOL.Parse(DocumentType, "peppol-wrong::x")
	want = `identifier: document type "peppol-wrong::x": scheme "peppol-wrong": ` + RuleDocTypeScheme
	if err == nil || err.Error() != want {
		t.Fatalf("got  %v\nwant %s", err, want)
	}
	long := "s::" + strings.Repeat("v", 5000)
	_, err = OASIS.Parse(Participant, long)
	if err == nil || len(err.Error()) > 400 {
		t.Fatalf("message for a long input not shortened: %d bytes", len(err.Error()))
	}
}

func TestNew(t *testing.T) {
	cases := []struct {
		name          string
		policy        Policy
		kind          Kind
		scheme, value string
		want          ID
		rule, part    string
		input         string
	}{
		{"xml participant", PEPPOL, Participant, "iso6523-actorid-upis", "0088:ABC", ID{SchemeISO6523, "0088:abc"}, "", "", ""},
		{"value with separator", PEPPOL, DocumentType, "busdox-docid-qns", "a::b", ID{SchemeDocTypeQNS, "a::b"}, "", "", ""},
		{"scheme with separator strict", PEPPOL, DocumentType, "busdox::docid", "x", ID{}, RuleSchemeSeparator, "busdox::docid", "busdox::docid::x"},
		{"scheme with separator lax", OASIS, DocumentType, "a::b", "x", ID{}, RuleSchemeSeparator, "a::b", "a::b::x"},
		{"scheme ending in colon", OASIS, Participant, "a:", "x", ID{}, RuleSchemeColon, "a:", "a:::x"},
		{"scheme-less strict", PEPPOL, Participant, "", "0088:1", ID{}, RuleNoScheme, "", "0088:1"},
		{"scheme-less lax", OASIS, Participant, "", "ABC", ID{"", "abc"}, "", "", ""},
		{"scheme-less with separator", OASIS, DocumentType, "", "a::b", ID{}, RuleValueSeparator, "a::b", "a::b"},
		{"bad utf-8 scheme", OASIS, Participant, "\xfe", "x", ID{}, RuleUTF8, "\xfe", "\xfe::x"},
		{"bad utf-8 value", OASIS, Participant, "s", "x\xfe", ID{}, RuleUTF8, "\xfe", "s::x\xfe"},
		{"bad kind", OASIS, 4, "s", "x", ID{}, RuleKind, "", "s::x"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.policy.New(c.kind, c.scheme, c.value)
			if c.rule == "" {
				if err != nil || got != c.want {
					t.Fatalf("New = %#v, %v; want %#v", got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("New = %#v, want error %q", got, c.rule)
			}
			checkError(t, err, c.kind, c.rule, c.part, c.input, "")
		})
	}
	// the byte position of a UTF-8 error in the value counts from the start of the identifier
	_, err := OASIS.New(Participant, "s", "x\xfe")
	if err == nil || !strings.Contains(err.Error(), "at byte 5") {
		t.Errorf("New bad UTF-8: %v, want byte 5", err)
	}
}

func TestCaseFolding(t *testing.T) {
	p1, _ := PEPPOL.Parse(Participant, "iso6523-actorid-upis::0088:ABCdef")
	p2, _ := PEPPOL.Parse(Participant, "ISO6523-actorid-upis::0088:abcDEF")
	if p1 != p2 || p1.Value != "0088:abcdef" {
		t.Errorf("participants %#v and %#v should be the same lower-case ID", p1, p2)
	}
	d1, _ := PEPPOL.Parse(DocumentType, "busdox-docid-qns::urn:A::Invoice##x::2.1")
	d2, _ := PEPPOL.Parse(DocumentType, "busdox-docid-qns::urn:a::invoice##x::2.1")
	if d1 == d2 || d1.Value != "urn:A::Invoice##x::2.1" {
		t.Errorf("document types %#v and %#v must stay case-sensitive", d1, d2)
	}
	for _, p := range []Policy{PEPPOL, OASIS} {
		pr1, _ := p.Parse(Process, "cenbii-procid-ubl::URN:x")
		if pr1.Value != "URN:x" {
			t.Errorf("process value folded: %#v", pr1)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Participant: "participant", DocumentType: "document type", Process: "process", 0: "kind(0)", 200: "kind(200)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d).String() = %q, want %q", k, got, want)
		}
	}
}

func TestIDString(t *testing.T) {
	if s := (ID{"a", "b::c"}).String(); s != "a::b::c" {
		t.Errorf("String = %q", s)
	}
	if s := (ID{"", "v"}).String(); s != "v" {
		t.Errorf("String = %q", s)
	}
	if !(ID{}).IsZero() || (ID{Value: "v"}).IsZero() || (ID{Scheme: "s"}).IsZero() {
		t.Error("IsZero wrong")
	}
}

func BenchmarkParse(b *testing.B) {
	inputs := []string{
		"iso6523-actorid-upis::0088:5798000000001",
		"iso6523-actorid-upis::0088:123ABC",
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, err := PEPPOL.Parse(Participant, inputs[i&1]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseDocType(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := PEPPOL.Parse(DocumentType, demoDocType); err != nil {
			b.Fatal(err)
		}
	}
}
