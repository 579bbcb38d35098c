package host

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/exportd/exportd/sdk/internal/protocol"
	"github.com/hashicorp/go-plugin"
)

// LaunchConfig says how to start a plugin binary.
//
// A plugin does not inherit the caller's environment. It gets PATH, HOME,
// TMPDIR, TZ and LANG, the caller's variables that InheritEnv names, Env,
// and the variables go-plugin sets for the handshake.
type LaunchConfig struct {
	// Path is the plugin executable.
	Path string
	// Executable, when set, is Path opened by the caller, who checked that
	// file (its digest, its permissions). On Linux the plugin is started
	// from this open file, through /proc/self/fd, so that what runs is what
	// was checked even if Path is replaced in between; elsewhere Path is
	// started. Launch does not close it.
	Executable *os.File
	// Args are passed to the plugin.
	Args []string
	// InheritEnv names the caller's environment variables the plugin also
	// receives: names, or prefixes followed by a star ("AWS_*"). See
	// CheckEnvPattern.
	InheritEnv []string
	// Env adds NAME=value pairs to the plugin's environment.
	Env []string
	// Dir is the plugin's working directory; empty means the caller's.
	Dir string
	// Logger receives the plugin's log records. Nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds the handshake. Zero means one minute.
	StartTimeout time.Duration
}

// Launch starts a plugin binary, completes the handshake over mutual TLS,
// and fetches its schema.
func Launch(ctx context.Context, cfg LaunchConfig) (*Client, error) {
	logger := orDiscard(cfg.Logger)
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = time.Minute
	}
	env, err := pluginEnviron(os.Environ(), cfg.InheritEnv)
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: environment: %w", cfg.Path, err)
	}
	cmd := command(cfg)
	cmd.Env = append(env, cfg.Env...)
	cmd.Dir = cfg.Dir
	pc := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  protocol.Handshake,
		Plugins:          plugin.PluginSet{protocol.PluginKey: &protocol.GRPCPlugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		StartTimeout:     timeout,
		Logger:           protocol.NewPluginLogBridge(logger, cmd.Path, cfg.Path),
		GRPCDialOptions:  protocol.DialOptions(),
	})
	c, err := connect(ctx, pc)
	if err != nil {
		pc.Kill()
		return nil, fmt.Errorf("start plugin %s: %w", cfg.Path, err)
	}
	return c, nil
}

// command is the plugin's command line. Started from an open file, the
// plugin receives that file as descriptor 3 and the kernel executes
// /proc/self/fd/3; argv[0] still names Path.
func command(cfg LaunchConfig) *exec.Cmd {
	if cfg.Executable == nil || runtime.GOOS != "linux" {
		return exec.Command(cfg.Path, cfg.Args...)
	}
	return &exec.Cmd{
		Path:       "/proc/self/fd/3",
		Args:       append([]string{cfg.Path}, cfg.Args...),
		ExtraFiles: []*os.File{cfg.Executable},
	}
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
