package conf_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
)

func TestShippedExamplesLoad(t *testing.T) {
	sml, err := conf.LoadSML("sml.yaml")
	if err != nil {
		t.Fatalf("conf/sml.yaml: %v", err)
	}
	if len(sml.Domains) != 1 || sml.Domains[0].Zone != "sml.example.org." || !sml.Domains[0].Publishes("cname") {
		t.Errorf("sml.yaml domains = %+v", sml.Domains)
	}
	if sml.Domains[0].TTL != 60*time.Second || sml.DNS.Listen != "127.0.0.1:5300" ||
		sml.Migration.KeyTTL != 720*time.Hour {
		t.Errorf("sml.yaml values not read: ttl %s listen %s", sml.Domains[0].TTL, sml.DNS.Listen)
	}
	smp, err := conf.LoadSMP("smp.yaml")
	if err != nil {
		t.Fatalf("conf/smp.yaml: %v", err)
	}
	if smp.SMPID != "SMP-EXAMPLE" || smp.Flavour != "peppol" || !smp.Serve2() || smp.SML.LogicalAddress != "http://smp.example.org" {
		t.Errorf("smp.yaml = %+v", smp)
	}
}

func TestDefaultsApplied(t *testing.T) {
	c, err := conf.ParseSML("min.yaml", []byte("domains:\n  - zone: SML.Test\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := c.Domains[0]
	checks := []struct {
		name      string
		got, want any
	}{
		{"zone", d.Zone, "sml.test."},
		{"records", strings.Join(d.Records, ","), "naptr"},
		{"hashing", d.Hashing, "scheme-label"},
		{"ttl", d.TTL, 60 * time.Second},
		{"mname", d.SOA.MName, "ns1.sml.test."},
		{"ns", strings.Join(d.NS, ","), "ns1.sml.test."},
		{"schemes", d.ParticipantSchemes, "^iso6523-actorid-upis$"},
		{"fault status", c.Management.FaultStatus, "soap"},
		{"body limit", c.Management.MaxBodyBytes, int64(1 << 20)},
		{"store", c.Store.Path, "./data/sml.db"},
		{"migration key ttl", c.Migration.KeyTTL, 30 * 24 * time.Hour},
		{"require https", d.RequireHTTPS, false},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

// TestBadExamples loads every file in testdata/conf/bad; each must fail with every message its "# want:" lines name.
func TestBadExamples(t *testing.T) {
	files, err := filepath.Glob("../testdata/conf/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad examples found: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var wants []string
			for _, line := range strings.Split(string(data), "\n") {
				if w, ok := strings.CutPrefix(line, "# want: "); ok {
					wants = append(wants, w)
				}
			}
			if len(wants) == 0 {
				t.Fatal("no # want: line")
			}
			if strings.HasPrefix(filepath.Base(f), "sml-") {
				_, err = conf.LoadSML(f)
			} else {
				_, err = conf.LoadSMP(f)
			}
			if err == nil {
				t.Fatal("loaded without error")
			}
			if !strings.Contains(err.Error(), f) {
				t.Errorf("error does not name the file %s: %v", f, err)
			}
			for _, w := range wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestMissingFile(t *testing.T) {
	_, err := conf.LoadSMP(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}
