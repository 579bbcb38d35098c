package event

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/exportd/exportd/internal/testsupport"
)

func TestDecode(t *testing.T) {
	tests := []struct {
		name, subject, body, err string
	}{
		{"valid", "modelling.completed.acme", `{"account_id":"acme","run_id":"r-1","completed_at":"2024-01-02T03:04:05.123Z"}`, ""},
		{"valid with snapshot and unknown field", "modelling.completed.acme", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z","snapshot":"s1","extra":1}`, ""},
		{"no subject check", "", `{"account_id":"acme","run_id":"r","completed_at":"2024-01-02T03:04:05Z"}`, ""},
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

// TestDecodeRefusesHostileEvents: every event of the shared hostile
// corpus is refused, saying why.
func TestDecodeRefusesHostileEvents(t *testing.T) {
	for _, h := range testsupport.HostileEvents(t) {
		t.Run(h.Name, func(t *testing.T) {
			ev, err := Decode(h.Subject, []byte(h.Body))
			if err == nil || !strings.Contains(err.Error(), h.Reason) {
				t.Fatalf("decoded %+v, %v; want an error saying %q", ev, err, h.Reason)
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
	for _, h := range testsupport.HostileEvents(f) {
		f.Add(h.Subject, []byte(h.Body))
	}
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
