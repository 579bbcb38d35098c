package testsupport

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// Fixture returns the content of a file below the module's testdata/
// folder, where fixtures shared by several packages' tests and by the
// documentation live, such as "receipts/two-tables.json".
func Fixture(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ModuleRoot(t), "testdata", filepath.FromSlash(path)))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

// HostileEvent is a modelling-complete event that exportd must refuse.
type HostileEvent struct {
	Name    string `json:"name"`
	Subject string `json:"subject"`
	Body    string `json:"body"`
	// Reason is what the refusal says, in part.
	Reason string `json:"reason"`
}

// HostileEvents returns the corpus of events exportd must refuse
// (testdata/events/hostile.json).
func HostileEvents(t testing.TB) []HostileEvent {
	t.Helper()
	var corpus struct {
		Events []HostileEvent `json:"events"`
	}
	if err := json.Unmarshal(Fixture(t, "events/hostile.json"), &corpus); err != nil {
		t.Fatalf("events/hostile.json: %v", err)
	}
	if len(corpus.Events) == 0 {
		t.Fatal("events/hostile.json holds no events")
	}
	return corpus.Events
}
