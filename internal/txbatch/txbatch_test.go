package txbatch

import (
	"errors"
	"testing"
)

// TestBatch: Flush applies what was added in one transaction and reports it; a failing write fails the Flush,
// is not reported, and nothing is held afterwards; an empty Flush opens no transaction.
func TestBatch(t *testing.T) {
	var txs, done int
	var got []int
	b := Batch[*[]int]{
		Update: func(fn func(*[]int) error) error {
			txs++
			var tx []int
			if err := fn(&tx); err != nil {
				return err // rolled back: tx is dropped
			}
			got = append(got, tx...)
			return nil
		},
		Done: func() { done++ },
	}
	put := func(v int) func(*[]int) error { return func(tx *[]int) error { *tx = append(*tx, v); return nil } }
	if err := b.Flush(); err != nil || txs != 0 {
		t.Fatalf("empty flush: %v, %d transactions", err, txs)
	}
	b.Add(put(1))
	b.Add(put(2))
	if b.Len() != 2 {
		t.Fatalf("Len %d, want 2", b.Len())
	}
	if err := b.Flush(); err != nil || txs != 1 || done != 1 || len(got) != 2 || b.Len() != 0 {
		t.Fatalf("flush: %v, %d transactions, %d done, got %v, %d held", err, txs, done, got, b.Len())
	}
	boom := errors.New("boom")
	b.Add(put(3))
	b.Add(func(*[]int) error { return boom })
	if err := b.Flush(); !errors.Is(err, boom) || done != 1 || len(got) != 2 || b.Len() != 0 {
		t.Fatalf("failing flush: %v, %d done, got %v, %d held", err, done, got, b.Len())
	}
}
