package config

import (
	"strings"
	"testing"
	"time"

	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/sdk"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
)

const full = `
data_dir   = "var"
plugin_dir = "/opt/exportd/plugins"
log {
  level  = "debug"
  format = "json"
}
nats {
  listen           = "127.0.0.1:4333"
  stream           = "EVENTS"
  duplicate_window = "2h"
}
jobs {
  workers = 3
  small_workers = 20
  backoff = ["10s", "1m"]
}
parquet {
  compression       = "zstd"
  target_file_size  = "64MiB"
  row_group_size    = 8388608
  lanes             = 1
}
source "sample" {
  scale = 2
}
plugin "localfs" {
  path   = "bin/exportd-plugin-localfs"
  sha256 = "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"
  env    = ["AWS_*", "HTTPS_PROXY"]
}
destination "localfs" "acme-local" {
  account = "acme"
  tables  = ["companies"]
  path    = "/srv/acme"
}
destination "s3legacy" "acme-s3" {
  account = "acme"
  enabled = false
  bucket  = "b"
}
`

func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, diags := Parse([]byte(src), "test.hcl", "/etc/exportd")
	if diags.HasErrors() {
		t.Fatalf("unexpected diagnostics: %v", diags)
	}
	return c
}

func TestParseFull(t *testing.T) {
	c := mustParse(t, full)
	checks := []struct {
		name      string
		got, want any
	}{
		{"data_dir relative to the file", c.DataDir, "/etc/exportd/var"},
		{"plugin_dir absolute", c.PluginDir, "/opt/exportd/plugins"},
		{"log", c.Log, Log{Level: "debug", Format: "json"}},
		{"nats listen", c.NATS.Listen, "127.0.0.1:4333"},
		{"nats url empty means embedded", c.NATS.URL, ""},
		{"stream", c.NATS.Stream, "EVENTS"},
		{"retention default", c.NATS.Retention, "limits"},
		{"consumer default", c.NATS.Consumer, DefaultConsumer},
		{"dup window", c.NATS.DuplicateWindow, 2 * time.Hour},
		{"workers", c.Jobs.Workers, 3},
		{"small workers", c.Jobs.SmallWorkers, 20},
		{"small rows default", c.Jobs.SmallRows, 100000},
		{"backoff", len(c.Jobs.Backoff), 2},
		{"max deliver default", c.Jobs.MaxDeliver, 5},
		{"compression", c.Parquet.Compression, "zstd"},
		{"target size", c.Parquet.TargetFileSize, int64(64 << 20)},
		{"row group as number", c.Parquet.RowGroupSize, int64(8 << 20)},
		{"lanes", c.Parquet.Lanes, 1},
		{"source kind", c.Source.Kind, "sample"},
		{"plugin path", c.Plugins[0].Path, "/etc/exportd/bin/exportd-plugin-localfs"},
		{"plugin sha lower-cased", c.Plugins[0].SHA256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
		{"plugin env", strings.Join(c.Plugins[0].Env, ","), "AWS_*,HTTPS_PROXY"},
		{"destinations sorted", c.Destinations[0].Name, "acme-local"},
		{"tables", strings.Join(c.Destinations[0].Tables, ","), "companies"},
		{"enabled default", c.Destinations[0].Enabled, true},
		{"disabled", c.Destinations[1].Enabled, false},
		{"http default", c.HTTP.Listen, DefaultHTTPListen},
		{"profiling off by default", c.HTTP.Pprof, false},
	}
	for _, ck := range checks {
		if ck.got != ck.want {
			t.Errorf("%s: got %v, want %v", ck.name, ck.got, ck.want)
		}
	}
}

func TestHTTPProfiling(t *testing.T) {
	c := mustParse(t, "data_dir = \"x\"\nsource \"sample\" {}\nhttp {\n  listen = \"127.0.0.1:9999\"\n  pprof  = true\n}\n")
	if want := (HTTP{Listen: "127.0.0.1:9999", Pprof: true}); c.HTTP != want {
		t.Fatalf("http: got %+v, want %+v", c.HTTP, want)
	}
}

// TestParquetDefaults checks the parquet block's defaults; lanes 0 lets
// the writer pick as many lanes as suit the machine.
func TestParquetDefaults(t *testing.T) {
	c := mustParse(t, "data_dir = \"x\"\nsource \"sample\" {}\n")
	want := Parquet{Compression: "gzip", TargetFileSize: 128 << 20, RowGroupSize: 32 << 20, MaxSpooledFiles: 4, Lanes: 0}
	if c.Parquet != want {
		t.Errorf("parquet defaults %+v, want %+v", c.Parquet, want)
	}
}

func TestDiagnostics(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // in the diagnostic
		line int
	}{
		{"missing data_dir", `source "sample" {}`, "Missing data_dir", 0},
		{"missing source", `data_dir = "x"`, "Missing source block", 0},
		{"typo at top level", "data_dir = \"x\"\nsource \"sample\" {}\nplugin_dri = 1\n", `Unsupported argument; An argument named "plugin_dri" is not expected here. Did you mean "plugin_dir"?`, 3},
		{"bad compression", "data_dir = \"x\"\nsource \"sample\" {}\nparquet {\n  compression = \"lz5\"\n}\n", "compression must be one of gzip, snappy, zstd, none", 4},
		{"bad size", "data_dir = \"x\"\nsource \"sample\" {}\nparquet { target_file_size = \"big\" }\n", "Invalid size", 3},
		{"size too small", "data_dir = \"x\"\nsource \"sample\" {}\nparquet { target_file_size = \"1KiB\" }\n", "Size out of range", 3},
		{"too many lanes", "data_dir = \"x\"\nsource \"sample\" {}\nparquet {\n  lanes = 33\n}\n", "lanes must be between 0 and 32", 4},
		{"negative lanes", "data_dir = \"x\"\nsource \"sample\" {}\nparquet { lanes = -1 }\n", "lanes must be between 0 and 32", 3},
		{"bad duration", "data_dir = \"x\"\nsource \"sample\" {}\njobs { ack_wait = \"soon\" }\n", "Invalid duration", 3},
		{"listen not loopback", "data_dir = \"x\"\nsource \"sample\" {}\nnats { listen = \"0.0.0.0:4222\" }\n", "Address not on loopback", 3},
		{"bad sha", "data_dir = \"x\"\nsource \"sample\" {}\nplugin \"p\" {\n  sha256 = \"abc\"\n}\n", "Invalid SHA-256", 4},
		{"whole environment", "data_dir = \"x\"\nsource \"sample\" {}\nplugin \"p\" {\n  env = [\"*\"]\n}\n", "would pass the daemon's whole environment on", 4},
		{"env not a name", "data_dir = \"x\"\nsource \"sample\" {}\nplugin \"p\" {\n\n  env = [\"AWS_*\", \"AWS-REGION\"]\n}\n", "is not a variable name", 5},
		{"missing account", "data_dir = \"x\"\nsource \"sample\" {}\ndestination \"localfs\" \"d\" {\n  path = \"x\"\n}\n", "Missing account", 3},
		{"duplicate destination", "data_dir = \"x\"\nsource \"sample\" {}\ndestination \"a\" \"d\" { account = \"x\" }\ndestination \"b\" \"d\" { account = \"x\" }\n", "Duplicate destination", 4},
		{"unset env", "data_dir = env(\"EXPORTD_TEST_SURELY_UNSET\")\nsource \"sample\" {}\n", "EXPORTD_TEST_SURELY_UNSET is not set", 1},
		{"two sources", "data_dir = \"x\"\nsource \"sample\" {}\nsource \"postgres\" {}\n", "Duplicate source block", 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := Parse([]byte(tt.src), "test.hcl", "/tmp")
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			for _, d := range diags {
				text := d.Summary + "; " + d.Detail
				if !strings.Contains(text, tt.want) {
					continue
				}
				if tt.line > 0 && (d.Subject == nil || d.Subject.Start.Line != tt.line || d.Subject.Filename != "test.hcl") {
					t.Fatalf("diagnostic at %v, want test.hcl line %d", d.Subject, tt.line)
				}
				return
			}
			t.Fatalf("no diagnostic mentions %q: %v", tt.want, diags)
		})
	}
}

func TestEnvFunction(t *testing.T) {
	t.Setenv("EXPORTD_TEST_DIR", "/data")
	c := mustParse(t, "data_dir = env(\"EXPORTD_TEST_DIR\")\nplugin_dir = env(\"EXPORTD_TEST_UNSET_X\", \"/p\")\nsource \"sample\" {}\n")
	if c.DataDir != "/data" || c.PluginDir != "/p" {
		t.Fatalf("got %q %q", c.DataDir, c.PluginDir)
	}
}

func TestEventContext(t *testing.T) {
	c := mustParse(t, "data_dir = \"x\"\nsource \"postgres\" {\n  schema = \"acct_${event.account_id}\"\n}\n")
	var s struct {
		Schema string   `hcl:"schema"`
		Rest   hcl.Body `hcl:",remain"`
	}
	ev := event.ModellingCompleted{AccountID: "acme", RunID: "r1", CompletedAt: time.Unix(0, 0)}
	if diags := gohcl.DecodeBody(c.Source.Body, c.EventContext(&ev), &s); diags.HasErrors() {
		t.Fatal(diags)
	}
	if s.Schema != "acct_acme" {
		t.Fatalf("schema = %q", s.Schema)
	}
	// At startup the event is unknown, which still type-checks.
	var v struct {
		Schema hcl.Expression `hcl:"schema"`
		Rest   hcl.Body       `hcl:",remain"`
	}
	if diags := gohcl.DecodeBody(c.Source.Body, c.EventContext(nil), &v); diags.HasErrors() {
		t.Fatal(diags)
	}
	val, diags := v.Schema.Value(c.EventContext(nil))
	if diags.HasErrors() || val.IsKnown() {
		t.Fatalf("startup value %#v %v: want unknown", val, diags)
	}
}

var testSchema = sdk.Schema{Name: "s3legacy", Version: "1", Attributes: []sdk.Attribute{
	{Name: "bucket", Type: sdk.TypeString, Required: true},
	{Name: "folder", Type: sdk.TypeString},
	{Name: "secret", Type: sdk.TypeString, Sensitive: true},
	{Name: "concurrency", Type: sdk.TypeNumber},
	{Name: "path_style", Type: sdk.TypeBool},
}}

func TestDecodeDestination(t *testing.T) {
	c := mustParse(t, "data_dir = \"x\"\nsource \"sample\" {}\ndestination \"s3legacy\" \"d\" {\n  account = \"acme\"\n  bucket = \"b\"\n  concurrency = 8\n  secret = \"hunter2\"\n}\n")
	cfg, diags := c.DecodeDestination(c.Destinations[0], testSchema)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.String("bucket") != "b" || cfg.Int("concurrency", 0) != 8 || cfg.Has("folder") || cfg.Has("account") {
		t.Fatalf("config %s", cfg.JSON())
	}
	if err := testSchema.ValidateConfig(cfg); err != nil {
		t.Fatal(err)
	}
	red := Redact(testSchema, cfg)
	if strings.Contains(red, "hunter2") || !strings.Contains(red, `bucket="b"`) {
		t.Fatalf("redacted: %s", red)
	}
}

var constrainedSchema = sdk.Schema{Name: "s3legacy", Version: "1", Attributes: []sdk.Attribute{
	{Name: "bucket", Type: sdk.TypeString, Required: true},
	{Name: "acl", Type: sdk.TypeString, Default: "private", Enum: []string{"private", "bucket-owner-read"}},
	{Name: "concurrency", Type: sdk.TypeInteger, Default: 4, Min: sdk.Bound(1), Max: sdk.Bound(64)},
	{Name: "scopes", Type: sdk.TypeStringList, Enum: []string{"read", "write"}},
	{Name: "token", Type: sdk.TypeString, Sensitive: true, Enum: []string{"alpha", "beta"}},
}}

// TestDecodeDestinationConstraints: a value outside an attribute's
// declared values or range is a diagnostic on that value, as the plugin's
// SDK would refuse it; a sensitive one is neither quoted nor shown.
func TestDecodeDestinationConstraints(t *testing.T) {
	tests := []struct {
		name, body, summary, detail string
		line, col                   int
	}{
		{"not one of the values", `  acl = "public-read"`, "Invalid value for acl", `"public-read" is not one of "private", "bucket-owner-read"`, 6, 9},
		{"above the range", `  concurrency = 65`, "Invalid value for concurrency", "65 is not a whole number from 1 to 64", 6, 17},
		{"not whole", `  concurrency = 2.5`, "Invalid value for concurrency", "2.5 is not a whole number from 1 to 64", 6, 17},
		{"a list element", `  scopes = ["read", "admin"]`, "Invalid value for scopes", `"admin" is not one of "read", "write"`, 6, 12},
		{"a sensitive value", `  token = "hunter2"`, "Invalid value for token", `the value is not one of "alpha", "beta"`, 6, 11},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "data_dir = \"x\"\nsource \"sample\" {}\ndestination \"s3legacy\" \"d\" {\n  account = \"acme\"\n  bucket = \"b\"\n" + tt.body + "\n}\n"
			c := mustParse(t, src)
			_, diags := c.DecodeDestination(c.Destinations[0], constrainedSchema)
			if len(diags) != 1 || diags[0].Summary != tt.summary || !strings.Contains(diags[0].Detail, tt.detail) {
				t.Fatalf("diagnostics %v, want one %q saying %q", diags, tt.summary, tt.detail)
			}
			if d := diags[0]; d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
				t.Fatalf("at %d:%d, want %d:%d", d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col)
			}
			var out strings.Builder
			WriteDiagnostics(&out, c.Files, diags)
			if strings.Contains(out.String(), "hunter2") {
				t.Fatalf("a sensitive value is shown:\n%s", out.String())
			}
		})
	}
}

func TestRedactShowsDefaults(t *testing.T) {
	c := mustParse(t, "data_dir = \"x\"\nsource \"sample\" {}\ndestination \"s3legacy\" \"d\" {\n  account = \"acme\"\n  bucket = \"b\"\n  concurrency = 8\n}\n")
	cfg, diags := c.DecodeDestination(c.Destinations[0], constrainedSchema)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if cfg.Has("acl") {
		t.Fatal("the decoded configuration holds a default: the plugin's SDK fills them in")
	}
	if got, want := Redact(constrainedSchema, cfg), `acl="private" (default) bucket="b" concurrency=8`; got != want {
		t.Fatalf("Redact: %s, want %s", got, want)
	}
}

func TestDecodeDestinationTypo(t *testing.T) {
	tests := []struct {
		name, body, want string
		line, col        int
	}{
		{"misspelt attribute", "  buket = \"b\"\n", `An argument named "buket" is not expected here. Did you mean "bucket"?`, 5, 3},
		{"wrong type", "  bucket = \"b\"\n  path_style = \"yes please\"\n", "Incorrect attribute value type", 6, 16},
		{"missing required", "  folder = \"f\"\n", `The argument "bucket" is required`, 3, 28},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := "data_dir = \"x\"\nsource \"sample\" {}\ndestination \"s3legacy\" \"d\" {\n  account = \"acme\"\n" + tt.body + "}\n"
			c := mustParse(t, src)
			_, diags := c.DecodeDestination(c.Destinations[0], testSchema)
			if !diags.HasErrors() {
				t.Fatal("no error")
			}
			for _, d := range diags {
				if !strings.Contains(d.Summary+"; "+d.Detail, tt.want) {
					continue
				}
				if d.Subject.Start.Line != tt.line || d.Subject.Start.Column != tt.col {
					t.Fatalf("at %d:%d, want %d:%d", d.Subject.Start.Line, d.Subject.Start.Column, tt.line, tt.col)
				}
				return
			}
			t.Fatalf("no diagnostic says %q: %v", tt.want, diags)
		})
	}
}

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		err  bool
	}{
		{"128MiB", 128 << 20, false},
		{"64 MB", 64_000_000, false},
		{"512k", 512 << 10, false},
		{"1.5GiB", 3 << 29, false},
		{"1000", 1000, false},
		{"10B", 10, false},
		{"lots", 0, true},
		{"-1MiB", 0, true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d, err %v", tt.in, got, err, tt.want, tt.err)
		}
	}
}

// TestNATSAuthentication: the embedded server's listener takes a token or
// an nkey; each applies to an external url too; they exclude each other;
// and no diagnostic ever shows a token.
func TestNATSAuthentication(t *testing.T) {
	const secret = "s3cr3t-t0ken"
	for _, tc := range []struct {
		name, nats string
		want       string // in the diagnostics; "" for none
		token, key string
	}{
		{name: "listen with a token", nats: `listen = "127.0.0.1:4222"` + "\ntoken = \"" + secret + `"`, token: secret},
		{name: "listen with an nkey", nats: `listen = "127.0.0.1:4222"` + "\nnkey_file = \"/etc/exportd/nats.nk\"", key: "/etc/exportd/nats.nk"},
		{name: "external with a token", nats: `url = "nats://127.0.0.1:4222"` + "\ntoken = \"" + secret + `"`, token: secret},
		{name: "empty token", nats: `listen = "127.0.0.1:4222"` + "\ntoken = \"\""},
		{name: "token without a listener", nats: `token = "` + secret + `"`, want: "NATS authentication without a listener"},
		{name: "nkey without a listener", nats: `nkey_file = "x.nk"`, want: "NATS authentication without a listener"},
		{name: "token and nkey", nats: `listen = "127.0.0.1:4222"` + "\ntoken = \"" + secret + "\"\nnkey_file = \"x.nk\"", want: "Both token and nkey_file"},
		{name: "token with a newline", nats: `listen = "127.0.0.1:4222"` + "\ntoken = \"" + secret + `\n"`, want: "token has leading or trailing white space"},
		{name: "token of the wrong type", nats: `listen = "127.0.0.1:4222"` + "\ntoken = [\"" + secret + `"]`, want: "string required"},
		{name: "credentials without a url", nats: `listen = "127.0.0.1:4222"` + "\ncredentials_file = \"x.creds\"", want: "NATS credentials without a URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, diags := Parse([]byte("data_dir = \"/x\"\nsource \"sample\" {}\nnats {\n"+tc.nats+"\n}\n"), "test.hcl", "/tmp")
			if tc.want == "" {
				if diags.HasErrors() {
					t.Fatal(diags)
				}
				if c.NATS.Token != tc.token || c.NATS.NKeyFile != tc.key {
					t.Fatalf("token %q, nkey file %q", c.NATS.Token, c.NATS.NKeyFile)
				}
				return
			}
			if !diags.HasErrors() || !strings.Contains(diags.Error(), tc.want) {
				t.Fatalf("diagnostics %v, want %q", diags, tc.want)
			}
			var out strings.Builder
			WriteDiagnostics(&out, c.Files, diags)
			if strings.Contains(diags.Error(), secret) || strings.Contains(out.String(), secret) {
				t.Fatalf("a diagnostic shows the token:\n%s", out.String())
			}
		})
	}
}

// TestSensitiveDestinationDiagnostics: a diagnostic about a sensitive
// attribute of a destination says where it is without printing its line.
func TestSensitiveDestinationDiagnostics(t *testing.T) {
	c := mustParse(t, "data_dir = \"x\"\nsource \"sample\" {}\ndestination \"s3legacy\" \"d\" {\n  account = \"acme\"\n  bucket = \"b\"\n  secret = [\"hunter2-in-a-list\"]\n}\n")
	_, diags := c.DecodeDestination(c.Destinations[0], testSchema)
	var out strings.Builder
	WriteDiagnostics(&out, c.Files, diags)
	if !diags.HasErrors() || !strings.Contains(out.String(), "test.hcl:6:12: error:") || strings.Contains(out.String(), "hunter2") {
		t.Fatalf("diagnostics:\n%s", out.String())
	}
}
