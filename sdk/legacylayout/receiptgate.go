package legacylayout

import (
	"context"
	"fmt"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/exportd/exportd/sdk"
)

// ReceiptGate keeps one destination's receipts from going back in time
// when the destination cannot read its own receipt back (a bucket the
// plugin may only write to). It serialises the receipt writes of a
// destination within the plugin process and refuses to write the receipt
// of a dump older than the newest one it has written. Across processes
// the daemon gives the same guarantee (each dump's time is later than the
// previous one's); the gate is the plugin's own line of defence.
//
// The zero value is ready to use. A ReceiptGate must not be copied.
type ReceiptGate struct {
	mu     sync.Mutex
	latest time.Time
}

// Write calls write, which stores the receipt of the dump exported at t,
// unless a receipt of a later dump was written through the gate before.
// Writes through one gate never overlap. A refusal is a permanent error;
// write's own error is returned as it is, and leaves the gate unchanged.
func (g *ReceiptGate) Write(ctx context.Context, t time.Time, write func(context.Context) error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.latest.After(t) {
		return sdk.Permanent(fmt.Errorf("a later dump (%s) is already committed; its receipt stays (this dump is %s)",
			g.latest.UTC().Format(TimestampFormat), t.UTC().Format(TimestampFormat)))
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := write(ctx); err != nil {
		return err
	}
	g.latest = t
	return nil
}

// CheckTables refuses table names that would not stay one segment of an
// object key, and names whose longest key in the dump exported at t would
// exceed the layout's MaxKeyLen. The SDK already refuses empty and
// repeated names.
func (l Layout) CheckTables(t time.Time, tables []string) error {
	for _, name := range tables {
		if err := checkSegment(name); err != nil {
			return err
		}
		if k := l.FileKey(t, name, 0); l.MaxKeyLen > 0 && len(k) > l.MaxKeyLen {
			return fmt.Errorf("table %q makes keys of %d bytes, longer than the destination's %d", name, len(k), l.MaxKeyLen)
		}
	}
	return nil
}

func checkSegment(name string) error {
	if name == "" || name == "." || name == ".." || !utf8.ValidString(name) {
		return fmt.Errorf("table name %q cannot be a key segment", name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return fmt.Errorf("table name %q cannot be a key segment", name)
		}
	}
	return nil
}
