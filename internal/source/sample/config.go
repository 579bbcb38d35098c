package sample

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
)

// DefaultSeed is the seed of a configuration that sets none.
const DefaultSeed = 1

// MaxRows bounds the row count of one table (about 10^12): far beyond any
// benchmark, and small enough that row numbers and their products with
// other counts stay exact.
const MaxRows = 1 << 40

// ErrUnknownTable is wrapped by errors about a table name the source does
// not have or was not configured with.
var ErrUnknownTable = errors.New("unknown table")

// Config is the configuration of a sample source. Its zero value is the
// default: seed 1, scale 1, every table.
type Config struct {
	// Seed selects the data set: equal seeds give equal rows. Zero means
	// DefaultSeed.
	Seed uint64
	// Scale multiplies every table's base row count (see BaseRows), rounded
	// to the nearest row and at least one. Zero means 1.
	Scale float64
	// Rows sets the row count of the tables it names exactly, overriding
	// Scale. Zero is allowed.
	Rows map[string]int64
	// Tables restricts the source to these tables, in this export order.
	// Empty means all six, in the order of TableNames.
	Tables []string
}

// Validate reports the first problem of the configuration.
func (c Config) Validate() error {
	if _, err := c.rowCounts(); err != nil {
		return err
	}
	_, err := c.tableOrder()
	return err
}

// RowCounts returns the number of rows of each of the six tables, whether
// Tables selects it or not.
func (c Config) RowCounts() (map[string]int64, error) {
	rows, err := c.rowCounts()
	if err != nil {
		return nil, err
	}
	m := make(map[string]int64, numTables)
	for t, n := range rows {
		m[tableNames[t]] = n
	}
	return m, nil
}

func (c Config) seed() uint64 {
	if c.Seed == 0 {
		return DefaultSeed
	}
	return c.Seed
}

func (c Config) rowCounts() ([numTables]int64, error) {
	var rows [numTables]int64
	scale := c.Scale
	if scale == 0 {
		scale = 1
	}
	if err := checkScale(scale); err != nil {
		return rows, err
	}
	for t := range rows {
		rows[t] = max(1, int64(math.Round(float64(baseRows[t])*scale)))
	}
	for name, n := range c.Rows {
		t, ok := tableIndex(name)
		if !ok {
			return rows, unknownTable(name, tableNames[:])
		}
		if err := checkRows(n); err != nil {
			return rows, fmt.Errorf("rows of %s: %w", name, err)
		}
		rows[t] = n
	}
	if rows[revenueAttribution] > 0 && rows[revenue] == 0 {
		return rows, fmt.Errorf("revenue_attribution has %d rows but revenue has none for them to attribute", rows[revenueAttribution])
	}
	return rows, nil
}

// checkScale accepts scales whose largest table stays within MaxRows.
func checkScale(scale float64) error {
	if math.IsNaN(scale) || scale <= 0 {
		return fmt.Errorf("scale %g is not a positive number", scale)
	}
	if n := float64(baseRows[events]) * scale; n > MaxRows {
		return fmt.Errorf("scale %g gives events %.3g rows, more than the %d allowed", scale, n, int64(MaxRows))
	}
	return nil
}

func checkRows(n int64) error {
	if n < 0 || n > MaxRows {
		return fmt.Errorf("%d rows is outside 0..%d", n, int64(MaxRows))
	}
	return nil
}

// tableOrder resolves Tables to table indexes.
func (c Config) tableOrder() ([]int, error) {
	if len(c.Tables) == 0 {
		order := make([]int, numTables)
		for t := range order {
			order[t] = t
		}
		return order, nil
	}
	return selectTables(c.Tables, tableNames[:])
}

// selectTables resolves names to table indexes, refusing names that are
// not among valid and names given twice.
func selectTables(names, valid []string) ([]int, error) {
	order := make([]int, 0, len(names))
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		t, ok := tableIndex(name)
		if !ok || !slices.Contains(valid, name) {
			return nil, unknownTable(name, valid)
		}
		if seen[name] {
			return nil, fmt.Errorf("table %s is listed twice", name)
		}
		seen[name] = true
		order = append(order, t)
	}
	return order, nil
}

func unknownTable(name string, valid []string) error {
	return fmt.Errorf("%w %q (valid tables: %s)", ErrUnknownTable, name, strings.Join(valid, ", "))
}
