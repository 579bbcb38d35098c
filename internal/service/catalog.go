package service

import (
	"github.com/exportd/exportd/internal/catalog"
	"github.com/exportd/exportd/internal/job"
)

// engineCatalog lets the job engine find destinations in the catalog.
type engineCatalog struct{ c *catalog.Catalog }

var _ job.Catalog = engineCatalog{}

func (a engineCatalog) Destinations(account string) *job.DestinationSet {
	snap := a.c.Snapshot(account)
	set := &job.DestinationSet{Release: snap.Release}
	for _, e := range snap.Entries() {
		set.List = append(set.List, job.Destination{Name: e.Name, Account: e.Account, Tables: e.Tables, Open: e.Open})
	}
	return set
}
