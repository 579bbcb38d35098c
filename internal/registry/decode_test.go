package registry

import (
	"strings"
	"testing"

	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

// TestOperatorOnlyAttributes: an attribute the schema keeps for the
// operator's HCL is refused through the registry, naming it; left out, the
// registration is accepted.
func TestOperatorOnlyAttributes(t *testing.T) {
	schema := sdk.Schema{Name: "s3legacy", Attributes: []sdk.Attribute{
		{Name: "bucket", Type: sdk.TypeString, Required: true},
		{Name: "external_id", Type: sdk.TypeString, OperatorOnly: true},
	}}
	tests := []struct {
		name    string
		body    string
		refused string
	}{
		{name: "external_id set", body: `{"account": "a", "bucket": "b", "external_id": "b-account"}`, refused: "external_id"},
		{name: "external_id left out", body: `{"account": "a", "bucket": "b"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, diags := hcljson.Parse([]byte(tt.body), "request")
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			dec, diags := DecodeBody(nil, "s3legacy", "d1", f.Body, hcl.Range{Filename: "request"}, schema)
			if tt.refused == "" {
				if diags.HasErrors() || dec.Destination.Account != "a" {
					t.Fatalf("refused: %v", diags)
				}
				return
			}
			out := diagnostics(diags, f.Body)
			if len(out) != 1 || out[0].Attribute != tt.refused || !strings.Contains(out[0].Detail, "only in the daemon's HCL configuration") {
				t.Fatalf("diagnostics %+v, want one naming %s", out, tt.refused)
			}
		})
	}
}
