package sample_test

import (
	"context"
	"fmt"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/source"
	"github.com/exportd/exportd/internal/source/sample"
)

// An end-to-end test regenerates the rows a sample source exported and
// compares them with what it reads back.
func ExampleSnapshot_Row() {
	snap, err := sample.NewSnapshot(sample.Config{Seed: 7}, "acme", []string{"events"})
	if err != nil {
		panic(err)
	}
	n, _ := snap.RowCount("events")
	row, err := snap.Row("events", 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(n, "events; event 2:")
	for k, c := range snap.Tables()[0].Columns {
		fmt.Printf("  %s (%s) = %v\n", c.Name, c.Kind, row[k])
	}
	// Output:
	// 10000 events; event 2:
	//   event_id (string) = evt_b0d0ee42a27c1e90
	//   contact_id (string) = con_8fb7ab05bea84d61
	//   company_id (string) = cmp_ed14e421620c1386
	//   event_type (string) = page_view
	//   event_time (timestamp) = 2024-07-01 02:16:34.616157 +0000 UTC
	//   event_date (date) = 2024-07-01 00:00:00 +0000 UTC
	//   source (string) = website
	//   channel (string) = direct
	//   url (string) = https://www.acme.com/customers/northwind
	//   referrer (string) = <nil>
	//   session_id (string) = ses_3a9ac248ed3b02af
	//   duration_ms (int64) = 843621
	//   properties (json) = {"page_title":"How Northwind doubled pipeline","path":"/customers/northwind","browser":"Safari","os":"iOS","device":"tablet","screen_width":768,"is_returning":true}
}

// A source built in Go, as benchmarks do, with the row counts of the
// export benchmark.
func ExampleNew() {
	src, err := sample.New(sample.Config{
		Rows:   map[string]int64{"events": 5_000_000},
		Tables: []string{"events", "companies"},
	})
	if err != nil {
		panic(err)
	}
	defer src.Close()
	snap, err := src.Open(context.Background(), source.Request{
		Event: event.ModellingCompleted{AccountID: "acme", RunID: "run-1"},
	})
	if err != nil {
		panic(err)
	}
	defer snap.Close()
	for _, t := range snap.Tables() {
		n, _ := snap.(*sample.Snapshot).RowCount(t.Name)
		fmt.Println(t.Name, len(t.Columns), "columns", n, "rows")
	}
	// Output:
	// events 13 columns 5000000 rows
	// companies 12 columns 200 rows
}
