package sample

import (
	"slices"
	"testing"

	"github.com/exportd/exportd/internal/schema"
)

func TestTablesValidate(t *testing.T) {
	ts := Tables()
	if got := len(ts); got != 6 {
		t.Fatalf("%d tables, want 6", got)
	}
	for k, tb := range ts {
		if tb.Name != TableNames()[k] {
			t.Errorf("table %d is %s, want %s", k, tb.Name, TableNames()[k])
		}
		if err := tb.Validate(); err != nil {
			t.Errorf("%s: %v", tb.Name, err)
		}
	}
}

// TestTablesHaveThePlatformsTypes checks that the schemas exercise what a
// real platform's tables hold, so an export of sample data tests every
// path of the parquet writer that matters.
func TestTablesHaveThePlatformsTypes(t *testing.T) {
	has := map[string]bool{}
	for _, tb := range Tables() {
		for _, c := range tb.Columns {
			switch {
			case c.Kind == schema.Decimal && c.Precision > 18:
				has["wide decimal"] = true
			case c.Kind == schema.Decimal:
				has["decimal"] = true
			case c.Kind == schema.Timestamp && c.UTC:
				has["timestamp"] = true
			case c.Kind == schema.List && c.Nullable:
				has["nullable list"] = true
			case c.Kind == schema.JSON:
				has["json"] = true
			}
			if c.Kind == schema.String && c.Nullable {
				has["nullable string"] = true
			}
			if c.LowCardinality {
				has["low cardinality"] = true
			}
			has[c.Kind.String()] = true
		}
	}
	for _, want := range []string{
		"wide decimal", "decimal", "timestamp", "nullable list", "json", "nullable string",
		"low cardinality", "date", "bool", "int16", "int32", "int64", "float64", "string",
	} {
		if !has[want] {
			t.Errorf("no %s column", want)
		}
	}
}

func TestEventsColumns(t *testing.T) {
	want := []string{
		"event_id", "contact_id", "company_id", "event_type", "event_time", "event_date",
		"source", "channel", "url", "referrer", "session_id", "duration_ms", "properties",
	}
	var got []string
	for _, c := range Tables()[events].Columns {
		got = append(got, c.Name)
	}
	if !slices.Equal(got, want) {
		t.Errorf("events columns\n got %v\nwant %v", got, want)
	}
}

func TestLowCardinalityColumns(t *testing.T) {
	want := map[string][]string{
		"companies":           {"industry", "country"},
		"contacts":            {"country", "lifecycle_stage"},
		"events":              {"event_type", "source", "channel"},
		"revenue":             {"revenue_type", "currency"},
		"revenue_attribution": {"model", "channel", "currency"},
		"paid_ads":            {"platform", "campaign_type", "currency"},
	}
	for _, tb := range Tables() {
		var got []string
		for _, c := range tb.Columns {
			if c.LowCardinality {
				got = append(got, c.Name)
			}
		}
		if !slices.Equal(got, want[tb.Name]) {
			t.Errorf("%s: low-cardinality columns %v, want %v", tb.Name, got, want[tb.Name])
		}
	}
}

// TestTablesAreFresh checks that callers cannot change the package's
// schemas through what Tables returns.
func TestTablesAreFresh(t *testing.T) {
	ts := Tables()
	ts[0].Columns[0].Name = "changed"
	ts[0].Columns[9].Elem.Kind = schema.Int64
	again := Tables()
	if again[0].Columns[0].Name != "company_id" || again[0].Columns[9].Elem.Kind != schema.String {
		t.Error("Tables returned shared values")
	}
}
