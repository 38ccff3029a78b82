package sml_test

import (
	"github.com/signpost-project/signpost/sml"
	"github.com/signpost-project/signpost/sml/boltrepo"
	"github.com/signpost-project/signpost/store"
)

func init() { sml.SetBoltRepoForTest(func(db *store.DB) sml.Repo { return boltrepo.New(db) }) }
