package conf

import (
	"strings"
	"testing"
)

// The presets the lookup command offers are the ones sml.network resolves, with fully qualified OpenPeppol zones.
func TestSMLPresetExports(t *testing.T) {
	names := SMLPresetNames()
	if len(names) != len(smlPresets) {
		t.Fatalf("SMLPresetNames %v, presets %d", names, len(smlPresets))
	}
	for _, name := range names {
		n, ok := SMLPreset(name)
		r, err := (&SMLClient{Network: name}).Resolved()
		if !ok || err != nil || n != r || n.Name != name {
			t.Errorf("%s: preset %+v %v, resolved %+v %v", name, n, ok, r, err)
		}
		if !strings.HasSuffix(n.Zone, ".tech.peppol.org.") || !strings.HasPrefix(n.URL, "https://") {
			t.Errorf("%s: %+v", name, n)
		}
	}
	if _, ok := SMLPreset(NetworkCustom); ok {
		t.Error("custom is not a preset")
	}
}
