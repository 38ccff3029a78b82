package lookup

import (
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// Binding is the SMP interface a lookup uses.
type Binding string

// The bindings.
const (
	// BindingRoot is PEPPOL SMP 1.x or OASIS BDXR SMP 1.0 on the root paths (NAPTR service Meta:SMP, or the
	// legacy CNAME); which of the two is told by the response's namespace.
	BindingRoot Binding = "smp1"
	// BindingPEPPOL and BindingOASIS1 are BindingRoot once the response told which it is.
	BindingPEPPOL Binding = "peppol-smp-1"
	BindingOASIS1 Binding = "oasis-bdxr-smp-1"
	// BindingOASIS2 is OASIS SMP 2.0 under /bdxr-smp-2/ (NAPTR service oasis-bdxr-smp-2[#...]).
	BindingOASIS2 Binding = "oasis-bdxr-smp-2"
)

// naptrChoice is the NAPTR record a lookup uses and what it yields.
type naptrChoice struct {
	record  *dns.NAPTR
	binding Binding
	baseURL string
}

// serviceBinding returns the binding a NAPTR service field selects, compared case-insensitively.
func serviceBinding(service string) (Binding, bool) {
	s := strings.ToLower(service)
	switch {
	case s == "meta:smp":
		return BindingRoot, true
	case s == "oasis-bdxr-smp-2" || strings.HasPrefix(s, "oasis-bdxr-smp-2#"):
		return BindingOASIS2, true
	}
	return "", false
}

// chooseNAPTR keeps the terminal ("U") records with a service this client understands, orders them by
// order then preference, and returns the first whose rule yields an http or https URL from aus. It also
// returns the services seen, for messages.
func chooseNAPTR(rrs []dns.RR, aus string) (naptrChoice, []string) {
	var cands []*dns.NAPTR
	var seen []string
	for _, rr := range rrs {
		n, ok := rr.(*dns.NAPTR)
		if !ok {
			continue
		}
		seen = append(seen, n.Flags+" "+n.Service)
		if !strings.EqualFold(n.Flags, "U") {
			continue
		}
		if _, ok := serviceBinding(n.Service); !ok {
			continue
		}
		cands = append(cands, n)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		if cands[i].Order != cands[j].Order {
			return cands[i].Order < cands[j].Order
		}
		return cands[i].Preference < cands[j].Preference
	})
	for _, n := range cands {
		out, err := applyNAPTRRegexp(n.Regexp, aus)
		if err != nil {
			continue
		}
		u, err := url.Parse(out)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			continue
		}
		b, _ := serviceBinding(n.Service)
		return naptrChoice{record: n, binding: b, baseURL: out}, seen
	}
	return naptrChoice{}, seen
}

var errNoMatch = errors.New("regexp does not match")

// applyNAPTRRegexp applies a NAPTR substitution expression "<delim>ERE<delim>replacement<delim>[i]"
// (RFC 3402 / RFC 4848) to aus: when the POSIX extended regular expression matches, the result is the
// replacement with \1..\9 replaced by the submatches. "!^.*$!https://smp.example!" yields the URL.
func applyNAPTRRegexp(expr, aus string) (string, error) {
	if len(expr) < 3 {
		return "", errors.New("regexp field too short")
	}
	delim := expr[0]
	if delim == '\\' || delim == 'i' || (delim >= '0' && delim <= '9') {
		return "", errors.New("bad delimiter")
	}
	var parts []string
	var cur strings.Builder
	for i := 1; i < len(expr); i++ {
		c := expr[i]
		switch {
		case c == '\\' && i+1 < len(expr):
			if expr[i+1] == delim {
				cur.WriteByte(delim)
			} else {
				cur.WriteByte('\\')
				cur.WriteByte(expr[i+1])
			}
			i++
		case c == delim:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	parts = append(parts, cur.String())
	if len(parts) != 3 || (parts[2] != "" && parts[2] != "i") {
		return "", errors.New("regexp field is not delim-ERE-delim-replacement-delim-flags")
	}
	var re *regexp.Regexp
	var err error
	if parts[2] == "i" {
		// Go has no case-folding POSIX syntax: Perl syntax with (?i), made leftmost-longest like POSIX.
		re, err = regexp.Compile("(?i)" + parts[0])
		if err == nil {
			re.Longest()
		}
	} else {
		re, err = regexp.CompilePOSIX(parts[0])
	}
	if err != nil {
		return "", err
	}
	m := re.FindStringSubmatchIndex(aus)
	if m == nil {
		return "", errNoMatch
	}
	repl := parts[1]
	var out strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c != '\\' || i+1 == len(repl) {
			out.WriteByte(c)
			continue
		}
		i++
		n := repl[i]
		if n >= '1' && n <= '9' {
			k := int(n - '0')
			if 2*k+1 < len(m) && m[2*k] >= 0 {
				out.WriteString(aus[m[2*k]:m[2*k+1]])
			}
			continue
		}
		out.WriteByte(n)
	}
	return out.String(), nil
}

// httpsRecords keeps the NAPTR records whose rule yields an https URL from aus (under RequireHTTPS an https
// record is used before a plain-http one of a lower order).
func httpsRecords(rrs []dns.RR, aus string) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if n, ok := rr.(*dns.NAPTR); ok {
			if u, err := applyNAPTRRegexp(n.Regexp, aus); err == nil && strings.HasPrefix(strings.ToLower(u), "https://") {
				out = append(out, rr)
			}
		}
	}
	return out
}
