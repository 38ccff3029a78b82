// Package store is the embedded key-value store shared by the SML and the SMP: a thin layer over bbolt that
// owns the file, its lock, the schema version and the list of buckets, and hands out managed transactions.
//
// The store knows nothing of protocols. The SML and SMP packages declare small repository interfaces of their
// own and implement them on top of [DB] and [Tx]; no bbolt type leaves this package, so another backend can take
// its place behind those interfaces later.
//
// The file records its schema version. [Open] backs up and upgrades a store of an older version, step by step
// (the steps are listed in schema.go, next to the buckets), and refuses a newer one; docs/store.md says how to
// operate that and how to add a step.
//
// Every value read through a [Tx] is either copied out ([Tx.Get]) or valid only inside the callback that
// received it ([Tx.Scan]): bbolt's memory is reused once the transaction ends.
package store
