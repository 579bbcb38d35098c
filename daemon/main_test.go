package main

import (
	"flag"
	"os"
	"testing"
)

// TestMain runs up to four of this package's parallel tests at once
// unless -test.parallel says otherwise. Most of them spend their time
// waiting (for the next free minute, a lease to expire, a redelivery
// after ack_wait), not computing, so the default of one per core left
// the package's run mostly idle.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", "4")
	}
	os.Exit(m.Run())
}
