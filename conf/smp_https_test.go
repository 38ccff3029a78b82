package conf_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/signpost-project/signpost/conf"
)

const smpHTTPSBase = "smp_id: SMP-T\nsigning: {cert: s.pem, key: s-key.pem}\nstore: {path: /var/lib/signpost/smp.db}\n"

// TestSMPHTTPSConfig: http.tls, http.acme and http.redirect_listen are validated together with public_url, each
// problem named by its key with what to do; the ACME defaults are filled in.
func TestSMPHTTPSConfig(t *testing.T) {
	for _, c := range []struct {
		name, yaml string
		want       []string // substrings of the error; none: valid
	}{
		{"files", "public_url: https://smp.example.org\nhttp: {listen: ':443', tls: {cert: t.pem, key: t-key.pem}, redirect_listen: ':80'}\n", nil},
		{"acme", "public_url: https://SMP.example.org\nhttp: {listen: ':443', acme: {domains: [smp.example.org], email: ops@example.org}}\n", nil},
		{"both", "public_url: https://smp.example.org\nhttp: {tls: {cert: t.pem, key: t-key.pem}, acme: {domains: [smp.example.org]}}\n",
			[]string{"http.acme: http.tls and http.acme are exclusive"}},
		{"http public_url with tls", "public_url: http://smp.example.org\nhttp: {tls: {cert: t.pem, key: t-key.pem}}\n",
			[]string{"public_url: \"http://smp.example.org\" is http but this SMP serves HTTPS", "give its https:// form"}},
		{"public_url host not a domain", "public_url: https://other.example.org\nhttp: {acme: {domains: [smp.example.org]}}\n",
			[]string{"http.acme.domains: [smp.example.org] does not name public_url's host \"other.example.org\""}},
		{"bad domains", "public_url: https://smp.example.org\nhttp: {acme: {domains: [smp.example.org, '*.example.org', 10.0.0.1, localhost, 'a_b.example.org']}}\n",
			[]string{"http.acme.domains[1]: \"*.example.org\" is a wildcard", "http.acme.domains[2]: \"10.0.0.1\" is an IP address",
				"http.acme.domains[3]: \"localhost\" is not a fully qualified name", "http.acme.domains[4]: \"a_b.example.org\" is not a valid host name"}},
		{"acme keys without domains", "public_url: https://smp.example.org\nhttp: {acme: {email: ops@example.org}}\n",
			[]string{"http.acme.domains: missing"}},
		{"directory not https", "public_url: https://smp.example.org\nhttp: {acme: {domains: [smp.example.org], directory: 'http://127.0.0.1:14000/dir', email: nobody}}\n",
			[]string{"http.acme.directory: \"http://127.0.0.1:14000/dir\" is not an https URL", "http.acme.email: \"nobody\" is not an email address"}},
		{"redirect without https", "public_url: http://smp.example.org\nhttp: {redirect_listen: ':80'}\n",
			[]string{"http.redirect_listen: only with HTTPS"}},
		{"redirect on the same port", "public_url: https://smp.example.org\nhttp: {listen: ':443', redirect_listen: ':443', tls: {cert: t.pem, key: t-key.pem}}\n",
			[]string{"http.redirect_listen: \":443\" is also http.listen"}},
		{"negative renew_before", "public_url: https://smp.example.org\nhttp: {tls_check_interval: 0s, acme: {domains: [smp.example.org], renew_before: -1h}}\n",
			[]string{"http.acme.renew_before: must not be negative"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := conf.ParseSMP("t.yaml", []byte(smpHTTPSBase+c.yaml))
			if len(c.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.HTTP.ACME.Enabled() {
					if cfg.HTTP.ACME.Directory != conf.LetsEncryptDirectory || cfg.HTTP.ACME.CacheDir != filepath.Join("/var/lib/signpost", "acme") {
						t.Errorf("ACME defaults: directory %q cache_dir %q", cfg.HTTP.ACME.Directory, cfg.HTTP.ACME.CacheDir)
					}
				}
				if cfg.HTTP.TLSCheckInterval != 10*time.Second {
					t.Errorf("tls_check_interval default %s", cfg.HTTP.TLSCheckInterval)
				}
				return
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
