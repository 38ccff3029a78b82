// Package txbatch gathers writes and applies them many to a transaction: the copy of a store (sml.Copy,
// smp.Copy) writes in transactions of a few thousand records rather than one per record or one for all.
package txbatch

// Batch holds writes, functions on a write transaction T, until Flush applies them in one transaction.
type Batch[T any] struct {
	// Update runs fn in one write transaction and commits it.
	Update func(fn func(T) error) error
	// Done, when set, is called after each transaction that committed.
	Done    func()
	pending []func(T) error
}

// Add holds put for the next Flush.
func (b *Batch[T]) Add(put func(T) error) { b.pending = append(b.pending, put) }

// Len is how many writes wait for the next Flush.
func (b *Batch[T]) Len() int { return len(b.pending) }

// Flush applies the writes held so far in one transaction (none when nothing waits). They are dropped either way:
// after a failure the caller gives up.
func (b *Batch[T]) Flush() error {
	if len(b.pending) == 0 {
		return nil
	}
	err := b.Update(func(tx T) error {
		for _, put := range b.pending {
			if err := put(tx); err != nil {
				return err
			}
		}
		return nil
	})
	b.pending = b.pending[:0]
	if err == nil && b.Done != nil {
		b.Done()
	}
	return err
}
