package httpapi

import (
	"strconv"
	"strings"
	"testing"

	"github.com/signpost-project/signpost/identifier"
	"github.com/signpost-project/signpost/smp"
)

// TestPathsCacheBounded: the cache of resolved request paths stays within its byte budget when a client sends
// many long, distinct paths (each a valid identifier, so each resolves and is cached).
func TestPathsCacheBounded(t *testing.T) {
	p := paths{m: map[string]*target{}, max: 100000, maxBytes: 16 << 20}
	long := strings.Repeat("x", 20000)
	for i := 0; i < 2000; i++ { // 40 MB of paths
		raw := "/" + strconv.Itoa(i) + long
		p.put(raw, &target{ref: smp.Ref(smp.DocKey{Participant: identifier.ID{Value: raw}}), what: "service group " + raw})
	}
	total := 0
	for raw, tg := range p.m {
		total += len(raw) + tg.ref.Size() + len(tg.what)
	}
	if total > p.maxBytes {
		t.Errorf("cache holds %d bytes of paths, budget %d", total, p.maxBytes)
	}
}
