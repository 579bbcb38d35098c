package s3legacy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/parquet-go/parquet-go"

	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/destinationtest"
	"github.com/exportd/exportd/sdk/host"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// These tests run the real plugin binary, through the real protocol,
// against moto with IAM enforced: the platform identity may only assume
// roles, and each customer's role has exactly the permissions the S3
// Legacy guide asks for.

func pluginBinary(t *testing.T) string {
	return testsupport.Binary(t, "./plugins/s3legacy/cmd/exportd-plugin-s3legacy", "exportd-plugin-s3legacy")
}

func launch(t *testing.T, env []string) *host.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := host.Launch(ctx, host.LaunchConfig{
		Path:   pluginBinary(t),
		Env:    env,
		Logger: slog.New(slog.NewTextHandler(destinationtest.TestLogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	return c
}

// motoConfig is a destination configuration for customer c of moto m.
func motoConfig(m *testsupport.Moto, c testsupport.MotoCustomer, extra map[string]any) map[string]any {
	cfg := map[string]any{
		"bucket":       c.Bucket,
		"role_arn":     c.RoleARN,
		"external_id":  c.ExternalID,
		"region":       m.Region,
		"endpoint":     m.Endpoint,
		"sts_endpoint": m.Endpoint,
		"path_style":   true,
	}
	if c.KMSKeyARN != "" {
		cfg["kms_key_arn"] = c.KMSKeyARN
	}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

// motoInspector reads a customer's bucket back as moto's admin.
type motoInspector struct {
	m      *testsupport.Moto
	bucket string
	layout legacylayout.Layout
}

func (in motoInspector) Receipt(ctx context.Context) ([]byte, error) {
	b, err := in.m.Object(ctx, in.bucket, in.layout.ReceiptKey())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

func (in motoInspector) File(ctx context.Context, info sdk.ExportInfo, table string, index int) ([]byte, error) {
	return in.m.Object(ctx, in.bucket, in.layout.FileKey(info.Time, table, index))
}

// harness is the conformance harness of s3legacy against moto, with the
// plugin's binary or the plugin served in-process.
func harness(t *testing.T, m *testsupport.Moto, inProcess bool) destinationtest.Harness {
	var invalid []destinationtest.InvalidConfig
	for _, c := range invalidConfigs {
		invalid = append(invalid, destinationtest.InvalidConfig{Name: c.name, Config: c.config, Attribute: c.attr})
	}
	h := destinationtest.Harness{
		New: func(t *testing.T) (map[string]any, destinationtest.Inspector) {
			c := m.NewCustomer(t, testsupport.CustomerOptions{})
			return motoConfig(m, c, map[string]any{"folder": "/dumps/acme/"}),
				motoInspector{m: m, bucket: c.Bucket, layout: legacylayout.Layout{Folder: "dumps/acme"}}
		},
		Invalid: invalid,
		Broken: []destinationtest.BrokenSetup{
			{Name: "trust policy wants another external ID", Attribute: "role_arn", New: func(t *testing.T) map[string]any {
				c := m.NewCustomer(t, testsupport.CustomerOptions{ExternalID: "acme"})
				return motoConfig(m, c, map[string]any{"external_id": "not-acme"})
			}},
		},
		Faulty: func(t *testing.T) (map[string]any, destinationtest.Inspector, destinationtest.Faults) {
			c := m.NewCustomer(t, testsupport.CustomerOptions{})
			proxy := testsupport.StartFaultProxy(t, m.Endpoint, testsupport.Faults{Dialect: testsupport.DialectS3})
			return motoConfig(m, c, map[string]any{"endpoint": proxy.URL, "max_attempts": 2}),
				motoInspector{m: m, bucket: c.Bucket, layout: legacylayout.Layout{}}, proxy
		},
	}
	if inProcess {
		for _, kv := range m.PlatformEnv() {
			k, v, _ := strings.Cut(kv, "=")
			t.Setenv(k, v)
		}
		h.Plugin = testPlugin(t, nil)
	} else {
		h.Binary, h.Env = pluginBinary(t), m.PlatformEnv()
	}
	return h
}

func TestConformance(t *testing.T) {
	destinationtest.Run(t, harness(t, testsupport.SharedMoto(t), false))
}

// TestConformanceInProcess runs the suite against the plugin served from
// the test's process, where coverage counts it.
func TestConformanceInProcess(t *testing.T) {
	destinationtest.Run(t, harness(t, testsupport.SharedMoto(t), true))
}

// TestFullExportWithLeastPrivilege exports a real dump of the six tables
// through the binary into a customer set up exactly as the guide says,
// with SSE-KMS, and reads the bucket back as an admin: the exact keys, the
// receipt, the bytes, the ACL grant and the encryption headers.
func TestFullExportWithLeastPrivilege(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{ExternalID: "acme", KMS: true})
	client := launch(t, m.PlatformEnv())
	ctx := testContext(t)
	d, err := client.Configure(ctx, sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(motoConfig(m, c, map[string]any{"folder": "exports/acme"})))
	if err != nil {
		t.Fatal(err)
	}
	verdict, err := d.Check(ctx)
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	t.Logf("Check: %s", verdict)

	at := time.Date(2023, 3, 14, 4, 3, 7, 963883000, time.UTC)
	dm := encodeDump(t, at, 0.5, 64<<10)
	start := time.Now()
	rc := exportDump(ctx, t, d, dm)
	elapsed := time.Since(start)
	t.Logf("%d files, %d bytes delivered in %v (%.1f MB/s)", len(dm.files()), dm.bytes(), elapsed, float64(dm.bytes())/elapsed.Seconds()/1e6)
	if rc.Location != "s3://"+c.Bucket+"/exports/acme/receipt.json" {
		t.Errorf("receipt location %s", rc.Location)
	}

	// Exactly the layout of DESIGN §2, nothing else.
	keys, err := m.Keys(ctx, c.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"exports/acme/receipt.json"}
	for _, f := range dm.files() {
		want = append(want, fmt.Sprintf("exports/acme/2023-03-14T04:03/%s/%s_%012d.parquet.gz", f.Table, f.Table, f.Index))
	}
	slices.Sort(want)
	if strings.Join(keys, "\n") != strings.Join(want, "\n") {
		t.Fatalf("keys:\n%s\nwant:\n%s", strings.Join(keys, "\n"), strings.Join(want, "\n"))
	}

	// The receipt: what Commit returned, timestamp in microseconds, full
	// folders, every table with its file count.
	receipt, err := m.Object(ctx, c.Bucket, "exports/acme/receipt.json")
	if err != nil || !bytes.Equal(receipt, rc.Body) {
		t.Fatalf("stored receipt differs from the one returned (%v):\n%s", err, receipt)
	}
	var parsed struct {
		Timestamp string `json:"timestamp"`
		Tables    map[string]struct {
			Folder         string `json:"folder"`
			TotalFileCount int    `json:"total_file_count"`
		} `json:"tables"`
	}
	if err := json.Unmarshal(receipt, &parsed); err != nil {
		t.Fatal(err)
	}
	if parsed.Timestamp != "2023-03-14T04:03:07.963883Z" || len(parsed.Tables) != 6 {
		t.Fatalf("receipt:\n%s", receipt)
	}
	for _, name := range dm.info.Tables {
		got := parsed.Tables[name]
		if got.Folder != "exports/acme/2023-03-14T04:03/"+name || got.TotalFileCount != len(dm.tables[name]) {
			t.Errorf("receipt entry of %s: %+v, want %d files", name, got, len(dm.tables[name]))
		}
	}

	admin := m.AdminS3()
	for i, f := range dm.files() {
		key := "exports/acme/" + legacylayout.Layout{}.FileKey(at, f.Table, f.Index)
		got, err := m.Object(ctx, c.Bucket, key)
		if err != nil || !bytes.Equal(got, f.data) {
			t.Fatalf("%s: %d bytes differ from the %d encoded (%v)", key, len(got), len(f.data), err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(got), int64(len(got)))
		if err != nil || pf.NumRows() != f.Rows {
			t.Fatalf("%s is not the parquet file encoded: %v", key, err)
		}
		if i%7 != 0 && i != len(dm.files())-1 {
			continue // headers of a sample of files
		}
		head, err := admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if head.ServerSideEncryption != s3types.ServerSideEncryptionAwsKms || aws.ToString(head.SSEKMSKeyId) != c.KMSKeyARN {
			t.Errorf("%s: encryption %q key %q, want aws:kms with %s", key, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId), c.KMSKeyARN)
		}
		if aws.ToString(head.ContentType) != "application/vnd.apache.parquet" || head.ContentEncoding != nil {
			t.Errorf("%s: content type %q, encoding %q", key, aws.ToString(head.ContentType), aws.ToString(head.ContentEncoding))
		}
		acl, err := admin.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String(c.Bucket), Key: aws.String(key)})
		if err != nil {
			t.Fatal(err)
		}
		if !hasFullControl(acl.Grants) {
			t.Errorf("%s: no FULL_CONTROL grant from bucket-owner-full-control: %+v", key, acl.Grants)
		}
	}

	// A later dump replaces the receipt and leaves the earlier files.
	later := encodeDump(t, at.Add(90*time.Second), 0.05, 1<<20)
	later.info.PreviousTime = at
	exp2, err := d.Begin(ctx, later.info)
	if err != nil {
		t.Fatal(err)
	}
	if err := putAll(ctx, exp2, later); err != nil {
		t.Fatal(err)
	}
	rc2, err := exp2.Commit(ctx, later.manifest())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Object(ctx, c.Bucket, "exports/acme/receipt.json"); !bytes.Equal(got, rc2.Body) || !strings.Contains(string(got), "2023-03-14T04:04/companies") {
		t.Fatalf("receipt after the later dump:\n%s", got)
	}
	if keys2, _ := m.Keys(ctx, c.Bucket); len(keys2) != len(keys)+len(later.files()) {
		t.Fatalf("%d keys after the later dump, want %d", len(keys2), len(keys)+len(later.files()))
	}

	// A dump in the same minute as the previous one is refused.
	same := later.info
	same.Time, same.PreviousTime = later.info.Time.Add(5*time.Second), later.info.Time
	if _, err := d.Begin(ctx, same); sdk.KindOf(err) != sdk.KindPermanent {
		t.Fatalf("Begin in the previous dump's minute: %v", err)
	}
}

func hasFullControl(grants []s3types.Grant) bool {
	for _, g := range grants {
		if g.Permission == s3types.PermissionFullControl {
			return true
		}
	}
	return false
}

// TestWrongExternalID checks that a trust policy the platform does not
// satisfy fails Check and Begin with one configuration error that says
// what the customer must fix, after one AssumeRole each and no upload.
func TestWrongExternalID(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{ExternalID: "acme"})
	sts := testsupport.StartFaultProxy(t, m.Endpoint, testsupport.Faults{})
	s3 := testsupport.StartFaultProxy(t, m.Endpoint, testsupport.Faults{})
	client := launch(t, m.PlatformEnv())
	ctx := testContext(t)
	d, err := client.Configure(ctx, sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(motoConfig(m, c, map[string]any{
		"external_id": "not-acme", "endpoint": s3.URL, "sts_endpoint": sts.URL,
	})))
	if err != nil {
		t.Fatal(err)
	}
	_, checkErr := d.Check(ctx)
	dm := encodeDump(t, exportTime(), 0.01, 1<<20)
	_, beginErr := d.Begin(ctx, dm.info)
	for what, err := range map[string]error{"Check": checkErr, "Begin": beginErr} {
		if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != "role_arn" {
			t.Fatalf("%s: %v, want a configuration error of role_arn", what, err)
		}
		for _, s := range []string{c.RoleARN, `sts:ExternalId = "not-acme"`, "trust policy", "AccessDenied"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s error does not say %q:\n%v", what, s, err)
			}
		}
	}
	t.Logf("Begin: %v", beginErr)
	assumes := 0
	for _, r := range sts.Records() {
		if r.Method == http.MethodPost && r.Status == http.StatusForbidden {
			assumes++
		}
	}
	if assumes != 2 {
		t.Errorf("%d refused STS requests, want one AssumeRole for Check and one for Begin: %+v", assumes, sts.Records())
	}
	if n := len(s3.Records()); n != 0 {
		t.Errorf("%d S3 requests after a refused AssumeRole", n)
	}
}

// TestRoleWithoutPutObject checks that a role the bucket refuses fails the
// first Put with a configuration error naming the missing permission, and
// every later Put at once.
func TestRoleWithoutPutObject(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{PermissionPolicy: `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::%s/*"]}]
}`})
	client := launch(t, m.PlatformEnv())
	ctx := testContext(t)
	d, err := client.Configure(ctx, sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(motoConfig(m, c, nil)))
	if err != nil {
		t.Fatal(err)
	}
	dm := encodeDump(t, exportTime(), 0.01, 1<<20)
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctx)
	first := exp.Put(ctx, dm.files()[0].File)
	if sdk.KindOf(first) != sdk.KindConfiguration || sdk.AttributeOf(first) != "role_arn" ||
		!strings.Contains(first.Error(), "s3:PutObject and s3:PutObjectAcl on arn:aws:s3:::"+c.Bucket+"/*") {
		t.Fatalf("Put: %v", first)
	}
	t.Logf("Put: %v", first)
	start := time.Now()
	if err := exp.Put(ctx, dm.files()[1].File); sdk.KindOf(err) != sdk.KindConfiguration || time.Since(start) > time.Second {
		t.Fatalf("second Put: %v after %v", err, time.Since(start))
	}
	if keys, _ := m.Keys(ctx, c.Bucket); len(keys) != 0 {
		t.Fatalf("keys in the bucket: %v", keys)
	}
}

// TestMissingBucket checks that a bucket that does not exist is a
// configuration error of the bucket attribute.
func TestMissingBucket(t *testing.T) {
	m := testsupport.SharedMoto(t)
	c := m.NewCustomer(t, testsupport.CustomerOptions{PermissionPolicy: `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": ["s3:PutObject", "s3:PutObjectAcl"], "Resource": ["arn:aws:s3:::*"]}]
}`})
	client := launch(t, m.PlatformEnv())
	ctx := testContext(t)
	d, err := client.Configure(ctx, sdk.DestinationInfo{Name: "acme", Account: "acme"}, sdk.NewConfig(motoConfig(m, c, map[string]any{"bucket": c.Bucket + "-missing"})))
	if err != nil {
		t.Fatal(err)
	}
	dm := encodeDump(t, exportTime(), 0.01, 1<<20)
	exp, err := d.Begin(ctx, dm.info)
	if err != nil {
		t.Fatal(err)
	}
	defer exp.Abort(ctx)
	err = exp.Put(ctx, dm.files()[0].File)
	if sdk.KindOf(err) != sdk.KindConfiguration || sdk.AttributeOf(err) != "bucket" || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("Put: %v", err)
	}
}
