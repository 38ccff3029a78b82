package app_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/signpost-project/signpost/conf"
	smpapp "github.com/signpost-project/signpost/smp/app"
)

// TestSMLNetworkWired: the app carries the SML network its configuration resolves to (a preset, or custom from
// sml.url alone), and refuses to start on a configuration whose network cannot be resolved. No SML is contacted.
func TestSMLNetworkWired(t *testing.T) {
	_, _, _, certFile, keyFile := newSigner(t, "App SML Test CA", "SMP app signer")
	signing := fmt.Sprintf("signing: {cert: %s, key: %s}", certFile, keyFile)
	cases := []struct {
		sml  string
		want conf.SMLNetwork
	}{
		{"sml: {network: peppol-test}", conf.SMLNetwork{Name: "peppol-test",
			URL: "https://api.sml.test.tech.peppol.org/edelivery-sml", Zone: "participant.sml.test.tech.peppol.org."}},
		{"sml: {network: peppol-prod}", conf.SMLNetwork{Name: "peppol-prod",
			URL: "https://api.sml.prod.tech.peppol.org/edelivery-sml", Zone: "participant.sml.prod.tech.peppol.org."}},
		{"sml: {url: \"https://127.0.0.1:8443\"}", conf.SMLNetwork{Name: "custom", URL: "https://127.0.0.1:8443"}},
		{"", conf.SMLNetwork{Name: "custom"}},
	}
	for _, c := range cases {
		cfg := config(t, t.TempDir(), signing+"\n"+c.sml)
		a, err := smpapp.New(context.Background(), cfg, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := a.SMLNetwork()
		a.Close()
		if got != c.want {
			t.Errorf("%q: SMLNetwork() = %+v, want %+v", c.sml, got, c.want)
		}
	}
	// A configuration changed after loading (not validated again) is still refused at start.
	cfg := config(t, t.TempDir(), signing)
	cfg.SML.Network = "peppol-acc"
	if a, err := smpapp.New(context.Background(), cfg, nil, nil); err == nil {
		a.Close()
		t.Fatal("unknown network started")
	}
}
