package smp_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
	"github.com/signpost-project/signpost/smp/xmlbind"
)

// FuzzDecode: the body decoders never panic, and what they accept renders in every flavour.
func FuzzDecode(f *testing.F) {
	names, _ := filepath.Glob("../testdata/smp/samples/*.xml")
	for _, n := range names {
		// Small seeds only: the fuzzer stalls on the large signed samples (observed; they add nothing the small
		// ones of the same flavour do not).
		if b, err := os.ReadFile(n); err == nil && len(b) < 3000 {
			f.Add(b)
		}
	}
	f.Add([]byte(`<ServiceGroup xmlns="http://busdox.org/serviceMetadata/publishing/1.0/"/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, p := range []identifier.Policy{identifier.PEPPOL, identifier.OASIS} {
			if sg, err := xmlbind.DecodeServiceGroup(body, p, xmlbind.Limits{}); err == nil {
				for _, fl := range []smp.Flavour{smp.PEPPOL, smp.OASIS1, smp.SMP2} {
					if _, err := xmlbind.RenderGroup(fl, &sg, nil, "http://x"); err != nil {
						t.Fatalf("accepted group does not render in %v: %v", fl, err)
					}
				}
			} else if smp.KindOf(err) != smp.KindInvalid {
				t.Fatalf("group: not a client error: %v", err)
			}
			if sm, err := xmlbind.DecodeServiceMetadata(body, p, xmlbind.Limits{}); err == nil && sm.Validate() == nil {
				// The management API's further checks refuse as client errors only.
				if _, err := smp.CheckPublishable(&sm, time.Now(), smp.RefuseExpired); err != nil && smp.KindOf(err) != smp.KindInvalid {
					t.Fatalf("CheckPublishable: not a client error: %v", err)
				}
				for _, fl := range []smp.Flavour{smp.PEPPOL, smp.OASIS1, smp.SMP2} {
					if _, err := xmlbind.RenderMetadata(fl, &sm); err != nil {
						t.Fatalf("accepted metadata does not render in %v: %v", fl, err)
					}
				}
			} else if err != nil && smp.KindOf(err) != smp.KindInvalid {
				t.Fatalf("metadata: not a client error: %v", err)
			}
		}
	})
}
