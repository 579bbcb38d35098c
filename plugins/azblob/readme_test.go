package azblob

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/exportd/exportd/sdk/destinationtest"
)

// TestReadme keeps the customer guide honest: its JSON is valid, its
// custom role holds exactly the one data action the plugin needs, its SAS
// is create and write only, and its attribute table lists the schema.
func TestReadme(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## Azure Blob Storage\n")
	if start < 0 {
		t.Fatal("the README has no Azure Blob Storage section")
	}
	readme = readme[start+1:]
	if end := strings.Index(readme[1:], "\n## "); end >= 0 {
		readme = readme[:end+1]
	}
	roles := 0
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		var doc struct {
			DataActions []string
			Actions     []string
		}
		if err := json.Unmarshal([]byte(m[1]), &doc); err != nil {
			t.Errorf("invalid JSON in the README: %v\n%s", err, m[1])
		}
		if doc.DataActions != nil {
			roles++
			if !slices.Equal(doc.DataActions, []string{"Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write"}) || len(doc.Actions) != 0 {
				t.Errorf("the custom role grants %v and %v, want only blobs/write", doc.DataActions, doc.Actions)
			}
		}
	}
	if roles != 1 {
		t.Errorf("%d custom roles in the guide, want 1", roles)
	}
	if !strings.Contains(readme, "generate-sas --account-name $ACCOUNT --name $CONTAINER \\\n  --permissions cw ") {
		t.Error("the guide's SAS is not create-and-write only")
	}
	destinationtest.RequireDocumented(t, readme, (&Plugin{}).Schema())
}
