package legacylayout

import (
	"os"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
)

func TestNormalizeFolder(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"", "", false},
		{"/", "", false},
		{"dumps", "dumps", false},
		{"/dumps/acme/", "dumps/acme", false},
		{"a//b", "", true},
		{"a/../b", "", true},
		{"./a", "", true},
		{"a\\b", "", true},
		{"a\nb", "", true},
	}
	for _, tt := range tests {
		got, err := NormalizeFolder(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("NormalizeFolder(%q) = %q, %v", tt.in, got, err)
		}
	}
}

func TestKeysAndReceipt(t *testing.T) {
	at := time.Date(2023, 3, 14, 4, 3, 7, 963883123, time.FixedZone("CET", 3600))
	for _, tt := range []struct {
		folder, receipt, file string
	}{
		{"", "receipt.json", "2023-03-14T03:03/companies/companies_000000000057.parquet.gz"},
		{"dumps/acme", "dumps/acme/receipt.json", "dumps/acme/2023-03-14T03:03/companies/companies_000000000057.parquet.gz"},
	} {
		l := Layout{Folder: tt.folder}
		if got := l.ReceiptKey(); got != tt.receipt {
			t.Errorf("receipt key %q, want %q", got, tt.receipt)
		}
		if got := l.FileKey(at, "companies", 57); got != tt.file {
			t.Errorf("file key %q, want %q", got, tt.file)
		}
	}
	r := Layout{}.NewReceipt(at, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "companies", Files: 58}}})
	want := "{\n  \"timestamp\": \"2023-03-14T03:03:07.963883Z\",\n  \"tables\": {\n    \"companies\": {\n      \"folder\": \"2023-03-14T03:03/companies\",\n      \"total_file_count\": 58\n    }\n  }\n}\n"
	if got := string(r.Marshal()); got != want {
		t.Fatalf("receipt:\n%s\nwant:\n%s", got, want)
	}
	// The golden receipt shared with localfs's tests and the README.
	golden, err := os.ReadFile("../../testdata/receipts/two-tables.json")
	if err != nil {
		t.Fatal(err)
	}
	goldenAt := time.Date(2023, 3, 14, 4, 3, 7, 963883000, time.UTC)
	two := Layout{Folder: "dumps"}.NewReceipt(goldenAt, sdk.Manifest{Tables: []sdk.TableManifest{{Name: "contacts", Files: 1}, {Name: "companies", Files: 2}}})
	if got := string(two.Marshal()); got != string(golden) {
		t.Fatalf("receipt:\n%s\nwant testdata/receipts/two-tables.json:\n%s", got, golden)
	}
	back, ts, err := ParseReceipt(r.Marshal())
	if err != nil || !ts.Equal(at.Truncate(time.Microsecond)) || back.Tables["companies"].TotalFileCount != 58 {
		t.Fatalf("parse: %+v %v %v", back, ts, err)
	}
}

func TestReceiptOfCarriedTables(t *testing.T) {
	at := time.Date(2024, 5, 1, 14, 38, 2, 500000000, time.UTC)
	full := at.Add(-time.Minute - 58*time.Second)
	r := Layout{Folder: "dumps"}.NewReceipt(at, sdk.Manifest{Tables: []sdk.TableManifest{
		{Name: "events", Files: 3},
		{Name: "companies", Files: 2, Carried: full},
	}})
	if r.Timestamp != "2024-05-01T14:38:02.500000Z" {
		t.Fatalf("timestamp %s", r.Timestamp)
	}
	want := map[string]ReceiptTable{
		"events":    {Folder: "dumps/2024-05-01T14:38/events", TotalFileCount: 3},
		"companies": {Folder: "dumps/2024-05-01T14:36/companies", TotalFileCount: 2},
	}
	for name, w := range want {
		if r.Tables[name] != w {
			t.Errorf("%s: %+v, want %+v", name, r.Tables[name], w)
		}
	}
}
