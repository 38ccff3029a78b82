package zone

import "time"

// Defaults of the SML's DNS side, defined here once: the configuration (conf) fills them in, and the SML
// (journal) and its DNS server (sml/dnsserver) fall back to them when given zero. They live in this package
// because every one of those imports it, and it imports nothing of theirs.
const (
	// DefaultJournalSize is how many zone changes are kept per zone for IXFR (conf dns.journal_size).
	DefaultJournalSize = 100000
	// DefaultUDPSize is the largest UDP answer offered to EDNS clients (conf dns.udp_size): 1232 bytes, the
	// DNS Flag Day 2020 value that avoids IP fragmentation.
	DefaultUDPSize = 1232
	// DefaultTCPIdleTimeout closes an idle TCP connection of the DNS server (conf dns.tcp_idle_timeout).
	DefaultTCPIdleTimeout = 10 * time.Second
	// DefaultNotifyDelay is the shortest time between two NOTIFYs of one zone to one secondary
	// (conf dns.notify_delay).
	DefaultNotifyDelay = time.Second
)
