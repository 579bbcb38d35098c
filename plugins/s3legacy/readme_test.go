package s3legacy

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/legacylayout"

	"github.com/exportd/exportd/sdk/destinationtest"
)

// TestReadme keeps the customer guide, the top-level README's AWS S3
// Legacy section, honest: its JSON is valid, its policies grant what the
// plugin needs and no more, its receipt example has the receipt's shape,
// and its attribute table lists the schema.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## AWS S3 Legacy\n")
	if start < 0 {
		t.Fatal("the README has no AWS S3 Legacy section")
	}
	readme = readme[start+1:]
	if end := strings.Index(readme[1:], "\n## "); end >= 0 {
		readme = readme[:end+1]
	}
	blocks := regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(readme, -1)
	if len(blocks) < 5 {
		t.Fatalf("%d JSON blocks, want the lifecycle rule, three policies and a receipt", len(blocks))
	}
	var actions [][]string
	receipts := 0
	for _, m := range blocks {
		var doc map[string]any
		if err := json.Unmarshal([]byte(m[1]), &doc); err != nil {
			t.Fatalf("invalid JSON in the README: %v\n%s", err, m[1])
		}
		if _, ok := doc["timestamp"]; ok {
			receipts++
			if _, _, err := legacylayout.ParseReceipt([]byte(m[1])); err != nil {
				t.Errorf("receipt example: %v", err)
			}
			// The example is the shared golden receipt, which the layout's
			// and localfs's tests produce byte for byte.
			if golden := testsupport.Fixture(t, "receipts/two-tables.json"); m[1] != string(golden) {
				t.Errorf("the receipt example differs from testdata/receipts/two-tables.json:\n%s", m[1])
			}
		}
		stmts, _ := doc["Statement"].([]any)
		for _, s := range stmts {
			var acts []string
			switch a := s.(map[string]any)["Action"].(type) {
			case string:
				acts = []string{a}
			case []any:
				for _, x := range a {
					acts = append(acts, x.(string))
				}
			}
			slices.Sort(acts)
			actions = append(actions, acts)
		}
	}
	if receipts != 1 {
		t.Errorf("%d receipt examples", receipts)
	}
	for _, want := range [][]string{{"sts:AssumeRole"}, {"s3:PutObject", "s3:PutObjectAcl"}, {"kms:Decrypt", "kms:GenerateDataKey"}} {
		if !slices.ContainsFunc(actions, func(a []string) bool { return slices.Equal(a, want) }) {
			t.Errorf("no policy statement allows exactly %v (statements: %v)", want, actions)
		}
	}
	if !strings.Contains(readme, `"sts:ExternalId": "EXTERNAL_ID"`) {
		t.Error("the trust policy does not require the external ID")
	}
	destinationtest.RequireDocumented(t, readme, (&Plugin{}).Schema())
}
