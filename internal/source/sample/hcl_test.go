package sample

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/source"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// sourceBody parses a configuration file holding one source block and
// returns the block's body, as the config package hands it to a factory.
func sourceBody(t *testing.T, attrs string) hcl.Body {
	t.Helper()
	src := "source \"sample\" {\n" + attrs + "\n}\n"
	f, diags := hclsyntax.ParseConfig([]byte(src), "exportd.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	content, diags := f.Body.Content(&hcl.BodySchema{
		Blocks: []hcl.BlockHeaderSchema{{Type: "source", LabelNames: []string{"kind"}}},
	})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return content.Blocks[0].Body
}

func openHCL(t *testing.T, attrs, account string) (*Snapshot, error) {
	t.Helper()
	factory, ok := source.Lookup("sample")
	if !ok {
		t.Fatal(`no source kind "sample" registered`)
	}
	src, diags := factory(sourceBody(t, attrs), testEnv())
	if diags.HasErrors() {
		t.Fatalf("startup: %v", diags)
	}
	defer src.Close()
	snap, err := src.Open(context.Background(), source.Request{Event: event.ModellingCompleted{AccountID: account, RunID: "run1"}})
	if err != nil {
		return nil, err
	}
	return snap.(*Snapshot), nil
}

func TestHCL(t *testing.T) {
	tests := []struct {
		name    string
		attrs   string
		account string
		tables  string // in order
		rows    map[string]int64
		same    Config // a configuration that must give the same rows
	}{
		{
			name: "defaults", attrs: "", account: "acme",
			tables: "companies,contacts,events,revenue,revenue_attribution,paid_ads",
			rows:   map[string]int64{"companies": 200, "events": 10000, "paid_ads": 500},
			same:   Config{},
		},
		{
			name: "everything",
			attrs: `  seed   = 7
  scale  = 0.5
  rows   = { events = 5000000, paid_ads = 0 }
  tables = ["events", "companies", "paid_ads"]`,
			account: "acme",
			tables:  "events,companies,paid_ads",
			rows:    map[string]int64{"companies": 100, "events": 5000000, "paid_ads": 0},
			same:    Config{Seed: 7, Scale: 0.5, Rows: map[string]int64{"events": 5000000, "paid_ads": 0}},
		},
		{
			name:    "per-event scale",
			attrs:   `scale = event.account_id == "bigco" ? 3 : 1`,
			account: "bigco",
			tables:  "companies,contacts,events,revenue,revenue_attribution,paid_ads",
			rows:    map[string]int64{"companies": 600, "events": 30000},
			same:    Config{Scale: 3},
		},
		{
			name:    "per-event scale, other account",
			attrs:   `scale = event.account_id == "bigco" ? 3 : 1`,
			account: "acme",
			tables:  "companies,contacts,events,revenue,revenue_attribution,paid_ads",
			rows:    map[string]int64{"companies": 200, "events": 10000},
			same:    Config{},
		},
		{
			name:    "per-event rows item",
			attrs:   `rows = { "events" = event.account_id == "tiny" ? 10 : 100, paid_ads = 3 }`,
			account: "tiny",
			tables:  "companies,contacts,events,revenue,revenue_attribution,paid_ads",
			rows:    map[string]int64{"events": 10, "paid_ads": 3},
			same:    Config{Rows: map[string]int64{"events": 10, "paid_ads": 3}},
		},
		{
			name:    "values from functions and strings",
			attrs:   `seed = "12"` + "\n" + `tables = [lower("EVENTS")]`,
			account: "acme",
			tables:  "events",
			rows:    map[string]int64{"events": 10000},
			same:    Config{Seed: 12},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			snap, err := openHCL(t, tc.attrs, tc.account)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tb := range snap.Tables() {
				names = append(names, tb.Name)
			}
			if got := strings.Join(names, ","); got != tc.tables {
				t.Errorf("tables %s, want %s", got, tc.tables)
			}
			for table, want := range tc.rows {
				if got, err := snap.RowCount(table); err != nil || got != want {
					t.Errorf("RowCount(%s) = %d, %v, want %d", table, got, err, want)
				}
			}
			same := mustSnapshot(t, tc.same, tc.account)
			table := names[0]
			a, _ := snap.Row(table, 0)
			b, _ := same.Row(table, 0)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Errorf("first %s row differs from that of %+v", table, tc.same)
			}
		})
	}
}

// TestHCLDiagnostics checks that mistakes are reported at startup with the
// range of what is wrong.
func TestHCLDiagnostics(t *testing.T) {
	tests := []struct {
		name    string
		attrs   string // starts on line 2 of the file
		summary string
		detail  string
		at      string // file:line,column of the subject's start
	}{
		{"typo", "  sed = 3", "Unsupported argument", `Did you mean "seed"?`, "exportd.hcl:2,3"},
		{"block", "  rows {\n  }", "Unsupported block type", `Did you mean to define argument "rows"?`, "exportd.hcl:2,3"},
		{"seed not whole", "seed = 1.5", "Invalid seed", "whole number", "exportd.hcl:2,8"},
		{"seed zero", "seed = 0", "Invalid seed", "from 1", "exportd.hcl:2,8"},
		{"seed not a number", `seed = "x"`, "Invalid seed", "number", "exportd.hcl:2,8"},
		{"negative scale", "scale = -1", "Invalid scale", "not a positive number", "exportd.hcl:2,9"},
		{"huge scale", "scale = 1e20", "Invalid scale", "more than", "exportd.hcl:2,9"},
		{"unknown table in rows", "rows = {\n  events = 1\n  evnts = 5\n}", "Unknown table", `no table "evnts"`, "exportd.hcl:4,3"},
		{"rows twice", "rows = { events = 1, \"events\" = 2 }", "Duplicate table", "given twice", "exportd.hcl:2,22"},
		{"negative rows", "rows = { events = -5 }", "Invalid row count", "whole number from 0", "exportd.hcl:2,19"},
		{"fractional rows", "rows = { events = 2.5 }", "Invalid row count", "", "exportd.hcl:2,19"},
		{"rows not a map", "rows = 5", "Invalid rows", "map of number", "exportd.hcl:2,8"},
		{"unknown table in tables", `tables = ["events", "leads"]`, "Unknown table", `no table "leads"`, "exportd.hcl:2,21"},
		{"table twice", `tables = ["events", "events"]`, "Duplicate table", "", "exportd.hcl:2,21"},
		{"tables not a list", `tables = "events"`, "Invalid tables", "list of string", "exportd.hcl:2,10"},
		{"attribution without revenue", "rows = { revenue = 0 }", "Invalid sample source", "revenue has none", "exportd.hcl:2,8"},
	}
	factory, _ := source.Lookup("sample")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			src, diags := factory(sourceBody(t, tc.attrs), testEnv())
			if !diags.HasErrors() {
				t.Fatalf("no error; source %v", src)
			}
			d := diags[0]
			if d.Subject == nil {
				t.Fatalf("diagnostic without range: %v", d)
			}
			at := fmt.Sprintf("%s:%d,%d", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column)
			if d.Summary != tc.summary || !strings.Contains(d.Detail, tc.detail) || at != tc.at {
				t.Errorf("got %s: %s; %s\nwant %s: %s; …%s…", at, d.Summary, d.Detail, tc.at, tc.summary, tc.detail)
			}
		})
	}
}

// TestHCLPerEventErrors checks that a value that depends on the event is
// checked when the export starts, with its range.
func TestHCLPerEventErrors(t *testing.T) {
	_, err := openHCL(t, `scale = event.account_id == "bad" ? -1 : 1`, "bad")
	if err == nil || !strings.Contains(err.Error(), "exportd.hcl:2,9") || !strings.Contains(err.Error(), "Invalid scale") {
		t.Errorf("Open() = %v, want an invalid scale at exportd.hcl:2,9", err)
	}
	_, err = openHCL(t, `tables = [event.account_id]`, "leads")
	if err == nil || !strings.Contains(err.Error(), `no table "leads"`) {
		t.Errorf("Open() = %v, want an unknown table", err)
	}
}

func TestHCLWithoutEvalContext(t *testing.T) {
	factory, _ := source.Lookup("sample")
	src, diags := factory(sourceBody(t, "scale = 2"), source.Env{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	snap, err := src.Open(context.Background(), source.Request{Event: event.ModellingCompleted{AccountID: "acme"}})
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := snap.(*Snapshot).RowCount("events"); n != 20000 {
		t.Errorf("%d events, want 20000", n)
	}
}
