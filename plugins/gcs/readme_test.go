package gcs

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/exportd/exportd/sdk/destinationtest"
)

// readmeSection returns the top-level README's section with the heading.
func readmeSection(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "\n## "+heading+"\n")
	if start < 0 {
		t.Fatalf("the README has no %s section", heading)
	}
	readme = readme[start+1:]
	if end := strings.Index(readme[1:], "\n## "); end >= 0 {
		readme = readme[:end+1]
	}
	return readme
}

// TestReadme keeps the customer guide honest: its JSON is valid, it
// grants create on the bucket and delete on exactly the receipt, and its
// attribute table lists the schema.
func TestReadme(t *testing.T) {
	readme := readmeSection(t, "Google Cloud Storage")
	for _, m := range regexp.MustCompile("(?s)```json\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		var doc map[string]any
		if err := json.Unmarshal([]byte(m[1]), &doc); err != nil {
			t.Errorf("invalid JSON in the README: %v\n%s", err, m[1])
		}
	}
	for _, want := range []string{
		"--role=roles/iam.serviceAccountTokenCreator",
		"--role=roles/storage.objectCreator",
		"--permissions=storage.objects.delete",
		`resource.name == "projects/_/buckets/acme-platform-dump/objects/dumps/receipt.json"`,
	} {
		if !strings.Contains(readme, want) {
			t.Errorf("the customer guide lacks %s", want)
		}
	}
	var commands strings.Builder
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(readme, -1) {
		commands.WriteString(m[1])
	}
	for _, bad := range []string{"objectAdmin", "objectViewer", "storage.objects.list", "storage.objects.get", "storage.admin"} {
		if strings.Contains(commands.String(), bad) {
			t.Errorf("the customer guide's commands grant %s, which the platform does not need", bad)
		}
	}
	destinationtest.RequireDocumented(t, readme, (&Plugin{}).Schema())
}
