package event

import (
	"testing"
	"time"
)

func TestCheckCompletedAt(t *testing.T) {
	at := time.Date(2024, 5, 1, 13, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		completed time.Time
		ok        bool
	}{
		{"before", at.Add(-time.Hour), true},
		{"a skewed clock", at.Add(4 * time.Minute), true},
		{"next year", at.AddDate(1, 0, 0), false},
		{"just too late", at.Add(MaxClockSkew + time.Second), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckCompletedAt(ModellingCompleted{AccountID: "a", RunID: "r", CompletedAt: tt.completed}, at)
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
		})
	}
	if got := MsgID(ModellingCompleted{AccountID: "acme", RunID: "17"}); got != "acme.17" {
		t.Fatalf("MsgID %q", got)
	}
}
