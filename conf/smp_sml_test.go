package conf_test

import (
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
)

const smpBase = "smp_id: SMP-X\npublic_url: https://smp.example.org\nsigning: {cert: smp.pem, key: smp-key.pem}\n"

// TestSMLNetworkResolved: the presets give OpenPeppol's SML (URL and zone), custom and a configuration without
// sml.network give sml.url and sml.zone, and a configuration without an SML registers nowhere.
func TestSMLNetworkResolved(t *testing.T) {
	cases := []struct {
		name, yaml string
		want       conf.SMLNetwork
	}{
		{"prod", "sml: {network: peppol-prod}\n", conf.SMLNetwork{Name: "peppol-prod",
			URL: "https://api.sml.prod.tech.peppol.org/edelivery-sml", Zone: "participant.sml.prod.tech.peppol.org."}},
		{"test", "sml: {network: peppol-test}\n", conf.SMLNetwork{Name: "peppol-test",
			URL: "https://api.sml.test.tech.peppol.org/edelivery-sml", Zone: "participant.sml.test.tech.peppol.org."}},
		{"url only means custom", "sml: {url: \"https://127.0.0.1:8443/\"}\n",
			conf.SMLNetwork{Name: "custom", URL: "https://127.0.0.1:8443"}},
		{"custom", "sml: {network: custom, url: \"https://sml.example.org/edelivery-sml\", zone: SML.Example.org}\n",
			conf.SMLNetwork{Name: "custom", URL: "https://sml.example.org/edelivery-sml", Zone: "sml.example.org."}},
		{"none", "", conf.SMLNetwork{Name: "custom"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := conf.ParseSMP(c.name+".yaml", []byte(smpBase+c.yaml))
			if err != nil {
				t.Fatal(err)
			}
			got, err := cfg.SML.Resolved()
			if err != nil || got != c.want {
				t.Fatalf("Resolved() = %+v, %v; want %+v", got, err, c.want)
			}
			if got.Enabled() != (c.want.URL != "") {
				t.Errorf("Enabled() = %v", got.Enabled())
			}
		})
	}
}

func TestSMLClientDefaults(t *testing.T) {
	cfg, err := conf.ParseSMP("d.yaml", []byte(smpBase+"sml: {network: peppol-test}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SML.Timeout != 30*time.Second || cfg.SML.MaxConnections != 4 || cfg.SML.ClientTLS != cfg.Signing {
		t.Errorf("defaults: timeout %s, max_connections %d, client_tls %+v", cfg.SML.Timeout, cfg.SML.MaxConnections, cfg.SML.ClientTLS)
	}
	cfg, err = conf.ParseSMP("v.yaml", []byte(smpBase+"sml: {network: peppol-test, timeout: 5s, max_connections: 16}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SML.Timeout != 5*time.Second || cfg.SML.MaxConnections != 16 {
		t.Errorf("values not read: timeout %s, max_connections %d", cfg.SML.Timeout, cfg.SML.MaxConnections)
	}
}

// A preset refuses a zone that would override it, and Resolved says so outside of loading too.
func TestSMLNetworkPresetRefusesZone(t *testing.T) {
	_, err := conf.ParseSMP("z.yaml", []byte(smpBase+"sml: {network: peppol-test, zone: sml.example.org}\n"))
	if err == nil || !strings.Contains(err.Error(), "sml.network: network peppol-test sets the SML's URL and zone") {
		t.Fatalf("err = %v", err)
	}
	s := conf.SMLClient{Network: "peppol-prod", URL: "https://sml.example.org"}
	if _, err := s.Resolved(); err == nil {
		t.Fatal("preset with url resolved")
	}
}
