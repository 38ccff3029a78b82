package identifier

import "strings"

// DecodeSegment percent-decodes one escaped URL path segment exactly once: "%3A%3A", "%3a%3a"
// and a raw "::" are the same; "%23" is "#"; "+" stays "+" (never a space); "%2F" is a "/"
// inside the value; "%253A" becomes "%3A" (no second decode). A malformed escape ("%G1", "%4")
// is an [*Error] whose Part is the offending escape. The result is not checked for UTF-8;
// Parse does that.
func DecodeSegment(escaped string) (string, error) {
	first := -1
	for i := 0; i < len(escaped); i++ {
		if escaped[i] == '%' {
			first = i
			break
		}
	}
	if first < 0 {
		return escaped, nil
	}
	var b strings.Builder // one allocation: the result
	b.Grow(len(escaped))
	b.WriteString(escaped[:first])
	for i := first; i < len(escaped); {
		c := escaped[i]
		if c != '%' {
			b.WriteByte(c)
			i++
			continue
		}
		hi, ok1 := unhex(escaped, i+1)
		lo, ok2 := unhex(escaped, i+2)
		if !ok1 || !ok2 {
			end := min(i+3, len(escaped))
			return "", &Error{Rule: RuleEscape, Part: escaped[i:end], Input: escaped, where: "segment", pos: i + 1, bytePos: true}
		}
		b.WriteByte(hi<<4 | lo)
		i += 3
	}
	return b.String(), nil
}

func unhex(s string, i int) (byte, bool) {
	if i >= len(s) {
		return 0, false
	}
	switch c := s[i]; {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// EncodeSegment escapes s for use as one URL path segment: every byte outside the RFC 3986
// unreserved set (A-Z a-z 0-9 - . _ ~) becomes %XX with upper-case hex, so ':' is %3A,
// '#' %23, '/' %2F, '+' %2B and ' ' %20. (url.PathEscape leaves ':' and '+' alone, which
// some SMP clients and proxies mishandle.)
func EncodeSegment(s string) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreservedByte(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexDigits = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreservedByte(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

// EncodeID is EncodeSegment(id.String()).
func EncodeID(id ID) string { return EncodeSegment(id.String()) }

func unreservedByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}
