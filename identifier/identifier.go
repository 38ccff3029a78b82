package identifier

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Kind says what an identifier names.
type Kind uint8

// The kinds of identifiers.
const (
	Participant Kind = iota + 1
	DocumentType
	Process
)

// String returns "participant", "document type" or "process".
func (k Kind) String() string {
	switch k {
	case Participant:
		return "participant"
	case DocumentType:
		return "document type"
	case Process:
		return "process"
	}
	return "kind(" + itoa(int(k)) + ")"
}

// ID is an identifier "scheme::value"; Scheme is "" for a scheme-less identifier (lax mode
// only). IDs returned by this package are canonical (see the package comment) and comparable
// with ==.
type ID struct {
	Scheme, Value string
}

// String returns "scheme::value", or just the value when Scheme == "".
func (id ID) String() string {
	if id.Scheme == "" {
		return id.Value
	}
	return id.Scheme + Separator + id.Value
}

// IsZero reports whether id is the zero ID.
func (id ID) IsZero() bool { return id.Scheme == "" && id.Value == "" }

// Separator separates scheme and value.
const Separator = "::"

// Well-known schemes and values (all canonical lower case).
const (
	SchemeISO6523        = "iso6523-actorid-upis"
	SchemeDocTypeQNS     = "busdox-docid-qns"
	SchemeDocTypeWild    = "peppol-doctype-wildcard"
	SchemeProcessUBL     = "cenbii-procid-ubl"
	SchemeProcessNone    = "busdox-procid-transport"
	ValueNoProcess       = "busdox:noprocess"
	SchemeEbCorePrefix   = "urn:oasis:names:tc:ebcore:partyid-type:"
	maxStrictScheme      = 25
	maxLaxScheme         = 100
	maxParticipantValue  = 135
	maxICDPart           = 130
	maxDocTypeValue      = 500
	maxProcessValue      = 200
	maxLaxValue          = 1024
	foldEverySchemeEntry = "*"
)

// Policy decides which identifiers are valid and how case is folded.
type Policy struct {
	// Lax is false for the PEPPOL policy (strict) and true for OASIS / eDelivery: any scheme,
	// scheme optional.
	Lax bool
	// FoldCase lists the participant schemes whose values are case-insensitive and stored
	// lower case ("*" = every scheme, including none; "" = scheme-less identifiers). Entries
	// are compared case-insensitively. It applies in both modes; in strict mode
	// iso6523-actorid-upis is always folded in addition.
	FoldCase []string
}

// PEPPOL is the strict PEPPOL policy.
var PEPPOL = Policy{}

// OASIS is the lax OASIS / eDelivery policy with the OASIS SMP 2.0 rule: identifiers are
// case-insensitive unless a scheme says otherwise.
var OASIS = Policy{Lax: true, FoldCase: []string{"*"}}

// Parse splits s at the FIRST "::" and validates scheme and value for kind k. It returns the
// canonical ID: the scheme lower-cased, a participant value lower-cased where its scheme is
// case-insensitive, document type and process values untouched (case-sensitive). Without
// "::", s is a scheme-less value (lax mode) or an error (strict mode).
func (p Policy) Parse(k Kind, s string) (ID, error) {
	if e := checkKindUTF8(k, s); e != nil {
		return ID{}, e
	}
	i := strings.Index(s, Separator)
	if i < 0 {
		if !p.Lax {
			return ID{}, &Error{Kind: k, Rule: RuleNoScheme, Input: s, where: "identifier"}
		}
		return p.check(k, "", s, s)
	}
	if i == 0 {
		return ID{}, &Error{Kind: k, Rule: RuleSchemeEmpty, Input: s, where: "scheme"}
	}
	return p.check(k, s[:i], s[i+len(Separator):], s)
}

// New validates separately given parts (an XML scheme attribute and the text content) the
// same way as Parse. An empty scheme means a scheme-less identifier (lax mode only).
func (p Policy) New(k Kind, scheme, value string) (ID, error) {
	if e := checkKindUTF8(k, scheme); e != nil {
		e.Input = joined(scheme, value)
		return ID{}, e
	}
	if e := checkKindUTF8(k, value); e != nil {
		e.Input = joined(scheme, value)
		if scheme != "" && e.pos > 0 {
			e.pos += len(scheme) + len(Separator)
		}
		return ID{}, e
	}
	if scheme == "" && !p.Lax {
		return ID{}, &Error{Kind: k, Rule: RuleNoScheme, Input: value, where: "identifier"}
	}
	return p.check(k, scheme, value, "")
}

// ParseSegment decodes ONE escaped URL path segment exactly once (see DecodeSegment) and
// parses the result.
func (p Policy) ParseSegment(k Kind, escaped string) (ID, error) {
	s, err := DecodeSegment(escaped)
	if err != nil {
		err.(*Error).Kind = k
		return ID{}, err
	}
	return p.Parse(k, s)
}

func joined(scheme, value string) string {
	if scheme == "" {
		return value
	}
	return scheme + Separator + value
}

// checkKindUTF8 checks the kind and the encoding of s.
func checkKindUTF8(k Kind, s string) *Error {
	if k < Participant || k > Process {
		return &Error{Kind: k, Rule: RuleKind, Input: s, where: "identifier"}
	}
	if utf8.ValidString(s) {
		return nil
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			return &Error{Kind: k, Rule: RuleUTF8, Part: s[i : i+1], Input: s, where: "identifier", pos: i + 1, bytePos: true}
		}
		i += size
	}
	return nil // unreachable
}

// check validates scheme and value (valid UTF-8) and canonicalises them. input is the text
// shown in errors; "" means scheme and value were given separately.
func (p Policy) check(k Kind, scheme, value, input string) (ID, error) {
	origScheme := scheme
	fail := func(e *Error) (ID, error) {
		e.Kind = k
		if input == "" {
			input = joined(origScheme, value)
		}
		e.Input = input
		return ID{}, e
	}
	if scheme == "" {
		// Lax mode only (the callers check).
		if strings.Contains(value, Separator) {
			return fail(&Error{Rule: RuleValueSeparator, Part: value, where: "value"})
		}
	} else {
		canon, e := p.checkScheme(k, scheme)
		if e != nil {
			return fail(e)
		}
		scheme = canon
	}
	var e *Error
	if p.Lax {
		e = checkValue(value, maxLaxValue, false, 0)
	} else {
		switch k {
		case Participant:
			if scheme == SchemeISO6523 {
				e = checkISO6523(value)
			} else {
				e = checkValue(value, maxParticipantValue, true, 0x7F)
			}
		case DocumentType:
			e = checkValue(value, maxDocTypeValue, true, 0xFF)
			if e == nil && scheme == SchemeDocTypeQNS {
				if i := strings.IndexByte(value, '*'); i >= 0 {
					e = &Error{Rule: RuleWildcard, Part: "*", where: "value", pos: utf8.RuneCountInString(value[:i]) + 1}
				}
			}
		case Process:
			e = checkValue(value, maxProcessValue, true, 0xFF)
			if e == nil && scheme == SchemeProcessNone && value != ValueNoProcess {
				e = &Error{Rule: RuleNoProcess, Part: value, where: "value"}
			}
		}
	}
	if e != nil {
		return fail(e)
	}
	if k == Participant && p.folds(scheme) {
		if p.Lax {
			value = strings.ToLower(value)
		} else {
			value = asciiLower(value)
		}
	}
	return ID{Scheme: scheme, Value: value}, nil
}

// folds reports whether participant values of the (canonical) scheme are case-insensitive.
func (p Policy) folds(scheme string) bool {
	if !p.Lax && scheme == SchemeISO6523 {
		return true
	}
	for _, s := range p.FoldCase {
		if s == foldEverySchemeEntry || strings.EqualFold(s, scheme) {
			return true
		}
	}
	return false
}

// checkScheme validates a non-empty scheme and returns it in canonical lower case.
func (p Policy) checkScheme(k Kind, scheme string) (string, *Error) {
	n := 0
	for i, r := range scheme {
		n++
		switch {
		case unicode.IsSpace(r):
			return "", &Error{Rule: RuleSchemeSpace, Part: scheme[i : i+utf8.RuneLen(r)], where: "scheme", pos: n}
		case unicode.IsControl(r):
			return "", &Error{Rule: RuleSchemeControl, Part: scheme[i : i+utf8.RuneLen(r)], where: "scheme", pos: n}
		case !p.Lax && r > 0x7F:
			return "", &Error{Rule: RuleSchemeASCII, Part: scheme[i : i+utf8.RuneLen(r)], where: "scheme", pos: n}
		}
	}
	if strings.Contains(scheme, Separator) {
		return "", &Error{Rule: RuleSchemeSeparator, Part: scheme, where: "scheme"}
	}
	if p.Lax {
		if n > maxLaxScheme {
			return "", &Error{Rule: RuleSchemeLength, Part: scheme, where: "scheme", limit: maxLaxScheme, n: n}
		}
		if scheme[len(scheme)-1] == ':' {
			// "a:" + "::" + "v" would read back as "a" and ":v".
			return "", &Error{Rule: RuleSchemeColon, Part: scheme, where: "scheme"}
		}
		return strings.ToLower(scheme), nil
	}
	if n > maxStrictScheme {
		return "", &Error{Rule: RuleSchemeLength, Part: scheme, where: "scheme", limit: maxStrictScheme, n: n}
	}
	scheme = asciiLower(scheme)
	switch k {
	case Participant:
		if !isParticipantScheme(scheme) {
			return "", &Error{Rule: RuleParticipantForm, Part: scheme, where: "scheme"}
		}
	case DocumentType:
		if scheme != SchemeDocTypeQNS && scheme != SchemeDocTypeWild {
			return "", &Error{Rule: RuleDocTypeScheme, Part: scheme, where: "scheme"}
		}
	case Process:
		if scheme != SchemeProcessUBL && scheme != SchemeProcessNone {
			return "", &Error{Rule: RuleProcessScheme, Part: scheme, where: "scheme"}
		}
	}
	return scheme, nil
}

// isParticipantScheme matches ^[a-z0-9]+-[a-z0-9]+-[a-z0-9]+$.
func isParticipantScheme(s string) bool {
	groups, run := 1, 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			run++
		case c == '-' && run > 0:
			groups++
			run = 0
		default:
			return false
		}
	}
	return groups == 3 && run > 0
}

// checkValue checks a generic value: non-empty, at most limit characters, no control
// characters, no whitespace if strict, no rune above maxRune (0 = no limit).
func checkValue(v string, limit int, strict bool, maxRune rune) *Error {
	if v == "" {
		return &Error{Rule: RuleValueEmpty, where: "value"}
	}
	if len(v) > limit {
		if n := utf8.RuneCountInString(v); n > limit {
			return &Error{Rule: RuleValueLength, Part: v, where: "value", limit: limit, n: n}
		}
	}
	n := 0
	for i, r := range v {
		n++
		rule := ""
		switch {
		case strict && unicode.IsSpace(r):
			rule = RuleValueSpace
		case unicode.IsControl(r):
			rule = RuleValueControl
		case maxRune == 0x7F && r > maxRune:
			rule = RuleValueASCII
		case maxRune != 0 && r > maxRune:
			rule = RuleValueLatin1
		default:
			continue
		}
		return &Error{Rule: rule, Part: v[i : i+utf8.RuneLen(r)], where: "value", pos: n}
	}
	return nil
}

// checkISO6523 checks an iso6523-actorid-upis value "NNNN:id".
func checkISO6523(v string) *Error {
	if v == "" {
		return &Error{Rule: RuleValueEmpty, where: "value"}
	}
	if len(v) > maxParticipantValue {
		if n := utf8.RuneCountInString(v); n > maxParticipantValue {
			return &Error{Rule: RuleValueLength, Part: v, where: "value", limit: maxParticipantValue, n: n}
		}
	}
	n := 0
	for i, r := range v {
		n++
		ok := false
		switch {
		case n <= 4:
			ok = r >= '0' && r <= '9'
		case n == 5:
			ok = r == ':'
		default:
			ok = isUnreserved(r)
		}
		if !ok {
			rule := RuleICDValue
			if n <= 5 {
				rule = RuleICD
			}
			return &Error{Rule: rule, Part: v[i : i+utf8.RuneLen(r)], where: "value", pos: n}
		}
	}
	if n < 5 {
		return &Error{Rule: RuleICD, Part: v, where: "value"}
	}
	if n == 5 {
		return &Error{Rule: RuleICDLength, Part: "", where: "value"}
	}
	return nil // at most maxParticipantValue = 4 + 1 + maxICDPart characters
}

func isUnreserved(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		r == '-' || r == '.' || r == '_' || r == '~'
}

// asciiLower lower-cases A-Z only; it returns s itself when nothing changes.
func asciiLower(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			break
		}
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if c := b[i]; c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}
