package registry_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/exportd/exportd/internal/catalog"
	"github.com/exportd/exportd/internal/config"
	"github.com/exportd/exportd/internal/pluginhost"
	"github.com/exportd/exportd/internal/registry"
	"github.com/exportd/exportd/internal/testsupport"
)

// TestNoConfusedDeputy: through the API, a destination of account A can
// only assume a role with external ID A. Against moto with IAM enforced,
// a role whose trust policy expects account B's external ID is refused by
// put -check, and naming B's external ID is refused outright; the role set
// up for A is accepted.
func TestNoConfusedDeputy(t *testing.T) {
	m := testsupport.StartMoto(t)
	for _, kv := range append(m.PlatformEnv(), "AWS_REGION=us-east-1", "AWS_ENDPOINT_URL_STS="+m.Endpoint) {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	roleA := m.NewCustomer(t, testsupport.CustomerOptions{ExternalID: "acct-a"})
	roleB := m.NewCustomer(t, testsupport.CustomerOptions{ExternalID: "acct-b"})

	ctx := context.Background()
	conf, diags := config.Parse([]byte("data_dir = \"x\"\nsource \"sample\" {}\n"), "test.hcl", t.TempDir())
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	_, js := testsupport.StartNATS(t).Connect(t)
	store, err := registry.Open(ctx, js, "test", 1)
	if err != nil {
		t.Fatal(err)
	}
	host := pluginhost.New([]pluginhost.Spec{{Name: "s3legacy", Env: []string{"AWS_*"}}},
		pluginhost.Options{Dir: testsupport.PluginDir(t, "s3legacy")})
	t.Cleanup(host.Close)
	cat := catalog.New(ctx, host, slog.New(slog.DiscardHandler))
	staged, diags := cat.Stage(ctx, conf, nil)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	staged.Commit()
	f := &fixture{t: t, js: js, store: store, cat: cat, srv: &registry.Server{Store: store, Plugins: cat, Settings: cat.Settings}}

	body := func(role string, extra string) string {
		return fmt.Sprintf(`{"account": "acct-a", "bucket": %q, "role_arn": %q%s}`, roleA.Bucket, role, extra)
	}
	tests := []struct {
		name      string
		body      string
		code      string
		attribute string
		message   string
	}{
		{name: "account B's role for account A", body: body(roleB.RoleARN, ""),
			code: registry.CodeCheckFailed, attribute: "role_arn", message: `sts:ExternalId = "acct-a"`},
		{name: "account B's external ID named", body: body(roleB.RoleARN, `, "external_id": "acct-b"`),
			code: registry.CodeInvalid, attribute: "external_id", message: "only in the daemon's HCL configuration"},
		{name: "account A's external ID named", body: body(roleA.RoleARN, `, "external_id": "acct-a"`),
			code: registry.CodeInvalid, attribute: "external_id"},
		{name: "account A's role", body: body(roleA.RoleARN, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.put("s3legacy", "dest-a", tt.body, `"check": true`)
			if r.Code != tt.code || r.Attribute != tt.attribute || !strings.Contains(r.Error, tt.message) {
				t.Fatalf("reply %+v, want code %q naming %q and saying %q", r, tt.code, tt.attribute, tt.message)
			}
			_, err := store.Get(ctx, "dest-a")
			if stored := err == nil; stored != (tt.code == "") {
				t.Fatalf("stored: %t", stored)
			}
			if tt.code == "" && !strings.Contains(r.Check, `external ID "acct-a"`) {
				t.Fatalf("check: %q", r.Check)
			}
		})
	}
}
