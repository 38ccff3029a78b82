package smp

import (
	"fmt"

	"github.com/signpost-project/signpost/identifier"
)

// Flavour is one of the XML dialects an SMP serves.
type Flavour byte

// The flavours. The byte values are part of the store's keys.
const (
	PEPPOL Flavour = 'p' // PEPPOL SMP 1.x, root paths
	OASIS1 Flavour = 'o' // OASIS BDXR SMP 1.0, root paths
	SMP2   Flavour = '2' // OASIS SMP 2.0, under /bdxr-smp-2/
)

// ParseFlavour maps the configuration's flavour names (peppol, oasis-bdxr-1, oasis-bdxr-2) to a Flavour.
func ParseFlavour(s string) (Flavour, error) {
	switch s {
	case "peppol":
		return PEPPOL, nil
	case "oasis-bdxr-1":
		return OASIS1, nil
	case "oasis-bdxr-2":
		return SMP2, nil
	}
	return 0, fmt.Errorf("smp: unknown flavour %q (peppol, oasis-bdxr-1, oasis-bdxr-2)", s)
}

func (f Flavour) String() string {
	switch f {
	case PEPPOL:
		return "peppol"
	case OASIS1:
		return "oasis-bdxr-1"
	case SMP2:
		return "oasis-bdxr-2"
	}
	return fmt.Sprintf("flavour(%d)", byte(f))
}

// ContentType is the media type of the flavour's responses (spec/DIGEST.md 3.1).
func (f Flavour) ContentType() string {
	if f == SMP2 {
		return "application/xml; charset=UTF-8"
	}
	return "text/xml; charset=UTF-8"
}

// SignsGroups reports whether the flavour's ServiceGroup is signed (only SMP 2.0's schema has a signature).
func (f Flavour) SignsGroups() bool { return f == SMP2 }

// AllFlavours lists every flavour an SMP can serve.
var AllFlavours = []Flavour{PEPPOL, OASIS1, SMP2}

// PathSMP2 is the first path segment of the OASIS SMP 2.0 binding.
const PathSMP2 = "bdxr-smp-2"

// Reference is what a ServiceGroup lists of one of its service metadata.
type Reference struct {
	DocumentType identifier.ID
	Processes    []identifier.ID
}

// References returns the reference a ServiceGroup carries for sm.
func (sm *ServiceMetadata) Reference() Reference {
	r := Reference{DocumentType: sm.DocumentType}
	for _, p := range sm.Processes {
		r.Processes = append(r.Processes, p.ID)
	}
	return r
}
