// Package config loads exportd's HCL configuration: where the daemon keeps
// its data, how it reaches NATS, its source, parquet settings, plugins and
// destinations. Every value it hands on has been checked, and every
// problem is an hcl.Diagnostic pointing at file:line:col.
//
// Destination blocks are decoded in two steps: the attributes the daemon
// itself consumes (account, tables, enabled) here, the rest later against
// the destination plugin's schema (DecodeDestination), because only the
// plugin knows its attributes. Source blocks are kept as bodies for the
// source to decode, per event, with EventContext.
//
// This package knows the shape of the configuration, not what the daemon
// does with it: it starts nothing and imports no source or plugin.
package config

import (
	"fmt"
	"path/filepath"
	"sort"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// Config is a loaded configuration. Relative paths in it have been made
// absolute against the configuration file's directory.
type Config struct {
	// Filename is the configuration file's absolute path; Dir its directory.
	Filename string
	Dir      string
	// Files holds the parsed sources, for printing diagnostics.
	Files map[string]*hcl.File

	DataDir   string
	PluginDir string
	Log       Log
	NATS      NATS
	Jobs      Jobs
	HTTP      HTTP
	Source    Source
	Parquet   Parquet

	Plugins      []Plugin
	Destinations []Destination
	// Notify holds the notify blocks (notify.go).
	Notify []Notify
	// Registry configures destinations registered at run time
	// (registry.go).
	Registry Registry
}

// Log configures the daemon's log.
type Log struct {
	Level  string // debug, info, warn, error
	Format string // text or json
}

// NATS says how to reach NATS and which stream, consumer and KV buckets to
// use. An empty URL runs an embedded server with JetStream in the data dir.
type NATS struct {
	URL string
	// Listen is the embedded server's client address (loopback only), so
	// that tools can publish to it; empty keeps it in-process.
	Listen string

	CredentialsFile string
	// NKeyFile holds an nkey seed (a secret): the daemon and the commands
	// sign in with it, to an external server or to the embedded one,
	// which then admits only that key.
	NKeyFile string
	// Token is a secret shared by every client: an external server's
	// token, or the one the embedded server then requires.
	Token string
	TLS   *TLS

	Stream   string
	Subjects []string
	// Retention is the stream's retention policy: "limits" keeps events
	// until MaxAge (history for operators), "workqueue" drops each event
	// once it is acknowledged.
	Retention       string
	Consumer        string
	Replicas        int
	MaxAge          time.Duration
	DuplicateWindow time.Duration
	// KVPrefix starts the names of the KV buckets holding job state.
	KVPrefix string
}

// TLS configures a client TLS connection.
type TLS struct {
	CAFile   string
	CertFile string
	KeyFile  string
}

// Jobs tunes the job engine.
type Jobs struct {
	// Workers is how many large exports (of more than SmallRows rows)
	// one daemon runs at once.
	Workers int
	// SmallWorkers is how many small exports it runs at once besides: they
	// wait on NATS, plugins and disks more than they compute.
	SmallWorkers int
	// SmallRows is the most rows of a small export: an export whose
	// destinations' last dumps held more is large, and one that encodes
	// more moves to a large worker.
	SmallRows int
	// AckWait is how long NATS waits for a progress signal before it
	// redelivers an event to another worker.
	AckWait time.Duration
	// MaxDeliver bounds the attempts at exporting one event (or re-export)
	// to one destination. Waiting for another job's lease and being
	// stopped by a shutdown are not attempts.
	MaxDeliver int
	// Backoff is the delay before each retry; the last repeats.
	Backoff []time.Duration
	// GracePeriod is how long a stopping daemon lets exports finish.
	GracePeriod time.Duration
	// TableParallelism is how many tables one export encodes at once.
	TableParallelism int
	// PutConcurrency is how many files one destination receives at once.
	PutConcurrency int
	// LeaseTTL is how long a destination lease lives without renewal.
	LeaseTTL time.Duration
	// ReexportLimit bounds the new re-export jobs one account may queue
	// per ReexportWindow; requests that join a queued job do not count.
	// Zero means no limit.
	ReexportLimit  int
	ReexportWindow time.Duration
}

// HTTP configures the operations endpoint (/metrics, /healthz, /readyz).
type HTTP struct {
	// Listen is the address; empty disables the endpoint.
	Listen string
	// Pprof serves Go's runtime profiles under /debug/pprof/ on the
	// endpoint. Off by default: profiles describe the process to whoever
	// reaches the endpoint, and taking one costs CPU.
	Pprof bool
}

// Parquet configures the shared parquet writers.
type Parquet struct {
	Compression      string // gzip, snappy, zstd or none
	CompressionLevel int    // 0: the codec's default
	TargetFileSize   int64  // bytes
	RowGroupSize     int64  // bytes buffered before a row group is flushed
	// MaxSpooledFiles bounds the finished files of one table waiting for
	// delivery; the encoder waits when it is reached.
	MaxSpooledFiles int
	// Lanes is how many goroutines encode one table, each into files of
	// its own; 0 lets the writer choose (two on a machine with two cores
	// or more), 1 keeps rows in order across a table's files.
	Lanes int
}

// Source is the source block, kept for the source kind to decode.
type Source struct {
	Kind      string
	Body      hcl.Body
	DeclRange hcl.Range
}

// Plugin is a plugin block: where a destination plugin's binary is,
// optionally the SHA-256 it must have, and which of the daemon's
// environment variables it receives besides the base set.
type Plugin struct {
	Name   string
	Path   string
	SHA256 string
	// Env holds variable names and prefixes followed by a star ("AWS_*").
	Env       []string
	DeclRange hcl.Range
}

// Destination is a destination block. Body holds the plugin's own
// attributes, to be decoded with DecodeDestination.
type Destination struct {
	Plugin  string
	Name    string
	Account string
	// Tables restricts the dump to these tables; empty means all.
	Tables  []string
	Enabled bool
	// Registered is set for a destination registered at run time (see
	// RegisteredDestination): its values are literal, never evaluated.
	Registered bool

	Body      hcl.Body
	DeclRange hcl.Range
}

// Defaults for optional settings.
const (
	DefaultStream     = "EXPORTD_EVENTS"
	DefaultConsumer   = "exportd"
	DefaultKVPrefix   = "exportd"
	DefaultHTTPListen = "127.0.0.1:9464"
)

type rawConfig struct {
	DataDir   *hcl.Attribute `hcl:"data_dir"`
	PluginDir *hcl.Attribute `hcl:"plugin_dir"`

	Log          *rawBlock        `hcl:"log,block"`
	NATS         *rawNATS         `hcl:"nats,block"`
	Jobs         *rawBlock        `hcl:"jobs,block"`
	HTTP         *rawBlock        `hcl:"http,block"`
	Parquet      *rawBlock        `hcl:"parquet,block"`
	Sources      []rawSource      `hcl:"source,block"`
	Plugins      []rawPlugin      `hcl:"plugin,block"`
	Destinations []rawDestination `hcl:"destination,block"`
	Notify       []rawNotify      `hcl:"notify,block"`
	Registry     *rawBlock        `hcl:"registry,block"`
}

// rawBlock is a block whose attributes are decoded by hand, so that each
// value's errors can point at it.
type rawBlock struct {
	Body hcl.Body `hcl:",remain"`
}

type rawNATS struct {
	TLS  *rawBlock `hcl:"tls,block"`
	Body hcl.Body  `hcl:",remain"`
}

type rawSource struct {
	Kind     string    `hcl:"kind,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

type rawPlugin struct {
	Name     string    `hcl:"name,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

type rawDestination struct {
	Plugin   string    `hcl:"plugin,label"`
	Name     string    `hcl:"name,label"`
	Body     hcl.Body  `hcl:",remain"`
	DefRange hcl.Range `hcl:",def_range"`
}

// Load reads and checks the configuration file at path. The returned
// Config is usable only when the diagnostics have no errors; they always
// carry the parsed files for printing, through Config.Files.
func Load(path string) (*Config, hcl.Diagnostics) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Invalid configuration path", Detail: err.Error()}}
	}
	p := hclparse.NewParser()
	f, diags := p.ParseHCLFile(abs)
	c := &Config{Filename: abs, Dir: filepath.Dir(abs), Files: p.Files()}
	if diags.HasErrors() {
		return c, diags
	}
	return c, append(diags, c.decode(f.Body)...)
}

// Parse is Load for configuration text already in memory, named filename
// in diagnostics; relative paths are taken from dir.
func Parse(src []byte, filename, dir string) (*Config, hcl.Diagnostics) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	c := &Config{Filename: filename, Dir: dir, Files: p.Files()}
	if diags.HasErrors() {
		return c, diags
	}
	return c, append(diags, c.decode(f.Body)...)
}

func (c *Config) decode(body hcl.Body) hcl.Diagnostics {
	var raw rawConfig
	ctx := evalContext(c.Dir)
	diags := gohcl.DecodeBody(body, ctx, &raw)
	if diags.HasErrors() {
		return diags
	}
	d := decoder{ctx: ctx, dir: c.Dir}

	c.DataDir = d.path(raw.DataDir, "")
	if raw.DataDir == nil {
		d.diags = append(d.diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Missing data_dir",
			Detail:  "Set data_dir to the directory where exportd keeps its spool and embedded NATS store.",
			Subject: body.MissingItemRange().Ptr(),
		})
	}
	c.PluginDir = d.path(raw.PluginDir, "")
	c.decodeLog(&d, raw.Log)
	c.decodeNATS(&d, raw.NATS)
	c.decodeJobs(&d, raw.Jobs)
	c.decodeHTTP(&d, raw.HTTP)
	c.decodeParquet(&d, raw.Parquet)
	c.decodeSource(&d, raw.Sources, body)
	c.decodePlugins(&d, raw.Plugins)
	c.decodeDestinations(&d, raw.Destinations)
	c.decodeNotify(&d, raw.Notify)
	c.decodeRegistry(&d, raw.Registry)
	return append(diags, d.diags...)
}

func (c *Config) decodeLog(d *decoder, b *rawBlock) {
	c.Log = Log{Level: "info", Format: "text"}
	if b == nil {
		return
	}
	a := d.attrs(b.Body, "level", "format")
	d.oneOf(a["level"], &c.Log.Level, "debug", "info", "warn", "error")
	d.oneOf(a["format"], &c.Log.Format, "text", "json")
}

func (c *Config) decodeNATS(d *decoder, b *rawNATS) {
	n := NATS{
		Stream:          DefaultStream,
		Subjects:        []string{event.SubjectPrefix + ">"},
		Retention:       "limits",
		Consumer:        DefaultConsumer,
		Replicas:        1,
		MaxAge:          7 * 24 * time.Hour,
		DuplicateWindow: 24 * time.Hour,
		KVPrefix:        DefaultKVPrefix,
	}
	if b != nil {
		a := d.attrs(b.Body, "url", "listen", "credentials_file", "nkey_file", "token", "stream", "subjects",
			"retention", "consumer", "replicas", "max_age", "duplicate_window", "kv_prefix")
		d.str(a["url"], &n.URL)
		d.loopbackAddr(a["listen"], &n.Listen)
		n.CredentialsFile = d.path(a["credentials_file"], "")
		n.NKeyFile = d.path(a["nkey_file"], "")
		d.secret(a["token"], &n.Token)
		d.name(a["stream"], &n.Stream)
		d.strs(a["subjects"], &n.Subjects)
		d.oneOf(a["retention"], &n.Retention, "limits", "workqueue")
		d.name(a["consumer"], &n.Consumer)
		d.intRange(a["replicas"], &n.Replicas, 1, 5)
		d.duration(a["max_age"], &n.MaxAge, time.Minute)
		d.duration(a["duplicate_window"], &n.DuplicateWindow, time.Second)
		d.name(a["kv_prefix"], &n.KVPrefix)
		if b.TLS != nil {
			t := d.attrs(b.TLS.Body, "ca_file", "cert_file", "key_file")
			n.TLS = &TLS{CAFile: d.path(t["ca_file"], ""), CertFile: d.path(t["cert_file"], ""), KeyFile: d.path(t["key_file"], "")}
		}
		switch {
		case n.URL == "" && (n.CredentialsFile != "" || n.TLS != nil):
			d.errorf(b.Body.MissingItemRange(), "NATS credentials without a URL",
				"credentials_file and tls apply to an external NATS server; set url or remove them.")
		case n.URL == "" && n.Listen == "" && (n.NKeyFile != "" || n.Token != ""):
			d.errorf(b.Body.MissingItemRange(), "NATS authentication without a listener",
				"token and nkey_file protect the embedded server's listen address, or sign in to an external url; set one of them, or remove token and nkey_file.")
		case n.NKeyFile != "" && n.Token != "":
			d.sensitiveErrorf(a["token"].Range, "Both token and nkey_file",
				"NATS takes one way to sign in: give either token or nkey_file.")
		}
		if n.URL != "" && n.Listen != "" {
			d.errorf(a["listen"].Range, "listen needs the embedded server",
				"listen makes the embedded NATS server reachable; it has no meaning with an external url.")
		}
	}
	c.NATS = n
}

func (c *Config) decodeJobs(d *decoder, b *rawBlock) {
	j := Jobs{
		Workers:          2,
		SmallWorkers:     16,
		SmallRows:        100000,
		AckWait:          2 * time.Minute,
		MaxDeliver:       5,
		Backoff:          []time.Duration{30 * time.Second, 2 * time.Minute, 10 * time.Minute},
		GracePeriod:      2 * time.Minute,
		TableParallelism: 2,
		PutConcurrency:   4,
		LeaseTTL:         time.Minute,
		ReexportLimit:    10,
		ReexportWindow:   time.Hour,
	}
	if b != nil {
		a := d.attrs(b.Body, "workers", "small_workers", "small_rows", "ack_wait", "max_deliver", "backoff", "grace_period",
			"table_parallelism", "put_concurrency", "lease_ttl", "reexport_limit", "reexport_window")
		d.intRange(a["workers"], &j.Workers, 1, 256)
		d.intRange(a["small_workers"], &j.SmallWorkers, 1, 1024)
		d.intRange(a["small_rows"], &j.SmallRows, 0, 1<<40)
		d.duration(a["ack_wait"], &j.AckWait, 5*time.Second)
		d.intRange(a["max_deliver"], &j.MaxDeliver, 1, 1000)
		d.durations(a["backoff"], &j.Backoff)
		d.duration(a["grace_period"], &j.GracePeriod, 0)
		d.intRange(a["table_parallelism"], &j.TableParallelism, 1, 64)
		d.intRange(a["put_concurrency"], &j.PutConcurrency, 1, 256)
		d.duration(a["lease_ttl"], &j.LeaseTTL, 5*time.Second)
		d.intRange(a["reexport_limit"], &j.ReexportLimit, 0, 100000)
		d.duration(a["reexport_window"], &j.ReexportWindow, time.Second)
	}
	c.Jobs = j
}

func (c *Config) decodeHTTP(d *decoder, b *rawBlock) {
	c.HTTP = HTTP{Listen: DefaultHTTPListen}
	if b != nil {
		a := d.attrs(b.Body, "listen", "pprof")
		d.str(a["listen"], &c.HTTP.Listen)
		d.boolean(a["pprof"], &c.HTTP.Pprof)
	}
}

func (c *Config) decodeParquet(d *decoder, b *rawBlock) {
	p := Parquet{
		Compression:     "gzip",
		TargetFileSize:  128 << 20,
		RowGroupSize:    32 << 20,
		MaxSpooledFiles: 4,
	}
	if b != nil {
		a := d.attrs(b.Body, "compression", "compression_level", "target_file_size", "row_group_size", "max_spooled_files", "lanes")
		d.oneOf(a["compression"], &p.Compression, "gzip", "snappy", "zstd", "none")
		d.intRange(a["compression_level"], &p.CompressionLevel, 0, 22)
		// No destination's limit here: files are kept under the max object
		// size each destination's plugin declares, whatever this says.
		d.size(a["target_file_size"], &p.TargetFileSize, 64<<10, 1<<40)
		d.size(a["row_group_size"], &p.RowGroupSize, 64<<10, 1<<30)
		d.intRange(a["max_spooled_files"], &p.MaxSpooledFiles, 1, 1024)
		d.intRange(a["lanes"], &p.Lanes, 0, 32)
	}
	c.Parquet = p
}

func (c *Config) decodeSource(d *decoder, srcs []rawSource, body hcl.Body) {
	switch len(srcs) {
	case 0:
		d.errorf(body.MissingItemRange(), "Missing source block",
			`Add a source block, e.g. source "sample" {} for generated data or source "postgres" { … }.`)
	case 1:
		s := srcs[0]
		c.Source = Source{Kind: s.Kind, Body: s.Body, DeclRange: s.DefRange}
	default:
		d.errorf(srcs[1].DefRange, "Duplicate source block", "exportd reads from exactly one source.")
	}
}

func (c *Config) decodePlugins(d *decoder, ps []rawPlugin) {
	seen := map[string]bool{}
	for _, p := range ps {
		rng := p.DefRange
		if seen[p.Name] {
			d.errorf(rng, "Duplicate plugin block", fmt.Sprintf("Plugin %q is declared twice.", p.Name))
			continue
		}
		seen[p.Name] = true
		if !event.ValidID(p.Name) {
			d.errorf(rng, "Invalid plugin name", fmt.Sprintf("%q: use letters, digits, _ and -.", p.Name))
		}
		a := d.attrs(p.Body, "path", "sha256", "env")
		pl := Plugin{Name: p.Name, DeclRange: rng}
		pl.Path = d.path(a["path"], "")
		d.sha256(a["sha256"], &pl.SHA256)
		d.envPatterns(a["env"], &pl.Env)
		c.Plugins = append(c.Plugins, pl)
	}
}

func (c *Config) decodeDestinations(d *decoder, ds []rawDestination) {
	seen := map[string]bool{}
	for _, rd := range ds {
		dst, ok := d.destination(rd.Plugin, rd.Name, rd.Body, rd.DefRange)
		if !ok {
			continue
		}
		if seen[rd.Name] {
			d.errorf(rd.DefRange, "Duplicate destination", fmt.Sprintf("A destination named %q is already declared; names are unique across plugins.", rd.Name))
		}
		seen[rd.Name] = true
		c.Destinations = append(c.Destinations, dst)
	}
	sort.SliceStable(c.Destinations, func(i, j int) bool { return c.Destinations[i].Name < c.Destinations[j].Name })
}

// destination decodes what the daemon itself reads in a destination's body
// (account, tables, enabled) and keeps the rest for DecodeDestination. It
// reports false when the body cannot be read at all.
func (d *decoder) destination(plugin, name string, body hcl.Body, rng hcl.Range) (Destination, bool) {
	var head struct {
		Account *hcl.Attribute `hcl:"account"`
		Tables  *hcl.Attribute `hcl:"tables"`
		Enabled *hcl.Attribute `hcl:"enabled"`
		Rest    hcl.Body       `hcl:",remain"`
	}
	if diags := gohcl.DecodeBody(body, d.ctx, &head); diags.HasErrors() {
		d.diags = append(d.diags, diags...)
		return Destination{}, false
	}
	dst := Destination{Plugin: plugin, Name: name, Enabled: true, Body: head.Rest, DeclRange: rng}
	if !event.ValidID(name) {
		d.errorf(rng, "Invalid destination name", fmt.Sprintf("%q: use letters, digits, _ and -, at most 128.", name))
	}
	if head.Account == nil {
		d.errorf(rng, "Missing account", fmt.Sprintf("Destination %q needs account = \"<account id>\": the account whose dumps it receives.", name))
	} else {
		d.str(head.Account, &dst.Account)
		if !event.ValidID(dst.Account) {
			d.errorf(head.Account.Expr.Range(), "Invalid account id", fmt.Sprintf("%q: use letters, digits, _ and -, at most 128.", dst.Account))
		}
	}
	d.strs(head.Tables, &dst.Tables)
	for _, t := range dst.Tables {
		if !event.ValidID(t) {
			d.errorf(head.Tables.Expr.Range(), "Invalid table name", fmt.Sprintf("%q: use letters, digits, _ and -, at most 128.", t))
			break
		}
	}
	d.boolean(head.Enabled, &dst.Enabled)
	return dst, true
}

// RegisteredDestination decodes a destination registered at run time
// through the API, whose body (account, tables, enabled and the plugin's
// attributes) came from a request. It is decoded exactly as a destination
// block of the file is, except that expressions are not evaluated: no
// functions (env, file), no templates; every value is taken literally.
// Decode its plugin attributes with DecodeDestination, as for the file's.
func RegisteredDestination(plugin, name string, body hcl.Body, rng hcl.Range) (Destination, hcl.Diagnostics) {
	d := decoder{}
	dst, ok := d.destination(plugin, name, body, rng)
	if !ok {
		return Destination{}, d.diags
	}
	dst.Registered = true
	return dst, d.diags
}
