package testsupport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// AzuriteInstall is the command that installs the Azurite the tests are
// written against into the repository's tools folder.
const AzuriteInstall = "make tools   # npm install --prefix .tools azurite@3.37.0"

// AzuriteAccount and AzuriteKey are Azurite's well-known development
// account and its shared key (published with Azurite; not a secret).
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite blob service on 127.0.0.1, in a temporary
// directory. It
// checks shared-key signatures and SAS tokens (signature, permissions,
// expiry, resource) like Azure Storage does.
type Azurite struct {
	// Endpoint is the blob service URL of the development account.
	Endpoint string
	// BaseURL is the server's URL without the account, to put a proxy in
	// front of (the account travels in the path).
	BaseURL string

	proc  *serverProcess
	admin *service.Client
	seq   atomic.Int64
}

// AzuriteBinary finds azurite-blob in the repository's .tools folder and
// fails the test with the install command when it is missing.
func AzuriteBinary(tb testing.TB) string {
	tb.Helper()
	p := filepath.Join(ModuleRoot(tb), ".tools", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(p); err != nil {
		tb.Fatalf("azurite-blob is not installed in .tools; install it with:\n\t%s", AzuriteInstall)
	}
	return p
}

// StartAzurite starts Azurite for one test and stops it when the test ends.
func StartAzurite(tb testing.TB) *Azurite {
	tb.Helper()
	bin := AzuriteBinary(tb)
	dir := tb.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var lastErr error
	for try := 0; try < 5; try++ {
		port, err := loopbackPort()
		if err != nil {
			tb.Fatal(err)
		}
		cmd := exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", strconv.Itoa(port),
			"--location", dir, "--skipApiVersionCheck", "--disableTelemetry", "--silent")
		proc, err := startServerProcess("azurite", cmd, filepath.Join(dir, fmt.Sprintf("azurite-%d.log", try)))
		if err != nil {
			tb.Fatal(err)
		}
		endpoint := fmt.Sprintf("http://127.0.0.1:%d/%s", port, AzuriteAccount)
		if lastErr = proc.waitHTTP(ctx, endpoint+"?comp=list"); lastErr != nil {
			proc.Stop()
			continue // the port was taken meanwhile
		}
		tb.Cleanup(proc.Stop)
		a := &Azurite{Endpoint: endpoint, BaseURL: fmt.Sprintf("http://127.0.0.1:%d", port), proc: proc}
		cred, err := service.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
		if err != nil {
			tb.Fatal(err)
		}
		if a.admin, err = service.NewClientWithSharedKeyCredential(endpoint, cred, nil); err != nil {
			tb.Fatal(err)
		}
		return a
	}
	tb.Fatalf("start azurite: %v", lastErr)
	return nil
}

// NewContainer creates an empty container with a fresh name.
func (a *Azurite) NewContainer(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("acme-dumps-%d", a.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := a.admin.NewContainerClient(name).Create(ctx, nil); err != nil {
		tb.Fatalf("create container %s: %v", name, err)
	}
	return name
}

// SAS issues a container SAS token with the given permissions (such as
// sas.ContainerPermissions{Create: true, Write: true}) valid until expiry,
// signed with key (AzuriteKey, or a wrong one).
func (a *Azurite) SAS(tb testing.TB, containerName string, perms sas.ContainerPermissions, expiry time.Time, key string) string {
	tb.Helper()
	cred, err := container.NewSharedKeyCredential(AzuriteAccount, key)
	if err != nil {
		tb.Fatal(err)
	}
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		StartTime:     time.Now().Add(-10 * time.Minute).UTC(),
		ExpiryTime:    expiry.UTC(),
		Permissions:   perms.String(),
		ContainerName: containerName,
	}.SignWithSharedKey(cred)
	if err != nil {
		tb.Fatal(err)
	}
	return q.Encode()
}

// Blob returns a blob's bytes, or an error wrapping fs.ErrNotExist.
func (a *Azurite) Blob(ctx context.Context, containerName, name string) ([]byte, error) {
	resp, err := a.admin.NewContainerClient(containerName).NewBlobClient(name).DownloadStream(ctx, nil)
	if bloberror.HasCode(err, bloberror.BlobNotFound) {
		return nil, fmt.Errorf("%s/%s: %w", containerName, name, fs.ErrNotExist)
	}
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}

// BlobNames lists a container's blob names, sorted.
func (a *Azurite) BlobNames(ctx context.Context, containerName string) ([]string, error) {
	var names []string
	pager := a.admin.NewContainerClient(containerName).NewListBlobsFlatPager(nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// ContentMD5 is the Content-MD5 property Azurite stored for a blob.
func (a *Azurite) ContentMD5(ctx context.Context, containerName, name string) ([]byte, error) {
	props, err := a.admin.NewContainerClient(containerName).NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return nil, err
	}
	if props.ContentMD5 == nil {
		return nil, errors.New("no Content-MD5 stored")
	}
	return props.ContentMD5, nil
}
