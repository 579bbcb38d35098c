package sample

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/source"
)

func TestRowCounts(t *testing.T) {
	base := map[string]int64{
		"companies": 200, "contacts": 1000, "events": 10000,
		"revenue": 300, "revenue_attribution": 1200, "paid_ads": 500,
	}
	with := func(changes map[string]int64) map[string]int64 {
		m := maps.Clone(base)
		maps.Copy(m, changes)
		return m
	}
	tests := []struct {
		name string
		cfg  Config
		want map[string]int64
	}{
		{"default", Config{}, base},
		{"scale 1", Config{Scale: 1}, base},
		{"scale 10", Config{Scale: 10}, map[string]int64{
			"companies": 2000, "contacts": 10000, "events": 100000,
			"revenue": 3000, "revenue_attribution": 12000, "paid_ads": 5000,
		}},
		{"scale rounds", Config{Scale: 0.0123}, map[string]int64{
			"companies": 2, "contacts": 12, "events": 123,
			"revenue": 4, "revenue_attribution": 15, "paid_ads": 6,
		}},
		{"tiny scale keeps one row", Config{Scale: 1e-9}, map[string]int64{
			"companies": 1, "contacts": 1, "events": 1,
			"revenue": 1, "revenue_attribution": 1, "paid_ads": 1,
		}},
		{"rows override", Config{Rows: map[string]int64{"events": 5_000_000}}, with(map[string]int64{"events": 5_000_000})},
		{"rows override scale", Config{Scale: 2, Rows: map[string]int64{"paid_ads": 7}}, map[string]int64{
			"companies": 400, "contacts": 2000, "events": 20000,
			"revenue": 600, "revenue_attribution": 2400, "paid_ads": 7,
		}},
		{"zero rows", Config{Rows: map[string]int64{"paid_ads": 0}}, with(map[string]int64{"paid_ads": 0})},
		{"everything empty", Config{Rows: map[string]int64{
			"companies": 0, "contacts": 0, "events": 0, "revenue": 0, "revenue_attribution": 0, "paid_ads": 0,
		}}, map[string]int64{
			"companies": 0, "contacts": 0, "events": 0, "revenue": 0, "revenue_attribution": 0, "paid_ads": 0,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.cfg.RowCounts()
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("RowCounts() = %v, want %v", got, tc.want)
			}
			// The snapshot writes exactly that many rows.
			snap := mustSnapshot(t, tc.cfg, "acme")
			for _, n := range TableNames() {
				if tc.want[n] > 100_000 {
					continue
				}
				if got := int64(len(readAll(t, snap, n))); got != tc.want[n] {
					t.Errorf("%s: %d rows, want %d", n, got, tc.want[n])
				}
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string // in the error
	}{
		{"negative scale", Config{Scale: -1}, "scale -1 is not a positive number"},
		{"huge scale", Config{Scale: 1e12}, "more than"},
		{"unknown table in rows", Config{Rows: map[string]int64{"evnts": 1}}, `unknown table "evnts" (valid tables: companies, contacts, events, revenue, revenue_attribution, paid_ads)`},
		{"negative rows", Config{Rows: map[string]int64{"events": -1}}, "rows of events: -1 rows is outside"},
		{"too many rows", Config{Rows: map[string]int64{"events": MaxRows + 1}}, "outside"},
		{"attribution without revenue", Config{Rows: map[string]int64{"revenue": 0}}, "revenue_attribution has 1200 rows but revenue has none"},
		{"unknown table in tables", Config{Tables: []string{"events", "leads"}}, `unknown table "leads"`},
		{"table twice", Config{Tables: []string{"events", "events"}}, "table events is listed twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate() = %v, want an error containing %q", err, tc.want)
			}
			if _, err := New(tc.cfg); err == nil {
				t.Error("New accepted the configuration")
			}
		})
	}
}

func TestOpenTables(t *testing.T) {
	src, err := New(Config{Tables: []string{"events", "companies", "contacts"}})
	if err != nil {
		t.Fatal(err)
	}
	req := func(tables ...string) source.Request {
		return source.Request{Event: event.ModellingCompleted{AccountID: "acme", RunID: "r1"}, Tables: tables}
	}
	tests := []struct {
		name    string
		tables  []string
		want    []string
		wantErr string
	}{
		{"configured order", nil, []string{"events", "companies", "contacts"}, ""},
		{"subset reordered", []string{"contacts", "events"}, []string{"contacts", "events"}, ""},
		{"not configured", []string{"events", "revenue"}, nil, `unknown table "revenue" (valid tables: events, companies, contacts)`},
		{"does not exist", []string{"leads"}, nil, `unknown table "leads"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := src.Open(context.Background(), req(tc.tables...))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, ErrUnknownTable) {
					t.Fatalf("Open() = %v, want an ErrUnknownTable containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer snap.Close()
			var got []string
			for _, tb := range snap.Tables() {
				got = append(got, tb.Name)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("tables %v, want %v", got, tc.want)
			}
			if snap.Parallelism() != 0 {
				t.Errorf("Parallelism() = %d, want 0", snap.Parallelism())
			}
		})
	}
}

func TestReadTableUnknown(t *testing.T) {
	snap := mustSnapshot(t, Config{}, "acme", "events")
	err := snap.ReadTable(context.Background(), "companies", discard{})
	if !errors.Is(err, ErrUnknownTable) || !strings.Contains(err.Error(), `"companies" (valid tables: events)`) {
		t.Errorf("ReadTable(companies) = %v", err)
	}
}

func TestOpenCancelled(t *testing.T) {
	src, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := src.Open(ctx, source.Request{}); !errors.Is(err, context.Canceled) {
		t.Errorf("Open() = %v, want context.Canceled", err)
	}
}
