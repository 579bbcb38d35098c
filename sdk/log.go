package sdk

import (
	"io"
	"log/slog"
	"os"
	"sync"
)

// stderr is the plugin's original standard error. go-plugin's Serve swaps
// os.Stderr for a pipe once it runs; structured log lines must reach the
// original file, which the daemon reads and forwards into its own log.
var stderr io.Writer = os.Stderr

var (
	loggerOnce sync.Once
	logger     *slog.Logger
)

// Logger returns the plugin's logger. Its records travel to the daemon,
// which logs them under the plugin's name, so plugin code logs with it as
// with any slog.Logger. Never log secrets.
func Logger() *slog.Logger {
	loggerOnce.Do(func() { logger = slog.New(newLogHandler(stderr, slog.LevelDebug)) })
	return logger
}

// newLogHandler returns a slog handler writing JSON lines in the format
// that go-plugin forwards from a plugin's standard error to the host.
func newLogHandler(w io.Writer, level slog.Leveler) slog.Handler {
	return slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			// A record's own attribute may bear a built-in's name ("time":
			// "…"); only values of the built-in's kind are the built-in.
			switch a.Key {
			case slog.TimeKey:
				if a.Value.Kind() == slog.KindTime {
					return slog.String("@timestamp", a.Value.Time().UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
				}
			case slog.LevelKey:
				if l, ok := a.Value.Any().(slog.Level); ok {
					return slog.String("@level", hclogLevelName(l))
				}
			case slog.MessageKey:
				return slog.String("@message", a.Value.String())
			}
			return a
		},
	})
}

func hclogLevelName(l slog.Level) string {
	switch {
	case l < slog.LevelInfo:
		return "debug"
	case l < slog.LevelWarn:
		return "info"
	case l < slog.LevelError:
		return "warn"
	}
	return "error"
}
