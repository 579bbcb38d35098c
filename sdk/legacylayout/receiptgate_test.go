package legacylayout

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/sdk"
)

func TestReceiptGate(t *testing.T) {
	ctx := context.Background()
	var g ReceiptGate
	t0 := time.Date(2023, 3, 14, 4, 3, 7, 0, time.UTC)
	var written []time.Time
	write := func(at time.Time) func(context.Context) error {
		return func(context.Context) error { written = append(written, at); return nil }
	}
	if err := g.Write(ctx, t0, write(t0)); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves the gate as it was.
	boom := errors.New("boom")
	if err := g.Write(ctx, t0.Add(2*time.Minute), func(context.Context) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("failed write: %v", err)
	}
	if err := g.Write(ctx, t0.Add(time.Minute), write(t0.Add(time.Minute))); err != nil {
		t.Fatalf("a later dump after a failed write: %v", err)
	}
	err := g.Write(ctx, t0, write(t0))
	if sdk.KindOf(err) != sdk.KindPermanent || !strings.Contains(err.Error(), "later dump") {
		t.Fatalf("an older receipt after a newer one: %v, want a permanent refusal", err)
	}
	if len(written) != 2 {
		t.Fatalf("receipts written: %v", written)
	}
}

func TestCheckTables(t *testing.T) {
	at := time.Date(2023, 3, 14, 4, 3, 0, 0, time.UTC)
	tests := []struct {
		name   string
		tables []string
		max    int
		ok     bool
	}{
		{name: "plain", tables: []string{"companies", "paid_ads"}, max: 1024, ok: true},
		{name: "slash", tables: []string{"a/b"}},
		{name: "backslash", tables: []string{`a\b`}},
		{name: "dot-dot", tables: []string{".."}},
		{name: "control character", tables: []string{"a\nb"}},
		{name: "invalid UTF-8", tables: []string{"a\xffb"}},
		{name: "too long for the store", tables: []string{strings.Repeat("x", 600)}, max: 1024},
		{name: "no limit", tables: []string{strings.Repeat("x", 600)}, ok: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Layout{Folder: "dumps", MaxKeyLen: tc.max}.CheckTables(at, tc.tables)
			if (err == nil) != tc.ok {
				t.Fatalf("CheckTables(%q) = %v", tc.tables, err)
			}
		})
	}
}
