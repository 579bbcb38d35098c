package destinationtest

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/exportd/exportd/sdk"
)

// Configure configures a destination of p in the test's process as the
// SDK does before a plugin's Configure runs (the configuration checked
// against the schema, its defaults filled in, a logger into the test
// unless info has one), but without the protocol: for tests that reach
// into the plugin's own types. Its errors are those the daemon would see.
func Configure(ctx context.Context, t testing.TB, p sdk.Plugin, info sdk.DestinationInfo, cfg map[string]any) (sdk.Destination, error) {
	t.Helper()
	s := p.Schema()
	if err := s.Validate(); err != nil {
		t.Fatalf("plugin schema: %v", err)
	}
	c := sdk.NewConfig(cfg)
	if err := s.ValidateConfig(c); err != nil {
		return nil, err
	}
	if info.Logger == nil {
		info.Logger = TestLogger(t).With("destination", info.Name)
	}
	return p.Configure(ctx, info, s.WithDefaults(c))
}

// TestLogger returns a logger that writes into the test's log, at debug
// level. Records logged after the test ended are dropped.
func TestLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(TestLogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// TestLogWriter returns a writer that logs each write as a line of t's
// log until t ends, and discards what comes later (a plugin's goroutines,
// or a child process's standard error, may outlive the test).
func TestLogWriter(t testing.TB) io.Writer {
	w := &testWriter{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return w
}

// testWriter writes log lines to the test's log until the test ends: a
// plugin's goroutines may still log afterwards, which the testing package
// does not allow.
type testWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimRight(string(p), "\n"))
	}
	return len(p), nil
}

// RequireConfigError fails the test unless err is a configuration error
// naming attr ("" for none) whose message contains each of says.
func RequireConfigError(t testing.TB, err error, attr string, says ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("succeeded; want a configuration error on %q", attr)
	}
	if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != attr {
		t.Fatalf("got %v (kind %v, attribute %q); want a configuration error on %q", err, sdk.KindOf(err), sdk.AttributeOf(err), attr)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not say %q", err, s)
		}
	}
}
