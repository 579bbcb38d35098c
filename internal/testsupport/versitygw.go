package testsupport

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// VersityGWInstall is the command that installs the versitygw version the
// tests are written against.
const VersityGWInstall = "go install github.com/versity/versitygw/cmd/versitygw@v1.8.0"

// VersityGW is a running versitygw S3 gateway on 127.0.0.1 over a posix
// directory. Unlike moto it checks what travels on the wire: a payload
// that does not match its signed SHA-256 or its checksum header is
// refused. It has no STS, so clients use static credentials.
type VersityGW struct {
	Endpoint      string
	AdminEndpoint string
	Region        string
	// Root may do anything.
	Root StaticCredentials

	bin  string
	proc *serverProcess
	dir  string
	seq  atomic.Int64
}

// VersityGWBinary finds the versitygw executable on PATH or in
// $(go env GOPATH)/bin, and fails the test with the install command when
// it is missing: tests that need it never skip.
func VersityGWBinary(tb testing.TB) string {
	tb.Helper()
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err == nil {
		for _, dir := range filepath.SplitList(strings.TrimSpace(string(out))) {
			p := filepath.Join(dir, "bin", "versitygw")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				return p
			}
		}
	}
	tb.Fatalf("versitygw is not on PATH nor in $(go env GOPATH)/bin; install it with:\n\t%s", VersityGWInstall)
	return ""
}

// StartVersityGW starts a gateway for one test and stops it, removing its
// files, when the test ends.
func StartVersityGW(tb testing.TB) *VersityGW {
	tb.Helper()
	v := &VersityGW{
		bin:    VersityGWBinary(tb),
		Region: "us-east-1",
		Root:   StaticCredentials{AccessKeyID: "exportdroot", SecretAccessKey: "exportd-root-secret-key"},
	}
	dir, err := os.MkdirTemp("", "exportd-versitygw-")
	if err != nil {
		tb.Fatal(err)
	}
	v.dir = dir
	tb.Cleanup(v.Close)
	for _, sub := range []string{"iam", "data"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for attempt := 1; ; attempt++ {
		err = v.start(ctx)
		if err == nil {
			return v
		}
		if attempt == 3 {
			tb.Fatalf("start versitygw: %v", err)
		}
	}
}

func (v *VersityGW) start(ctx context.Context) error {
	port, err := loopbackPort()
	if err != nil {
		return err
	}
	adminPort, err := loopbackPort()
	if err != nil {
		return err
	}
	cmd := exec.Command(v.bin,
		"--port", fmt.Sprintf("127.0.0.1:%d", port),
		"--admin-port", fmt.Sprintf("127.0.0.1:%d", adminPort),
		"--iam-dir", filepath.Join(v.dir, "iam"),
		"posix", filepath.Join(v.dir, "data"))
	cmd.Dir = v.dir
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+v.Root.AccessKeyID, "ROOT_SECRET_KEY="+v.Root.SecretAccessKey)
	proc, err := startServerProcess("versitygw", cmd, filepath.Join(v.dir, fmt.Sprintf("versitygw-%d.log", port)))
	if err != nil {
		return err
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	admin := fmt.Sprintf("http://127.0.0.1:%d", adminPort)
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	// Unsigned requests are refused, which proves that it listens.
	for _, u := range []string{endpoint + "/", admin + "/"} {
		if err := proc.waitHTTP(wctx, u); err != nil {
			proc.Stop()
			return err
		}
	}
	v.proc, v.Endpoint, v.AdminEndpoint = proc, endpoint, admin
	return nil
}

// Close stops the gateway and removes its files. It is safe to call more
// than once.
func (v *VersityGW) Close() {
	if v.proc != nil {
		v.proc.Stop()
	}
	os.RemoveAll(v.dir)
}

// S3 returns a path-style S3 client acting as c.
func (v *VersityGW) S3(c StaticCredentials) *s3.Client {
	return s3.NewFromConfig(aws.Config{
		Region:       v.Region,
		Credentials:  c.Provider(),
		BaseEndpoint: aws.String(v.Endpoint),
	}, func(o *s3.Options) { o.UsePathStyle = true })
}

// CreateUser adds an identity with no rights of its own; bucket policies
// grant it actions.
func (v *VersityGW) CreateUser(tb testing.TB) StaticCredentials {
	tb.Helper()
	n := v.seq.Add(1)
	c := StaticCredentials{AccessKeyID: fmt.Sprintf("exportduser%d", n), SecretAccessKey: fmt.Sprintf("exportd-user-%d-secret", n)}
	cmd := exec.Command(v.bin, "admin",
		"-a", v.Root.AccessKeyID, "-s", v.Root.SecretAccessKey, "--er", v.AdminEndpoint,
		"create-user", "--access", c.AccessKeyID, "--secret", c.SecretAccessKey, "--role", "user")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("versitygw create-user: %v\n%s", err, out)
	}
	return c
}

// CreateBucket creates a bucket owned by the root identity, named uniquely
// from prefix, and returns its name.
func (v *VersityGW) CreateBucket(tb testing.TB, prefix string) string {
	tb.Helper()
	name := fmt.Sprintf("%s-%d", prefix, v.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := v.S3(v.Root).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		tb.Fatalf("create bucket %s: %v", name, err)
	}
	return name
}

// GrantPut gives user exactly the S3 Legacy rights on bucket: s3:PutObject
// and s3:PutObjectAcl, through a bucket policy.
func (v *VersityGW) GrantPut(tb testing.TB, bucket string, user StaticCredentials) {
	tb.Helper()
	policy := fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": [%q]},
    "Action": ["s3:PutObject", "s3:PutObjectAcl"],
    "Resource": ["arn:aws:s3:::%s/*", "arn:aws:s3:::%s"]
  }]
}`, user.AccessKeyID, bucket, bucket)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := v.S3(v.Root).PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(bucket), Policy: aws.String(policy)}); err != nil {
		tb.Fatalf("bucket policy of %s: %v", bucket, err)
	}
}

// Keys lists every key in bucket, sorted, as root.
func (v *VersityGW) Keys(ctx context.Context, bucket string) ([]string, error) {
	return listKeys(ctx, v.S3(v.Root), bucket)
}

// Object reads one object back as root. A missing object is an error
// wrapping os.ErrNotExist.
func (v *VersityGW) Object(ctx context.Context, bucket, key string) ([]byte, error) {
	return getObject(ctx, v.S3(v.Root), bucket, key)
}
