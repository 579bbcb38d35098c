package job

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/exportd/exportd/internal/state"
	"github.com/exportd/exportd/sdk"
)

// carriedTables completes a re-export of some tables into a complete dump.
// Every other table of the destination's last committed dump (of those it
// takes) is carried over: the receipt keeps naming the files of the dump
// that holds them, so that a loader following the receipt never loses a
// table. The subset is refused when that cannot hold: the destination has
// no committed dump on record, or its other tables hold another run's data
// (one dump must not mix runs).
func carriedTables(name string, ds state.Destination, runID string, own, exported []string) ([]sdk.TableManifest, error) {
	if len(ds.Tables) == 0 {
		return nil, fmt.Errorf("destination %s has no complete dump on record to complete a re-export of %s with; re-export every table",
			name, strings.Join(exported, ", "))
	}
	names := make([]string, 0, len(ds.Tables))
	for t := range ds.Tables {
		names = append(names, t)
	}
	sort.Strings(names)
	var out []sdk.TableManifest
	for _, t := range names {
		if slices.Contains(exported, t) || (len(own) > 0 && !slices.Contains(own, t)) {
			continue
		}
		td := ds.Tables[t]
		if td.RunID != runID {
			return nil, fmt.Errorf("table %s of destination %s holds run %s, not run %s: re-exporting only %s would mix two runs in one dump; re-export every table",
				t, name, td.RunID, runID, strings.Join(exported, ", "))
		}
		out = append(out, sdk.TableManifest{Name: t, Files: td.Files, Rows: td.Rows, Bytes: td.Bytes, Carried: td.Time})
	}
	return out, nil
}
