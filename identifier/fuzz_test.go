package identifier

import (
	"errors"
	"testing"
	"unicode/utf8"
)

var fuzzPolicies = []Policy{PEPPOL, OASIS, lax}

func FuzzParse(f *testing.F) {
	for _, c := range validCases {
		f.Add(uint8(c.kind), c.in)
	}
	for _, c := range invalidCases {
		f.Add(uint8(c.kind), c.in)
	}
	f.Add(uint8(Participant), "iso6523-actorid-upis%3A%3A0088%3A1")
	f.Fuzz(func(t *testing.T, kind uint8, s string) {
		k := Kind(kind%4 + 1) // 1..3 valid, 4 invalid
		for _, p := range fuzzPolicies {
			id, err := p.Parse(k, s)
			if err != nil {
				var e *Error
				if !errors.As(err, &e) || e.Rule == "" || e.Kind != k {
					t.Fatalf("Parse(%v, %q): error %#v is not a complete *Error", k, s, err)
				}
				_ = err.Error()
				continue
			}
			if k > Process {
				t.Fatalf("Parse accepted kind %v", k)
			}
			if !utf8.ValidString(id.Scheme) || !utf8.ValidString(id.Value) || id.Value == "" {
				t.Fatalf("Parse(%v, %q) = %#v: invalid parts", k, s, id)
			}
			if !p.Lax && id.Scheme == "" {
				t.Fatalf("strict Parse(%v, %q) = %#v without a scheme", k, s, id)
			}
			again, err := p.Parse(k, id.String())
			if err != nil || again != id {
				t.Fatalf("Parse(%v, %q) = %#v; Parse(String()) = %#v, %v", k, s, id, again, err)
			}
			viaNew, err := p.New(k, id.Scheme, id.Value)
			if err != nil || viaNew != id {
				t.Fatalf("New(%#v) = %#v, %v", id, viaNew, err)
			}
			seg, err := p.ParseSegment(k, EncodeID(id))
			if err != nil || seg != id {
				t.Fatalf("ParseSegment(EncodeID(%#v)) = %#v, %v", id, seg, err)
			}
			if k == Participant && id.Scheme != "" {
				if NAPTRName(id, "z", SchemeLabel) == "" || NAPTRName(id, "z", FullID) == "" {
					t.Fatalf("no NAPTR name for %#v", id)
				}
			}
		}
	})
}

func FuzzDecodeSegment(f *testing.F) {
	for _, s := range []string{
		"iso6523-actorid-upis::0088:5798000000001", "iso6523-actorid-upis%3A%3A0088%3A5798000000001",
		"%3a%3a", "%23", "a+b", "%2F", "%253A", "%G1", "%4", "%", "é", "%C3%A9", "",
	} {
		f.Add(s)
	}
	for _, c := range validCases {
		f.Add(EncodeSegment(c.in))
	}
	f.Fuzz(func(t *testing.T, s string) {
		dec, err := DecodeSegment(s)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Rule != RuleEscape || len(e.Part) == 0 || e.Part[0] != '%' {
				t.Fatalf("DecodeSegment(%q): unexpected error %#v", s, err)
			}
		} else if len(dec) > len(s) {
			t.Fatalf("DecodeSegment(%q) = %q grew", s, dec)
		}
		enc := EncodeSegment(s)
		for i := 0; i < len(enc); i++ {
			if c := enc[i]; c != '%' && !unreservedByte(c) {
				t.Fatalf("EncodeSegment(%q) = %q contains %q", s, enc, c)
			}
		}
		if utf8.ValidString(s) {
			back, err := DecodeSegment(enc)
			if err != nil || back != s {
				t.Fatalf("DecodeSegment(EncodeSegment(%q)) = %q, %v", s, back, err)
			}
		}
	})
}
