package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/exportd/exportd/internal/event"
	"github.com/exportd/exportd/internal/testsupport"
	"github.com/exportd/exportd/sdk/legacylayout"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metric reads one sample from the daemon's /metrics.
func metric(t *testing.T, addr, name string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatalf("metric %s not found", name)
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// TestS3LegacyAndLocalfsFromOneEncode: the daemon, a modelling-complete
// event, one account with four destinations fed by one encode: s3legacy
// into moto (IAM enforced, exactly the customer guide's permissions,
// SSE-KMS), gcs into fake-gcs-server (behind the IAM front, through an
// impersonated service account with the guide's grants and a KMS key),
// azblob into Azurite (a create-and-write SAS) and localfs. The same
// bytes and the same receipt land everywhere.
func TestS3LegacyAndLocalfsFromOneEncode(t *testing.T) {
	moto := testsupport.StartMoto(t)
	customer := moto.NewCustomer(t, testsupport.CustomerOptions{ExternalID: "acme", KMS: true})
	gcs := startGCSCustomer(t)
	az := startAzureCustomer(t)
	ns := testsupport.StartNATS(t)
	_, js := ns.Connect(t)
	out := t.TempDir()
	ops := freePort(t)
	cfg := writeConfig(t, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
nats { url = %q }
http { listen = %q }
source "sample" {
  seed = 7
  rows = %s
}
parquet { target_file_size = "64KiB" }
plugin "s3legacy" {
  env = ["AWS_*"] # the platform's identity comes from the environment
}
destination "localfs" "acme-local" {
  account = "acme"
  path    = %q
  folder  = "dumps"
}
destination "s3legacy" "acme-s3" {
  account      = "acme"
  bucket       = %q
  role_arn     = %q
  external_id  = %q
  kms_key_arn  = %q
  folder       = "dumps"
  region       = %q
  endpoint     = %q
  sts_endpoint = %q
  path_style   = true
}
%s
%s
`, t.TempDir(), testsupport.PluginDir(t, "localfs", "s3legacy", "gcs", "azblob"), ns.URL, ops, hclRows(sampleRows), out,
		customer.Bucket, customer.RoleARN, customer.ExternalID, customer.KMSKeyARN, testsupport.MotoRegion, moto.Endpoint, moto.Endpoint,
		gcs.hcl, az.hcl))

	// The platform identity is the daemon's default credential chain.
	d := startDaemon(t, cfg, moto.PlatformEnv()...)
	d.waitLog(t, "exportd running", 60*time.Second)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	waitFile(t, filepath.Join(out, "dumps", "receipt.json"), 2*time.Minute)
	d.waitLog(t, `destination=acme-s3 receipt=s3://`, 2*time.Minute)
	d.waitLog(t, `destination=acme-gcs receipt=gs://`, 2*time.Minute)
	d.waitLog(t, `destination=acme-azure receipt=http://`, 2*time.Minute)

	local, err := os.ReadFile(filepath.Join(out, "dumps", "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	checkDump(t, out, "dumps", "acme", sampleRows, local, true)

	ctx := context.Background()
	remote, err := moto.Object(ctx, customer.Bucket, "dumps/receipt.json")
	if err != nil {
		t.Fatal(err)
	}
	// One job, one instant: both destinations got the same dump and receipt.
	if !bytes.Equal(local, remote) {
		t.Fatalf("receipts differ:\nlocalfs %s\ns3 %s", local, remote)
	}
	keys, err := moto.Keys(ctx, customer.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	var localKeys []string
	filepath.WalkDir(out, func(p string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			rel, _ := filepath.Rel(out, p)
			localKeys = append(localKeys, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(keys)
	sort.Strings(localKeys)
	if strings.Join(keys, "\n") != strings.Join(localKeys, "\n") {
		t.Fatalf("bucket keys:\n%s\nlocal files:\n%s", strings.Join(keys, "\n"), strings.Join(localKeys, "\n"))
	}
	admin := moto.AdminS3()
	for _, k := range keys {
		body, err := moto.Object(ctx, customer.Bucket, k)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(out, filepath.FromSlash(k)))
		if !bytes.Equal(body, want) {
			t.Fatalf("%s differs between the bucket and the folder", k)
		}
		head, err := admin.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(customer.Bucket), Key: aws.String(k)})
		if err != nil {
			t.Fatal(err)
		}
		if string(head.ServerSideEncryption) != "aws:kms" || aws.ToString(head.SSEKMSKeyId) != customer.KMSKeyARN {
			t.Fatalf("%s: encryption %q key %q", k, head.ServerSideEncryption, aws.ToString(head.SSEKMSKeyId))
		}
	}

	gcs.requireSameDump(t, localKeys, out, local)
	az.requireSameDump(t, localKeys, out, local)

	// Each file was encoded once and delivered to every destination.
	rc, _, _ := legacylayout.ParseReceipt(local)
	files := 0
	for _, tbl := range rc.Tables {
		files += tbl.TotalFileCount
	}
	if got := metric(t, ops, "exportd_files_encoded_total"); int(got) != files {
		t.Fatalf("%v files encoded for a dump of %d files", got, files)
	}
	for _, dest := range []string{"acme-local", "acme-s3", "acme-gcs", "acme-azure"} {
		if got := metric(t, ops, `exportd_files_delivered_total{destination="`+dest+`"}`); int(got) != files {
			t.Fatalf("%s: %v files delivered, want %d", dest, got, files)
		}
	}
}

// pluginEnv reads the environment of the plugin the daemon logged as
// started, by name.
func pluginEnv(t *testing.T, d *daemon, plugin string) map[string]string {
	t.Helper()
	m := regexp.MustCompile(`msg="plugin started" plugin=` + plugin + ` .*pid=(\d+)`).FindStringSubmatch(d.out.String())
	if m == nil {
		t.Fatalf("no pid logged for plugin %s", plugin)
	}
	raw, err := os.ReadFile("/proc/" + m[1] + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range strings.Split(string(raw), "\x00") {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env
}

// TestS3LegacyFirstDumpLearnsRegion: a new customer's first dump, with
// no region configured and the bucket in another region than the one the
// plugin starts with, four files in flight at once when S3 says where the
// bucket is (through a proxy that refuses misdirected requests as S3
// does). The dump commits and the switch is logged once. Each plugin
// process sees only the environment its plugin block allows: s3legacy
// the platform's AWS identity, neither of them the daemon's secrets.
func TestS3LegacyFirstDumpLearnsRegion(t *testing.T) {
	moto := testsupport.StartMoto(t)
	customer := moto.NewCustomer(t, testsupport.CustomerOptions{ExternalID: "acme", Region: "eu-west-1"})
	proxy := moto.StartRegionProxy(t)
	proxy.HoldMisdirected(4)
	ns := testsupport.StartNATS(t)
	_, js := ns.Connect(t)
	out := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`
data_dir   = %q
plugin_dir = %q
nats { url = %q }
http { listen = "" }
jobs { put_concurrency = 4 }
source "sample" {
  seed = 7
  rows = %s
}
parquet { target_file_size = "64KiB" }
plugin "s3legacy" {
  env = ["AWS_*"]
}
destination "localfs" "acme-local" {
  account = "acme"
  path    = %q
}
destination "s3legacy" "acme-s3" {
  account            = "acme"
  bucket             = %q
  role_arn           = %q
  external_id        = %q
  folder             = "dumps"
  upload_concurrency = 4
  endpoint           = %q
  sts_endpoint       = %q
  path_style         = true
}
`, t.TempDir(), testsupport.PluginDir(t, "localfs", "s3legacy"), ns.URL, hclRows(sampleRows), out,
		customer.Bucket, customer.RoleARN, customer.ExternalID, proxy.URL, moto.Endpoint))

	d := startDaemon(t, cfg, append(moto.PlatformEnv(), "EXPORTD_TEST_PG_DSN=postgres://exportd:secret@db/platform")...)
	d.waitLog(t, "exportd running", 60*time.Second)
	publish(t, js, event.ModellingCompleted{AccountID: "acme", RunID: "run-1", CompletedAt: time.Now().UTC()})
	d.waitLog(t, `destination=acme-s3 receipt=s3://`, 2*time.Minute)

	if n := strings.Count(d.out.String(), "bucket is in another region"); n != 1 {
		t.Errorf("the region switch was logged %d times, want once", n)
	}
	if n := proxy.Misdirected(); n != 4 {
		t.Errorf("%d uploads were sent to the wrong region, want the 4 first in flight", n)
	}
	receipt, err := moto.Object(context.Background(), customer.Bucket, "dumps/receipt.json")
	if err != nil {
		t.Fatal(err)
	}
	rc, _, err := legacylayout.ParseReceipt(receipt)
	if err != nil {
		t.Fatal(err)
	}
	files := 0
	for _, tbl := range rc.Tables {
		files += tbl.TotalFileCount
	}
	if files < 8 || len(rc.Tables) != len(sampleRows) {
		t.Fatalf("receipt names %d files of %d tables, want at least 8 files of every table", files, len(rc.Tables))
	}

	s3env, localenv := pluginEnv(t, d, "s3legacy"), pluginEnv(t, d, "localfs")
	if s3env["AWS_ACCESS_KEY_ID"] != moto.Platform.AccessKeyID || localenv["AWS_ACCESS_KEY_ID"] != "" {
		t.Errorf("AWS_ACCESS_KEY_ID: s3legacy has %q, localfs %q; want it only in s3legacy", s3env["AWS_ACCESS_KEY_ID"], localenv["AWS_ACCESS_KEY_ID"])
	}
	for name, env := range map[string]map[string]string{"s3legacy": s3env, "localfs": localenv} {
		if _, ok := env["EXPORTD_TEST_PG_DSN"]; ok {
			t.Errorf("the daemon's DSN reached plugin %s", name)
		}
		if env["PATH"] == "" {
			t.Errorf("plugin %s has no PATH", name)
		}
	}
}
