package identifier

import (
	"crypto/md5" //nolint:gosec // MD5 is what the legacy PEPPOL CNAME scheme prescribes; not a security use.
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
)

// This file is the only place where identifiers are hashed into DNS names.
//
// Lower-casing: PEPPOL values are US-ASCII, for which strings.ToLower equals Java's
// toLowerCase(Locale.US) used by phax and BDMSL. For other (lax) values strings.ToLower applies
// Unicode simple case mapping; the hash input is the UTF-8 bytes of the lower-cased text.

// HashMode says how a participant identifier becomes a DNS owner name (per SML domain).
type HashMode string

// The hashing modes.
const (
	// SchemeLabel (PEPPOL, eDelivery BDXL 1.6): the lower-cased value is hashed and the
	// lower-cased scheme is its own label: <hash>.<scheme>.<zone>.
	SchemeLabel HashMode = "scheme-label"
	// FullID (OASIS BDXL without a scheme label): the lower-cased full identifier is hashed:
	// <hash>.<zone>.
	FullID HashMode = "full-id"
)

// Valid reports whether m is a known hashing mode.
func (m HashMode) Valid() bool { return m == SchemeLabel || m == FullID }

// b32 is the RFC 4648 base32 alphabet in lower case, without padding: it yields
// lowercase(base32 std alphabet, no padding) without a second pass.
var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

const (
	naptrLabelLen = 52 // base32 of 32 bytes, unpadded
	cnameLabelLen = 2 + 2*md5.Size
)

// NAPTRLabel returns lowercase(base32 std alphabet, no padding (SHA-256(lowercase(input)))),
// the 52-character first label of a U-NAPTR owner name.
func NAPTRLabel(input string) string {
	var buf [128]byte
	var out [naptrLabelLen]byte
	naptrLabel(&out, appendLower(buf[:0], input))
	return string(out[:])
}

// CNAMELabel returns "B-" + lowercase hex(MD5(lowercase(input))), the first label of a legacy
// PEPPOL CNAME owner name.
func CNAMELabel(input string) string {
	var buf [128]byte
	var out [cnameLabelLen]byte
	cnameLabel(&out, appendLower(buf[:0], input))
	return string(out[:])
}

// NAPTRName returns the owner name of the participant's NAPTR record: fully qualified with
// exactly one trailing dot, lower case. zone may end in a dot or not.
//
//   - SchemeLabel: NAPTRLabel(value) + "." + lowercase(scheme) + "." + zone (without a scheme
//     label when id.Scheme == "").
//   - FullID: NAPTRLabel(full identifier) + "." + zone, where the full identifier is
//     scheme + ":" + value for an ebCore party-id scheme (prefix
//     "urn:oasis:names:tc:ebcore:partyid-type:"), scheme + "::" + value for other schemes, and
//     the value alone when id.Scheme == "".
//
// It returns "" for an invalid mode.
func NAPTRName(id ID, zone string, mode HashMode) string {
	var in [256]byte
	var label [naptrLabelLen]byte
	switch mode {
	case SchemeLabel:
		naptrLabel(&label, appendLower(in[:0], id.Value))
	case FullID:
		naptrLabel(&label, appendFullID(in[:0], id))
	default:
		return ""
	}
	var out [320]byte
	b := append(out[:0], label[:]...)
	if mode == SchemeLabel {
		b = appendSuffix(b, id.Scheme, zone)
	} else {
		b = appendSuffix(b, "", zone)
	}
	return string(b)
}

// CNAMEName returns the owner name of the participant's legacy CNAME record,
// "B-<md5>." + lowercase(scheme) + "." + zone + ".", in SchemeLabel mode; "" in any other mode.
func CNAMEName(id ID, zone string, mode HashMode) string {
	if mode != SchemeLabel {
		return ""
	}
	var in [256]byte
	var label [cnameLabelLen]byte
	cnameLabel(&label, appendLower(in[:0], id.Value))
	var out [320]byte
	b := append(out[:0], label[:]...)
	return string(appendSuffix(b, id.Scheme, zone))
}

func naptrLabel(out *[naptrLabelLen]byte, lowered []byte) {
	sum := sha256.Sum256(lowered)
	b32.Encode(out[:], sum[:])
}

func cnameLabel(out *[cnameLabelLen]byte, lowered []byte) {
	sum := md5.Sum(lowered) //nolint:gosec // see import
	out[0], out[1] = 'B', '-'
	hex.Encode(out[2:], sum[:])
}

// appendFullID appends the lower-cased full identifier of FullID mode.
func appendFullID(b []byte, id ID) []byte {
	if id.Scheme == "" {
		return appendLower(b, id.Value)
	}
	b = appendLower(b, id.Scheme)
	if isEbCore(id.Scheme) {
		b = append(b, ':')
	} else {
		b = append(b, Separator...)
	}
	return appendLower(b, id.Value)
}

func isEbCore(scheme string) bool {
	return len(scheme) >= len(SchemeEbCorePrefix) && strings.EqualFold(scheme[:len(SchemeEbCorePrefix)], SchemeEbCorePrefix)
}

// appendSuffix appends "." + lowercase(scheme) (if any) + "." + lowercase(zone) (if any) + ".".
func appendSuffix(b []byte, scheme, zone string) []byte {
	b = append(b, '.')
	if scheme != "" {
		b = appendLower(b, scheme)
		b = append(b, '.')
	}
	zone = strings.TrimRight(zone, ".")
	if zone != "" {
		b = appendLower(b, zone)
		b = append(b, '.')
	}
	return b
}

// appendLower appends strings.ToLower(s) to b, without allocating for ASCII input.
func appendLower(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return append(b, strings.ToLower(s)...)
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return b
}
