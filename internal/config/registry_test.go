package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	hcljson "github.com/hashicorp/hcl/v2/json"
)

func TestRegistryBlock(t *testing.T) {
	c := mustParse(t, `
data_dir = "x"
source "sample" {}
registry {
  key_file = "keys/registry.key"
  plugins  = ["s3legacy", "gcs"]
}`)
	if c.Registry.KeyFile != "/etc/exportd/keys/registry.key" || c.Registry.KeyFileRange.Start.Line != 5 {
		t.Fatalf("registry %+v", c.Registry)
	}
	if !c.Registry.AllowsPlugin("gcs") || c.Registry.AllowsPlugin("localfs") {
		t.Fatal("plugins do not restrict")
	}
	if !(Registry{}).AllowsPlugin("localfs") {
		t.Fatal("no plugins attribute must allow every plugin")
	}
	_, diags := Parse([]byte("data_dir = \"x\"\nsource \"sample\" {}\nregistry { plugins = [\"a/b\"] }\n"), "t.hcl", "/")
	if !diags.HasErrors() {
		t.Fatal("an invalid plugin name was accepted")
	}
}

// TestRegisteredDestinationIsLiteral: a registered destination's values
// are taken as they are: a template or a function call in them is text.
func TestRegisteredDestinationIsLiteral(t *testing.T) {
	t.Setenv("EXPORTD_TEST_SECRET", "s3cr3t")
	body := `{"account": "acme", "tables": ["events"], "bucket": "${env(\"EXPORTD_TEST_SECRET\")}"}`
	f, diags := hcljson.Parse([]byte(body), "request")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	d, diags := RegisteredDestination("localfs", "d1", f.Body, hcl.Range{})
	if diags.HasErrors() || d.Account != "acme" || !slices.Equal(d.Tables, []string{"events"}) || !d.Enabled || !d.Registered {
		t.Fatalf("destination %+v, %v", d, diags)
	}
	cfg, diags := mustParse(t, "data_dir = \"x\"\nsource \"sample\" {}\n").DecodeDestination(d, testSchema)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if got := cfg.String("bucket"); got != `${env("EXPORTD_TEST_SECRET")}` {
		t.Fatalf("bucket evaluated to %q", got)
	}
}

func TestRestartNeeded(t *testing.T) {
	base := `
data_dir = "x"
nats { stream = "S" }
jobs { workers = 2 }
source "sample" { scale = 1 }
plugin "localfs" { path = "/opt/p" }
registry { key_file = "k" }
destination "localfs" "a" {
  account = "acme"
  path    = "/tmp/a"
}
`
	tests := []struct {
		name string
		from string
		to   string
		want []string
	}{
		{name: "destinations, registry and new plugins apply live",
			from: `registry { key_file = "k" }`, to: "plugin \"gcs\" {}\nregistry {\n key_file = \"k2\"\n plugins = [\"gcs\"]\n}\ndestination \"localfs\" \"b\" {\n account = \"x\"\n path = \"/b\"\n}\n"},
		{name: "data_dir", from: `data_dir = "x"`, to: `data_dir = "y"`, want: []string{"data_dir"}},
		{name: "nats", from: `stream = "S"`, to: `stream = "T"`, want: []string{"nats"}},
		{name: "jobs", from: "workers = 2", to: "workers = 3", want: []string{"jobs"}},
		{name: "source", from: "scale = 1", to: "scale = 2", want: []string{"source"}},
		{name: "a running plugin's block", from: `path = "/opt/p"`, to: `path = "/opt/q"`, want: []string{`plugin "localfs"`}},
		{name: "http", from: "", to: "http { listen = \"\" }", want: []string{"http"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := mustParse(t, base)
			src := base + tt.to
			if tt.from != "" {
				src = strings.Replace(base, tt.from, tt.to, 1)
			}
			next := mustParse(t, src)
			if got := old.RestartNeeded(next); !slices.Equal(got, tt.want) {
				t.Fatalf("restart needed for %v, want %v", got, tt.want)
			}
		})
	}
}
