package sml

import "github.com/signpost-project/signpost/store"

// boltRepo opens the bbolt repository for the tests of this package. It is set by boltrepo_ext_test.go (package
// sml_test), because these in-package tests cannot import sml/boltrepo, which imports sml.
var boltRepo func(*store.DB) Repo

// SetBoltRepoForTest sets boltRepo (exported to the external test package only: this is a _test.go file).
func SetBoltRepoForTest(f func(*store.DB) Repo) { boltRepo = f }
