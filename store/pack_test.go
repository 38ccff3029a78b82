package store

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// Pack fills the pages of keys put in order: the same 20,000 keys take fewer leaf pages than with bbolt's default
// half-full split, and a read-only transaction ignores it.
func TestPackFillsPages(t *testing.T) {
	leaves := func(fill float64) int {
		db := openTest(t)
		if err := db.Update(func(tx *Tx) error {
			if fill > 0 {
				tx.Pack(SMLNames, fill)
			}
			for i := range 20000 {
				if err := tx.Put(SMLNames, fmt.Appendf(nil, "sml.test.\x00%08d", i), []byte("p")); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		n := 0
		_ = db.bolt.View(func(tx *bolt.Tx) error {
			n = tx.Bucket(SMLNames.name).Stats().LeafPageN
			return nil
		})
		if err := db.View(func(tx *Tx) error { tx.Pack(SMLNames, 1); return nil }); err != nil {
			t.Fatal(err)
		}
		return n
	}
	half, packed := leaves(0), leaves(0.9)
	if packed*10 > half*6 {
		t.Errorf("%d leaf pages packed, %d at the default fill: want at most 60%%", packed, half)
	}
	t.Logf("leaf pages: %d at the default fill, %d packed", half, packed)
}
