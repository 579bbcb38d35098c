package protocol

import (
	"context"
	"io"
	"log"
	"log/slog"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
)

// hclogBridge is an hclog.Logger that writes into a slog.Logger. go-plugin
// logs through hclog, including every line a plugin writes with
// sdk.Logger; the bridge lands them in the host's structured log.
type hclogBridge struct {
	l    *slog.Logger
	name string
	args []any
	// started and path: a plugin started from an open file is known to
	// go-plugin by the name it was executed under (/proc/self/fd/3); the
	// bridge shows its path instead.
	started, path string
}

var _ hclog.Logger = (*hclogBridge)(nil)

// NewLogBridge returns an hclog.Logger writing into l.
func NewLogBridge(l *slog.Logger) hclog.Logger { return &hclogBridge{l: l} }

// NewPluginLogBridge is NewLogBridge for the go-plugin client of a
// plugin executed as started whose path is path.
func NewPluginLogBridge(l *slog.Logger, started, path string) hclog.Logger {
	return &hclogBridge{l: l, started: started, path: path}
}

func slogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace, hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (b *hclogBridge) Log(level hclog.Level, msg string, args ...any) {
	lvl := slogLevel(level)
	ctx := context.Background()
	if !b.l.Enabled(ctx, lvl) {
		return
	}
	all := make([]any, 0, len(b.args)+len(args)+2)
	if b.name != "" {
		all = append(all, "logger", b.name)
	}
	all = append(all, b.args...)
	for i := 0; i+1 < len(args); i += 2 {
		// go-plugin adds the plugin's own timestamp to forwarded lines;
		// the host's record has its own.
		if k, _ := args[i].(string); k == "timestamp" {
			continue
		}
		v := args[i+1]
		if s, ok := v.(string); ok && b.started != b.path && s == b.started {
			v = b.path
		}
		all = append(all, args[i], v)
	}
	b.l.Log(ctx, lvl, msg, all...)
}

func (b *hclogBridge) Trace(msg string, args ...any) { b.Log(hclog.Trace, msg, args...) }
func (b *hclogBridge) Debug(msg string, args ...any) { b.Log(hclog.Debug, msg, args...) }
func (b *hclogBridge) Info(msg string, args ...any)  { b.Log(hclog.Info, msg, args...) }
func (b *hclogBridge) Warn(msg string, args ...any)  { b.Log(hclog.Warn, msg, args...) }
func (b *hclogBridge) Error(msg string, args ...any) { b.Log(hclog.Error, msg, args...) }

func (b *hclogBridge) enabled(level hclog.Level) bool {
	return b.l.Enabled(context.Background(), slogLevel(level))
}

func (b *hclogBridge) IsTrace() bool { return b.enabled(hclog.Trace) }
func (b *hclogBridge) IsDebug() bool { return b.enabled(hclog.Debug) }
func (b *hclogBridge) IsInfo() bool  { return b.enabled(hclog.Info) }
func (b *hclogBridge) IsWarn() bool  { return b.enabled(hclog.Warn) }
func (b *hclogBridge) IsError() bool { return b.enabled(hclog.Error) }

func (b *hclogBridge) ImpliedArgs() []any { return b.args }

func (b *hclogBridge) With(args ...any) hclog.Logger {
	c := *b
	c.args = append(append([]any(nil), b.args...), args...)
	return &c
}

func (b *hclogBridge) Name() string { return b.name }

func (b *hclogBridge) Named(name string) hclog.Logger {
	c := *b
	if b.started != b.path && name == filepath.Base(b.started) {
		name = filepath.Base(b.path)
	}
	if c.name != "" {
		name = c.name + "." + name
	}
	c.name = name
	return &c
}

func (b *hclogBridge) ResetNamed(name string) hclog.Logger {
	c := *b
	c.name = name
	return &c
}

// SetLevel is a no-op: the slog handler decides what is logged.
func (b *hclogBridge) SetLevel(hclog.Level) {}

func (b *hclogBridge) GetLevel() hclog.Level {
	switch {
	case b.enabled(hclog.Debug):
		return hclog.Debug
	case b.enabled(hclog.Info):
		return hclog.Info
	case b.enabled(hclog.Warn):
		return hclog.Warn
	}
	return hclog.Error
}

func (b *hclogBridge) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(b.StandardWriter(opts), "", 0)
}

func (b *hclogBridge) StandardWriter(*hclog.StandardLoggerOptions) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		b.Info(string(trimNewline(p)))
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func trimNewline(p []byte) []byte {
	for len(p) > 0 && (p[len(p)-1] == '\n' || p[len(p)-1] == '\r') {
		p = p[:len(p)-1]
	}
	return p
}
