package identifier

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Rules broken, as found in [Error.Rule]. The texts are stable: callers may compare them.
const (
	RuleKind            = "unknown identifier kind"
	RuleUTF8            = "must be valid UTF-8"
	RuleEscape          = "percent-escapes must be % followed by two hex digits"
	RuleNoScheme        = `must be "scheme::value"`
	RuleSchemeEmpty     = "scheme must not be empty"
	RuleSchemeLength    = "scheme is too long"
	RuleSchemeSpace     = "scheme must not contain whitespace"
	RuleSchemeControl   = "scheme must not contain control characters"
	RuleSchemeASCII     = "scheme must be US-ASCII"
	RuleSchemeSeparator = `scheme must not contain "::"`
	RuleSchemeColon     = `scheme must not end with ":"`
	RuleParticipantForm = "participant scheme must be three groups of a-z 0-9 joined by '-' (it becomes a DNS label)"
	RuleDocTypeScheme   = "document type scheme must be busdox-docid-qns or peppol-doctype-wildcard"
	RuleProcessScheme   = "process scheme must be cenbii-procid-ubl or busdox-procid-transport"
	RuleNoProcess       = "scheme busdox-procid-transport only names the value busdox:noprocess"
	RuleValueEmpty      = "value must not be empty"
	RuleValueLength     = "value is too long"
	RuleValueSpace      = "value must not contain whitespace"
	RuleValueControl    = "value must not contain control characters"
	RuleValueASCII      = "value must be US-ASCII"
	RuleValueLatin1     = "value must be ISO-8859-1"
	RuleValueSeparator  = `a value without a scheme must not contain "::"`
	RuleICD             = `iso6523-actorid-upis value must start with a four-digit ICD and ":"`
	RuleICDValue        = "allowed after the ICD: A-Z a-z 0-9 - . _ ~"
	RuleICDLength       = "the part after the ICD must be 1 to 130 characters"
	RuleWildcard        = `"*" is only allowed with scheme peppol-doctype-wildcard`
)

// Error is every validation error of this package: it names the kind, the rule broken, and
// the offending part.
type Error struct {
	Kind  Kind   // what the identifier names; 0 for DecodeSegment without a kind
	Rule  string // the rule broken, one of the Rule* constants
	Part  string // the offending part: the character, the escape, the scheme or the value
	Input string // the whole input (decoded, except for escape errors)

	where   string // "scheme", "value", "identifier" or "segment"
	pos     int    // 1-based position of Part in where, in characters (bytes if bytePos); 0 = none
	bytePos bool   // pos counts bytes
	limit   int    // the maximum for length rules
	n       int    // the length found, for length rules
}

// maxShown bounds how much of an input an error message quotes.
const maxShown = 200

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("identifier: ")
	if e.Kind == 0 {
		b.WriteString("path segment")
	} else {
		b.WriteString(e.Kind.String())
	}
	b.WriteByte(' ')
	b.WriteString(strconv.Quote(shorten(e.Input)))
	b.WriteString(": ")
	switch {
	case e.limit > 0:
		fmt.Fprintf(&b, "%s has %d characters; %s (at most %d)", e.where, e.n, e.Rule, e.limit)
	case e.pos > 0 && e.bytePos:
		fmt.Fprintf(&b, "%s contains %s at byte %d; %s", e.where, describe(e.Part), e.pos, e.Rule)
	case e.pos > 0:
		fmt.Fprintf(&b, "%s contains %s at position %d; %s", e.where, describe(e.Part), e.pos, e.Rule)
	case e.where == "scheme" && e.Part != "":
		fmt.Fprintf(&b, "scheme %q: %s", shorten(e.Part), e.Rule)
	default:
		b.WriteString(e.Rule)
	}
	return b.String()
}

// describe names an offending character (or escape) for a message.
func describe(part string) string {
	r, size := utf8.DecodeRuneInString(part)
	if size != len(part) || (r == utf8.RuneError && size <= 1) {
		return strconv.Quote(part)
	}
	switch r {
	case ' ':
		return "a space"
	case '\t':
		return "a tab"
	case '\n':
		return "a line feed"
	case '\r':
		return "a carriage return"
	}
	return fmt.Sprintf("%q (U+%04X)", part, r)
}

// shorten cuts s to about maxShown bytes at a rune boundary.
func shorten(s string) string {
	if len(s) <= maxShown {
		return s
	}
	i := maxShown
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
