package config

import (
	"bytes"
	"reflect"
	"slices"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// RestartNeeded compares next, a configuration loaded to replace c in a
// running daemon, with c and names the settings that differ and that only
// a restart applies: the data directory, the plugin directory, log, nats,
// jobs, http, source, parquet and notify blocks, and the plugin blocks of
// plugins c already declared. Everything else applies live on reload:
// destinations, plugin blocks of new plugins and the registry block.
//
// The source block is compared as text: a file or variable it reads
// (dsn_file, env()) that changed is not seen, and takes effect at the
// next restart too.
func (c *Config) RestartNeeded(next *Config) []string {
	var out []string
	differ := func(name string, a, b any) {
		if !reflect.DeepEqual(a, b) {
			out = append(out, name)
		}
	}
	differ("data_dir", c.DataDir, next.DataDir)
	differ("plugin_dir", c.PluginDir, next.PluginDir)
	differ("log", c.Log, next.Log)
	differ("nats", c.NATS, next.NATS)
	differ("jobs", c.Jobs, next.Jobs)
	differ("http", c.HTTP, next.HTTP)
	if c.Source.Kind != next.Source.Kind || !bytes.Equal(c.sourceText(), next.sourceText()) {
		out = append(out, "source")
	}
	differ("parquet", c.Parquet, next.Parquet)
	differ("notify", withoutRanges(c.Notify), withoutRanges(next.Notify))
	for _, p := range c.Plugins {
		i := slices.IndexFunc(next.Plugins, func(q Plugin) bool { return q.Name == p.Name })
		if i < 0 {
			out = append(out, `plugin "`+p.Name+`" (removed)`)
			continue
		}
		q := next.Plugins[i]
		p.DeclRange, q.DeclRange = hcl.Range{}, hcl.Range{}
		differ(`plugin "`+p.Name+`"`, p, q)
	}
	return out
}

// sourceText is the source block's body as written.
func (c *Config) sourceText() []byte {
	b, ok := c.Source.Body.(*hclsyntax.Body)
	if !ok {
		return nil
	}
	f := c.Files[b.SrcRange.Filename]
	if f == nil || b.SrcRange.End.Byte > len(f.Bytes) {
		return nil
	}
	return f.Bytes[b.SrcRange.Start.Byte:b.SrcRange.End.Byte]
}

func withoutRanges(ns []Notify) []Notify {
	out := slices.Clone(ns)
	for i := range out {
		out[i].DeclRange = hcl.Range{}
	}
	return out
}
