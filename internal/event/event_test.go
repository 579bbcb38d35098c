package event

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, subject, body, err string
	}{
		{"valid", "modelling.completed.acme", `{"account_id":"acme","run_id":"r-1","completed_at":"2024-01-02T03:04:05.123Z"}`, ""},
		{"valid with snapshot and unknown field", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"s1","extra":1}`, ""},
		{"no subject check", "", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z"}`, ""},
		{"empty", "modelling.completed.acme", "  ", "event is empty"},
		{"not json", "modelling.completed.acme", "{", "not a JSON object"},
		{"array", "modelling.completed.acme", "[1]", "not a JSON object"},
		{"trailing", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z"}{}`, "trailing data"},
		{"no account", "modelling.completed.acme", `{"run_id":"r","completed_at":"2024-01-02T03:04:05Z"}`, "no account_id"},
		{"account of wrong type", "modelling.completed.acme", `{"account_id":5,"run_id":"r","completed_at":"2024-01-02T03:04:05Z"}`, "not a JSON object"},
		{"account with a dot", "modelling.completed.a.b", `{"account_id":"a.b","run_id":"r","completed_at":"2024-01-02T03:04:05Z"}`, "not a valid id"},
		{"run id too long", "modelling.completed.acme", `{"account_id":"acme","run_id":"` + strings.Repeat("r", 129) + `","completed_at":"2024-01-02T03:04:05Z"}`, "not a valid id"},
		{"bad time", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-13-02"}`, "not an RFC 3339 time"},
		{"snapshot with a separator", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"b.c"}`, "snapshot \"b.c\" is not a valid reference"},
		{"snapshot with a quote", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"x'--"}`, "not a valid reference"},
		{"snapshot with a path", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"../b"}`, "not a valid reference"},
		{"snapshot too long", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"` + strings.Repeat("s", 129) + `"}`, "not a valid reference"},
		{"snapshot with a newline", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"a\nb"}`, "not a valid reference"},
		{"snapshot not a string", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":{}}`, "snapshot must be a string"},
		{"wrong subject", "modelling.completed.other", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z"}`, "arrived on subject"},
		{"too large", "modelling.completed.acme", strings.Repeat(" ", MaxSize+1), "more than the"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := Decode(tt.subject, []byte(tt.body))
			if tt.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if ev.AccountID != "acme" || ev.CompletedAt.Location() != time.UTC {
					t.Fatalf("decoded %+v", ev)
				}
				// Encoding and decoding again gives the same event.
				again, err := Decode(tt.subject, ev.Encode())
				if err != nil || again != ev {
					t.Fatalf("round trip: %+v, %v", again, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Fatalf("error %v, want one containing %q", err, tt.err)
			}
		})
	}
}

// FuzzDecode: no input makes Decode panic, and whatever it accepts is a
// well-formed event that survives a round trip.
func FuzzDecode(f *testing.F) {
	f.Add("modelling.completed.acme", []byte(`{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z"}`))
	f.Add("modelling.completed.acme", []byte(`{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"x"}`))
	f.Add("", []byte(`{"account_id":"\u0000","run_id":[],"completed_at":null}`))
	f.Add("modelling.completed.", []byte(`{}`))
	f.Add("x", []byte("\xff\xfe"))
	f.Fuzz(func(t *testing.T, subject string, data []byte) {
		ev, err := Decode(subject, data)
		if err != nil {
			if !utf8.ValidString(err.Error()) && utf8.Valid(data) {
				t.Fatalf("error is not valid UTF-8: %q", err)
			}
			return
		}
		if !ValidID(ev.AccountID) || !ValidID(ev.RunID) || !ValidSnapshot(ev.Snapshot) || ev.CompletedAt.IsZero() && !strings.Contains(string(data), "0001-01-01") {
			t.Fatalf("accepted a malformed event: %+v", ev)
		}
		if subject != "" && subject != Subject(ev.AccountID) {
			t.Fatalf("accepted an event on the wrong subject %q: %+v", subject, ev)
		}
		again, err := Decode(Subject(ev.AccountID), ev.Encode())
		if err != nil || again != ev {
			t.Fatalf("round trip of %+v: %+v, %v", ev, again, err)
		}
	})
}
