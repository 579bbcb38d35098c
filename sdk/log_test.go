package sdk

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// TestLogAttributesNamedLikeBuiltins: a plugin's own attributes called
// "time" or "level" are logged as they are, not taken for the record's
// time and level (which panicked on a value of another kind).
func TestLogAttributesNamedLikeBuiltins(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(newLogHandler(&buf, slog.LevelDebug))
	log.Info("export committed", "time", "2024-05-01T10:30", "level", 3)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("%v: %s", err, buf.Bytes())
	}
	if rec["@message"] != "export committed" || rec["@level"] != "info" {
		t.Fatalf("built-ins lost: %s", buf.Bytes())
	}
	if _, err := time.Parse(time.RFC3339Nano, rec["@timestamp"].(string)); err != nil {
		t.Fatalf("@timestamp: %v", err)
	}
	if rec["time"] != "2024-05-01T10:30" || rec["level"] != float64(3) {
		t.Fatalf("the record's own attributes changed: %s", buf.Bytes())
	}
}
