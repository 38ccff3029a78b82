package zone_test

import (
	"testing"

	"github.com/signpost-project/signpost/conf"
	"github.com/signpost-project/signpost/sml/zone"
)

// TestConfigurationDefaults: the defaults the configuration fills in are this package's, so that a server given
// a zero value and one given the defaulted configuration behave the same.
func TestConfigurationDefaults(t *testing.T) {
	c := &conf.SML{}
	c.Defaults()
	d := c.DNS
	if d.JournalSize != zone.DefaultJournalSize || d.UDPSize != zone.DefaultUDPSize ||
		d.TCPIdleTimeout != zone.DefaultTCPIdleTimeout || d.NotifyDelay != zone.DefaultNotifyDelay {
		t.Errorf("conf defaults journal %d, udp %d, tcp idle %s, notify delay %s; want %d, %d, %s, %s",
			d.JournalSize, d.UDPSize, d.TCPIdleTimeout, d.NotifyDelay,
			zone.DefaultJournalSize, zone.DefaultUDPSize, zone.DefaultTCPIdleTimeout, zone.DefaultNotifyDelay)
	}
}
