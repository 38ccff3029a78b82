package smp_test

import (
	"context"
	"testing"

	"github.com/signpost-project/signpost/smp"
)

// TestListServiceGroupsLimitBelowOne: a limit below 1 is refused as invalid, not a panic (index -1).
func TestListServiceGroupsLimitBelowOne(t *testing.T) {
	f := newFixture(t, fixtureOpts{})
	f.seed(demoDocType)
	for _, limit := range []int{0, -1} {
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("limit %d: panic %v", limit, v)
				}
			}()
			if _, _, err := f.svc.ListServiceGroups(context.Background(), "", limit); smp.KindOf(err) != smp.KindInvalid {
				t.Errorf("limit %d: %v, want an invalid-argument error", limit, err)
			}
		}()
	}
}
