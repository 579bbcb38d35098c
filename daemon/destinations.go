package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/registry"
)

// destinationsUsage lists the destinations command's subcommands.
const destinationsUsage = `usage: exportd destinations <subcommand> [flags]

subcommands (each asks the running daemons over NATS, exportd.api.destinations.*):
  put     register a destination, or replace its registration
  get     show a registered destination (sensitive values are never shown)
  list    list registered destinations
  delete  remove a registered destination
  check   run a destination's check (s3legacy: assume the role)
  keygen  print a new line for the registry key file

Run 'exportd destinations <subcommand> -h' for its flags.`

func cmdDestinations(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, destinationsUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case registry.OpPut:
		return destinationsPut(rest)
	case registry.OpGet, registry.OpDelete, registry.OpCheck:
		return destinationsByName(sub, rest)
	case registry.OpList:
		return destinationsList(rest)
	case "keygen":
		return destinationsKeygen(rest)
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(os.Stderr, destinationsUsage)
		return 0
	}
	fmt.Fprintf(os.Stderr, "exportd destinations: unknown subcommand %q\n\n%s\n", sub, destinationsUsage)
	return 2
}

// apiFlags are the flags every API subcommand takes.
type apiFlags struct {
	config  *string
	url     *string
	creds   *string
	nkey    *string
	timeout *time.Duration
	json    *bool
}

func newAPIFlags(fs *flag.FlagSet) apiFlags {
	return apiFlags{
		config:  fs.String("config", "", "configuration `file` whose NATS to use"),
		url:     fs.String("nats", "", "NATS `url` (overrides the configuration)"),
		creds:   fs.String("creds", "", "NATS credentials `file` to sign in with (overrides the configuration's): the user allowed to use the API"),
		nkey:    fs.String("nkey", "", "NATS nkey seed `file` to sign in with (overrides the configuration's): the user allowed to use the API"),
		timeout: fs.Duration("timeout", 90*time.Second, "how long to wait for the answer"),
		json:    fs.Bool("json", false, "print the daemon's answer as JSON"),
	}
}

// call sends one API request and prints a refusal; it reports the reply
// and whether the request succeeded.
func (f apiFlags) call(op string, req any) (registry.Reply, bool) {
	u, cfg, err := natsURL(*f.url, *f.config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd destinations %s: %v\n", op, err)
		return registry.Reply{}, false
	}
	if *f.creds != "" && *f.nkey != "" {
		fmt.Fprintf(os.Stderr, "exportd destinations %s: give -creds or -nkey, not both\n", op)
		return registry.Reply{}, false
	}
	if *f.creds != "" || *f.nkey != "" {
		c := config.Config{}
		if cfg != nil {
			c = *cfg
		}
		c.NATS.CredentialsFile, c.NATS.Token, c.NATS.NKeyFile = *f.creds, "", *f.nkey
		cfg = &c
	}
	ctx, cancel := context.WithTimeout(context.Background(), *f.timeout)
	defer cancel()
	nc, err := dial(ctx, u, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd destinations %s: %v\n", op, err)
		return registry.Reply{}, false
	}
	defer nc.Close()
	body, err := json.Marshal(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd destinations %s: %v\n", op, err)
		return registry.Reply{}, false
	}
	msg, err := nc.RequestWithContext(ctx, registry.SubjectPrefix+op, body)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd destinations %s: no answer from a daemon: %v\n", op, err)
		return registry.Reply{}, false
	}
	var reply registry.Reply
	if err := json.Unmarshal(msg.Data, &reply); err != nil {
		fmt.Fprintf(os.Stderr, "exportd destinations %s: unreadable answer: %v\n", op, err)
		return registry.Reply{}, false
	}
	if *f.json {
		out, _ := json.MarshalIndent(reply, "", "  ")
		fmt.Println(string(out))
	}
	if reply.Error != "" {
		printRefusal(op, reply)
		return reply, false
	}
	return reply, true
}

// printRefusal prints a refused request: the error, the attribute at
// fault and each diagnostic.
func printRefusal(op string, r registry.Reply) {
	fmt.Fprintf(os.Stderr, "exportd destinations %s: refused (%s): %s\n", op, r.Code, r.Error)
	if r.Attribute != "" {
		fmt.Fprintf(os.Stderr, "  attribute: %s\n", r.Attribute)
	}
	for _, d := range r.Diagnostics {
		where := "request"
		if d.Line > 0 {
			where = fmt.Sprintf("request:%d:%d", d.Line, d.Column)
		}
		if d.Attribute != "" {
			where += " (" + d.Attribute + ")"
		}
		fmt.Fprintf(os.Stderr, "  %s: %s", where, d.Summary)
		if d.Detail != "" {
			fmt.Fprintf(os.Stderr, ": %s", d.Detail)
		}
		fmt.Fprintln(os.Stderr)
	}
}

func destinationsPut(args []string) int {
	fs := newFlags("destinations put", "(-nats URL | -config FILE) -plugin PLUGIN -name NAME -account ID [-set key=value]... [-file FILE] [-check]")
	api := newAPIFlags(fs)
	plugin := fs.String("plugin", "", "the destination's `plugin` (s3legacy, gcs, azblob, …)")
	name := fs.String("name", "", "the destination's `name`, unique across the daemons' configuration and the registry")
	account := fs.String("account", "", "the `account` whose dumps it receives")
	var tables listFlag
	fs.Var(&tables, "table", "a `table` of the destination's subset (repeatable; default: all)")
	disabled := fs.Bool("disabled", false, "register it disabled: no export goes to it")
	var sets, setFiles assignments
	fs.Var(&sets, "set", "a plugin attribute, `key=value` (repeatable); booleans and numbers are converted as HCL does")
	fs.Var(&setFiles, "set-file", "a plugin attribute read from a file, `key=path` (repeatable): for secrets, which then appear in no command line")
	file := fs.String("file", "", "the destination's attributes from a `file`: a JSON object (.json) or HCL attributes (.hcl); flags override it")
	check := fs.Bool("check", false, "run the plugin's check (s3legacy: assume the role) before storing it")
	revision := fs.Int64("revision", -1, "store only if the registration is at this `revision` (0: only if it is new)")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *plugin == "" || *name == "" {
		fmt.Fprintln(os.Stderr, "exportd destinations put: -plugin and -name are required")
		return 2
	}
	body, err := putBody(*file, sets, setFiles)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd destinations put: %v\n", err)
		return 1
	}
	if *account != "" {
		body["account"] = *account
	}
	if len(tables) > 0 {
		body["tables"] = []string(tables)
	}
	if *disabled {
		body["enabled"] = false
	}
	raw, _ := json.Marshal(body)
	req := registry.PutRequest{Plugin: *plugin, Name: *name, Destination: raw, Check: *check}
	if *revision >= 0 {
		r := uint64(*revision)
		req.Revision = &r
	}
	reply, ok := api.call(registry.OpPut, req)
	if !ok {
		return 1
	}
	if !*api.json {
		v := reply.Destination
		fmt.Printf("%s: registered, revision %d (plugin %s, account %s)\n", v.Name, v.Revision, v.Plugin, v.Account)
		if reply.Check != "" {
			fmt.Printf("  check: %s\n", reply.Check)
		}
	}
	return 0
}

// putBody builds a put's destination body from a file and -set flags.
func putBody(file string, sets, setFiles assignments) (map[string]any, error) {
	body := map[string]any{}
	if file != "" {
		var err error
		if body, err = readAttributes(file); err != nil {
			return nil, err
		}
	}
	for _, a := range sets {
		body[a.key] = a.value
	}
	for _, a := range setFiles {
		b, err := os.ReadFile(a.value)
		if err != nil {
			return nil, fmt.Errorf("-set-file %s: %w", a.key, err)
		}
		body[a.key] = strings.TrimSpace(string(b))
	}
	return body, nil
}

func destinationsByName(op string, args []string) int {
	synopsis := "(-nats URL | -config FILE) -name NAME"
	if op == registry.OpDelete {
		synopsis += " [-revision N]"
	}
	fs := newFlags("destinations "+op, synopsis)
	api := newAPIFlags(fs)
	name := fs.String("name", "", "the destination's `name`")
	revision := int64(-1)
	if op == registry.OpDelete {
		fs.Int64Var(&revision, "revision", -1, "delete only if the registration is at this `revision`")
	}
	if code, ok := parse(fs, args); !ok {
		return code
	}
	if *name == "" {
		fmt.Fprintf(os.Stderr, "exportd destinations %s: -name is required\n", op)
		return 2
	}
	req := registry.NameRequest{Name: *name}
	if revision >= 0 {
		r := uint64(revision)
		req.Revision = &r
	}
	reply, ok := api.call(op, req)
	if !ok {
		return 1
	}
	if *api.json {
		return 0
	}
	switch op {
	case registry.OpGet:
		printView(*reply.Destination)
	case registry.OpDelete:
		fmt.Printf("%s: deleted\n", *name)
	case registry.OpCheck:
		fmt.Printf("%s: ok   %s\n", *name, reply.Check)
	}
	return 0
}

func destinationsList(args []string) int {
	fs := newFlags("destinations list", "(-nats URL | -config FILE) [-account ID] [-plugin PLUGIN]")
	api := newAPIFlags(fs)
	account := fs.String("account", "", "only this `account`'s")
	plugin := fs.String("plugin", "", "only this `plugin`'s")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	req := registry.ListRequest{Account: *account, Plugin: *plugin}
	for {
		reply, ok := api.call(registry.OpList, req)
		if !ok {
			return 1
		}
		if !*api.json {
			for _, v := range reply.Destinations {
				state := ""
				if !v.Enabled {
					state = " (disabled)"
				}
				fmt.Printf("%-32s %-10s %-24s revision %d%s\n", v.Name, v.Plugin, v.Account, v.Revision, state)
			}
		}
		if reply.Next == "" {
			return 0
		}
		req.After = reply.Next
	}
}

// printView prints a registered destination.
func printView(v registry.View) {
	fmt.Printf("name:     %s\nplugin:   %s\naccount:  %s\nenabled:  %t\nrevision: %d\nupdated:  %s\n",
		v.Name, v.Plugin, v.Account, v.Enabled, v.Revision, v.UpdatedAt.Format(time.RFC3339))
	if len(v.Tables) > 0 {
		fmt.Printf("tables:   %s\n", strings.Join(v.Tables, ", "))
	}
	names := make([]string, 0, len(v.Attributes))
	for n := range v.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Printf("  %-20s %s\n", n, v.Attributes[n])
	}
	for _, n := range v.Sensitive {
		fmt.Printf("  %-20s (sensitive, not shown)\n", n)
	}
	if len(v.SealedWith) > 0 {
		fmt.Printf("sealed with key(s): %s\n", strings.Join(v.SealedWith, ", "))
	}
}

func destinationsKeygen(args []string) int {
	fs := newFlags("destinations keygen", "[-id ID]")
	id := fs.String("id", time.Now().UTC().Format("k20060102"), "the key's `id`, unique in the key file")
	if code, ok := parse(fs, args); !ok {
		return code
	}
	line, err := registry.NewKeyLine(*id)
	if err != nil {
		fmt.Fprintf(os.Stderr, "exportd destinations keygen: %v\n", err)
		return 1
	}
	fmt.Println(line)
	return 0
}

// assignment is one key=value flag.
type assignment struct{ key, value string }

// assignments collects a repeatable key=value flag.
type assignments []assignment

func (a *assignments) String() string { return "" }

func (a *assignments) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	*a = append(*a, assignment{key: k, value: val})
	return nil
}
