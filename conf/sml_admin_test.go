package conf_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/conf"
)

// The SML's admin listener defaults to loopback and its token file to the store's directory; only loopback
// addresses are accepted.
func TestSMLAdminDefaultsAndLoopback(t *testing.T) {
	c, err := conf.ParseSML("min.yaml", []byte("store:\n  path: /var/lib/signpost/sml.db\ndomains:\n  - zone: sml.test\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Listen != "127.0.0.1:8082" || c.Admin.TokenFile != filepath.FromSlash("/var/lib/signpost/sml-admin.token") {
		t.Errorf("admin defaults = %+v", c.Admin)
	}
	for addr, ok := range map[string]bool{
		"127.0.0.1:8082": true, "[::1]:8082": true, "localhost:8082": true, "127.0.0.2:1": true,
		"0.0.0.0:8082": false, "[::]:8082": false, "192.0.2.1:8082": false, "admin.example.org:8082": false,
		":8082": false, "127.0.0.1": false,
	} {
		_, err := conf.ParseSML("a.yaml", []byte("admin:\n  listen: \""+addr+"\"\ndomains:\n  - zone: sml.test\n"))
		if ok && err != nil {
			t.Errorf("%s refused: %v", addr, err)
		}
		if !ok && (err == nil || !strings.Contains(err.Error(), "admin.listen")) {
			t.Errorf("%s: err = %v, want an admin.listen problem", addr, err)
		}
	}
	// Port 0 (any free port) on two listeners is not one shared address.
	if _, err := conf.ParseSML("z.yaml", []byte("ops:\n  addr: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:0\ndomains:\n  - zone: sml.test\n")); err != nil {
		t.Errorf("port 0 twice: %v", err)
	}
	c, err = conf.LoadSML("sml.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Admin.Listen != "127.0.0.1:8082" || c.Admin.TokenFile != "./data/sml-admin.token" {
		t.Errorf("conf/sml.yaml admin = %+v", c.Admin)
	}
}
