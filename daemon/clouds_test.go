package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/exportd/exportd/internal/testsupport"
)

// cloudCustomer is one customer's bucket or container in an emulator, set
// up as the README's customer guide says, and the destination block that
// delivers into it.
type cloudCustomer struct {
	hcl  string
	keys func(ctx context.Context) ([]string, error)
	get  func(ctx context.Context, name string) ([]byte, error)
	what string
}

const gcsKMSKey = "projects/acme-project/locations/europe-west1/keyRings/exports/cryptoKeys/dumps"

// startGCSCustomer runs fake-gcs-server behind its IAM front with the
// platform's service account (its key file is the destination's
// credentials_file) and a customer's bucket and service account that the
// platform may impersonate: objectCreator on the bucket, delete on the
// receipt only, and a KMS key.
func startGCSCustomer(t *testing.T) cloudCustomer {
	g := testsupport.StartGCS(t)
	platform := g.NewServiceAccount(t, "exportd@platform-project.iam.gserviceaccount.com")
	sa := g.NewServiceAccount(t, "platform-export@acme-project.iam.gserviceaccount.com")
	const bucket = "acme-platform-dump"
	g.CreateBucket(bucket)
	g.AllowImpersonation(platform.Email, sa.Email)
	g.Grant(sa.Email, bucket, "storage.objects.create")
	g.GrantOnObject(sa.Email, bucket, "dumps/receipt.json", "storage.objects.delete")
	g.AddKMSKey(gcsKMSKey, true)
	return cloudCustomer{
		what: "gs://" + bucket,
		hcl: fmt.Sprintf(`destination "gcs" "acme-gcs" {
  account                     = "acme"
  bucket                      = %q
  folder                      = "dumps"
  impersonate_service_account = %q
  credentials_file            = %q
  kms_key_name                = %q
  endpoint                    = %q
  iam_credentials_endpoint    = %q
}`, bucket, sa.Email, platform.KeyFile, gcsKMSKey, g.URL, g.URL),
		keys: func(context.Context) ([]string, error) {
			names, err := g.ObjectNames(bucket)
			for _, n := range names {
				if got := g.ObjectKMSKey(bucket, n); got != gcsKMSKey {
					return nil, fmt.Errorf("%s was stored with KMS key %q", n, got)
				}
			}
			return names, err
		},
		get: func(_ context.Context, name string) ([]byte, error) { return g.Object(bucket, name) },
	}
}

// startAzureCustomer runs Azurite with a customer's container and a
// container SAS that may create and write blobs, nothing else.
func startAzureCustomer(t *testing.T) cloudCustomer {
	a := testsupport.StartAzurite(t)
	c := a.NewContainer(t)
	token := a.SAS(t, c, sas.ContainerPermissions{Create: true, Write: true}, time.Now().Add(time.Hour), testsupport.AzuriteKey)
	return cloudCustomer{
		what: a.Endpoint + "/" + c,
		hcl: fmt.Sprintf(`destination "azblob" "acme-azure" {
  account         = "acme"
  storage_account = %q
  container       = %q
  folder          = "dumps"
  sas_token       = %q
  endpoint        = %q
}`, testsupport.AzuriteAccount, c, token, a.Endpoint),
		keys: func(ctx context.Context) ([]string, error) { return a.BlobNames(ctx, c) },
		get:  func(ctx context.Context, name string) ([]byte, error) { return a.Blob(ctx, c, name) },
	}
}

// requireSameDump checks that the customer's store holds exactly the
// files of the local folder (localKeys, sorted), byte for byte, and the
// same receipt.
func (c cloudCustomer) requireSameDump(t *testing.T, localKeys []string, root string, receipt []byte) {
	t.Helper()
	ctx := context.Background()
	keys, err := c.keys(ctx)
	if err != nil {
		t.Fatalf("%s: %v", c.what, err)
	}
	if strings.Join(keys, "\n") != strings.Join(localKeys, "\n") {
		t.Fatalf("%s holds:\n%s\nlocal files:\n%s", c.what, strings.Join(keys, "\n"), strings.Join(localKeys, "\n"))
	}
	for _, k := range keys {
		got, err := c.get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := os.ReadFile(filepath.Join(root, filepath.FromSlash(k)))
		if !bytes.Equal(got, want) {
			t.Fatalf("%s: %s differs from the local folder's", c.what, k)
		}
	}
	if got, _ := c.get(ctx, "dumps/receipt.json"); !bytes.Equal(got, receipt) {
		t.Fatalf("%s: the receipt differs from localfs's:\n%s", c.what, got)
	}
}
