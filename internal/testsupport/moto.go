package testsupport

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// MotoAccountID is the AWS account moto keeps every resource in.
const MotoAccountID = "123456789012"

// MotoRegion is the region the moto helpers use.
const MotoRegion = "us-east-1"

// Moto is a running moto_server on 127.0.0.1 with IAM enforcement on: every
// request must be signed by a seeded identity and is checked against its
// policies. Two identities are seeded: Admin may do anything; Platform
// plays the exporting platform's own identity and may only call
// sts:AssumeRole. Customers (a bucket and a role the platform may assume)
// are added with NewCustomer.
type Moto struct {
	// Endpoint is the base URL for every service, e.g. http://127.0.0.1:PORT.
	Endpoint string
	Region   string

	Admin       StaticCredentials
	Platform    StaticCredentials
	PlatformARN string

	proc *serverProcess
	dir  string
	seq  atomic.Int64
}

// StartMoto starts a moto server for one test and stops it when the test
// ends. moto keeps every stored byte in memory, so tests that store a lot
// use their own server.
func StartMoto(tb testing.TB) *Moto {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := LaunchMoto(ctx)
	if err != nil {
		tb.Fatalf("start moto: %v", err)
	}
	tb.Cleanup(m.Close)
	return m
}

var sharedMoto struct {
	mu  sync.Mutex
	m   *Moto
	err error
}

// SharedMoto returns the server shared by the tests of a package, starting
// it on first use. The package's TestMain must call StopSharedMoto after
// m.Run; should it not, the server still dies with the test process.
func SharedMoto(tb testing.TB) *Moto {
	tb.Helper()
	sharedMoto.mu.Lock()
	defer sharedMoto.mu.Unlock()
	if sharedMoto.m == nil && sharedMoto.err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		sharedMoto.m, sharedMoto.err = LaunchMoto(ctx)
		cancel()
	}
	if sharedMoto.err != nil {
		tb.Fatalf("start shared moto: %v", sharedMoto.err)
	}
	return sharedMoto.m
}

// StopSharedMoto stops the shared server, if one was started. It is safe
// to call more than once.
func StopSharedMoto() {
	sharedMoto.mu.Lock()
	defer sharedMoto.mu.Unlock()
	if sharedMoto.m != nil {
		sharedMoto.m.Close()
		sharedMoto.m = nil
	}
}

// LaunchMoto starts moto_server on a free port, seeds the admin and
// platform identities, and turns IAM enforcement on. The caller must
// Close it.
func LaunchMoto(ctx context.Context) (*Moto, error) {
	python, err := motoPython()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "exportd-moto-")
	if err != nil {
		return nil, err
	}
	m := &Moto{Region: MotoRegion, dir: dir}
	for attempt := 1; ; attempt++ {
		err = m.start(ctx, python)
		if err == nil {
			break
		}
		if attempt == 3 || ctx.Err() != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if err := m.seed(ctx); err != nil {
		m.Close()
		return nil, fmt.Errorf("seed moto: %w", err)
	}
	return m, nil
}

// motoCanonicalS3 runs moto_server with one correction to its SigV4 check
// of S3 requests. AWS S3 builds the canonical request from the URI-encoded
// form of the decoded path and query, so a client that sends and signs
// "2023-01-02T15%3A04" is accepted. moto signs werkzeug's re-quoted URL
// instead, which leaves ':' (and '!$&'()*+,;=@') unencoded in the path and
// decodes '%2F' in the query: every key of the S3 Legacy layout (its
// minute folder has a colon) and every ListObjectsV2 with a prefix holding
// a slash then fails with SignatureDoesNotMatch. Signatures are still
// verified, against the canonical form AWS uses.
const motoCanonicalS3 = `
import sys
from urllib.parse import quote, unquote
from botocore.auth import S3SigV4Auth
import moto.iam.access_control as access_control

class CanonicalS3SigV4Auth(S3SigV4Auth):
    def _normalize_url_path(self, path):
        return quote(unquote(path), safe="/~")

    def _canonical_query_string_url(self, parts):
        if not parts.query:
            return ""
        pairs = []
        for pair in parts.query.split("&"):
            key, _, value = pair.partition("=")
            pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
        return "&".join(k + "=" + v for k, v in sorted(pairs))

access_control.S3IAMRequest._create_auth = (
    lambda self, credentials: CanonicalS3SigV4Auth(credentials, self._service, self._region))

from moto.server import main
main(sys.argv[1:])
`

// motoPython finds the Python interpreter that runs moto_server: the one
// named by the moto_server script's first line (through pyenv's shim when
// there is one).
func motoPython() (string, error) {
	script, err := exec.LookPath("moto_server")
	if err != nil {
		return "", fmt.Errorf("moto_server is not on PATH (pip install 'moto[server]==5.2.1'): %w", err)
	}
	if strings.Contains(script, "/shims/") {
		if out, err := exec.Command("pyenv", "which", "moto_server").Output(); err == nil {
			script = strings.TrimSpace(string(out))
		}
	}
	head := make([]byte, 256)
	if f, err := os.Open(script); err == nil {
		n, _ := f.Read(head)
		f.Close()
		head = head[:n]
	}
	line, _, _ := strings.Cut(string(head), "\n")
	if shebang, ok := strings.CutPrefix(line, "#!"); ok {
		fields := strings.Fields(shebang)
		if len(fields) > 0 && strings.HasSuffix(fields[0], "/env") {
			fields = fields[1:]
		}
		if len(fields) > 0 && strings.Contains(fields[0], "python") {
			return exec.LookPath(fields[0])
		}
	}
	return exec.LookPath("python3")
}

// start runs the server on a fresh port and waits until it answers. A
// port taken between choosing and binding it fails here; LaunchMoto tries
// again.
func (m *Moto) start(ctx context.Context, python string) error {
	port, err := loopbackPort()
	if err != nil {
		return err
	}
	cmd := exec.Command(python, "-c", motoCanonicalS3, "-H", "127.0.0.1", "-p", strconv.Itoa(port))
	cmd.Dir = m.dir
	proc, err := startServerProcess("moto_server", cmd, fmt.Sprintf("%s/moto-%d.log", m.dir, port))
	if err != nil {
		return err
	}
	endpoint := fmt.Sprintf("http://127.0.0.1:%d", port)
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := proc.waitHTTP(wctx, endpoint+"/moto-api/"); err != nil {
		proc.Stop()
		return err
	}
	m.proc, m.Endpoint = proc, endpoint
	return nil
}

// Close stops the server and removes its files. It is safe to call more
// than once.
func (m *Moto) Close() {
	if m.proc != nil {
		m.proc.Stop()
	}
	os.RemoveAll(m.dir)
}

// MemoryBytes is the server's resident memory, to decide when a test that
// stores a lot should use a fresh server.
func (m *Moto) MemoryBytes() int64 { return m.proc.rssBytes() }

// Config returns an AWS configuration that talks to moto as c.
func (m *Moto) Config(c StaticCredentials) aws.Config {
	return aws.Config{
		Region:       m.Region,
		Credentials:  c.Provider(),
		BaseEndpoint: aws.String(m.Endpoint),
	}
}

// S3 returns a path-style S3 client acting as c.
func (m *Moto) S3(c StaticCredentials) *s3.Client {
	return s3.NewFromConfig(m.Config(c), func(o *s3.Options) { o.UsePathStyle = true })
}

// AdminS3 returns an S3 client that may do anything, to read buckets back.
func (m *Moto) AdminS3() *s3.Client { return m.S3(m.Admin) }

// PlatformEnv is the environment of a plugin process whose own AWS identity
// is the seeded platform user.
func (m *Moto) PlatformEnv() []string { return m.Platform.Env() }

func (m *Moto) seed(ctx context.Context) error {
	// Auth is still off: any signature passes while seeding.
	cfg := m.Config(StaticCredentials{AccessKeyID: "seed", SecretAccessKey: "seed"})
	client := iam.NewFromConfig(cfg)
	var err error
	m.Admin, _, err = createUser(ctx, client, "exportd-admin", `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
}`)
	if err != nil {
		return err
	}
	m.Platform, m.PlatformARN, err = createUser(ctx, client, "exportd-platform", `{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]
}`)
	if err != nil {
		return err
	}
	return m.setAuth(ctx, "0")
}

// setAuth posts to moto's reset-auth endpoint: "0" enforces IAM from the
// next request on, "inf" turns enforcement off.
func (m *Moto) setAuth(ctx context.Context, after string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.Endpoint+"/moto-api/reset-auth", strings.NewReader(after))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset-auth: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("reset-auth: %s: %s", resp.Status, b)
	}
	return nil
}

func createUser(ctx context.Context, client *iam.Client, name, policy string) (StaticCredentials, string, error) {
	u, err := client.CreateUser(ctx, &iam.CreateUserInput{UserName: aws.String(name)})
	if err != nil {
		return StaticCredentials{}, "", fmt.Errorf("create user %s: %w", name, err)
	}
	if _, err := client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{
		UserName: aws.String(name), PolicyName: aws.String(name), PolicyDocument: aws.String(policy),
	}); err != nil {
		return StaticCredentials{}, "", fmt.Errorf("policy of user %s: %w", name, err)
	}
	k, err := client.CreateAccessKey(ctx, &iam.CreateAccessKeyInput{UserName: aws.String(name)})
	if err != nil {
		return StaticCredentials{}, "", fmt.Errorf("access key of user %s: %w", name, err)
	}
	creds := StaticCredentials{AccessKeyID: aws.ToString(k.AccessKey.AccessKeyId), SecretAccessKey: aws.ToString(k.AccessKey.SecretAccessKey)}
	return creds, aws.ToString(u.User.Arn), nil
}

// LegacyTrustPolicy is the trust policy the S3 Legacy customer guide asks
// for: only principal may assume the role, and only with externalID.
func LegacyTrustPolicy(principal, externalID string) string {
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Principal": {"AWS": %q},
    "Action": "sts:AssumeRole",
    "Condition": {"StringEquals": {"sts:ExternalId": %q}}
  }]
}`, principal, externalID)
}

// LegacyPermissionPolicy is the permission policy the S3 Legacy customer
// guide asks for: s3:PutObject and s3:PutObjectAcl on the bucket and its
// objects, nothing else.
func LegacyPermissionPolicy(bucket string) string {
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["s3:PutObject", "s3:PutObjectAcl"],
    "Resource": ["arn:aws:s3:::%s/*", "arn:aws:s3:::%s"]
  }]
}`, bucket, bucket)
}

// LegacyKMSPolicy is the extra permission a role needs when the bucket
// encrypts with keyARN.
func LegacyKMSPolicy(keyARN string) string {
	return fmt.Sprintf(`{
  "Version": "2012-10-17",
  "Statement": [{
    "Effect": "Allow",
    "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
    "Resource": %q
  }]
}`, keyARN)
}

// CustomerOptions shapes a customer created by NewCustomer.
type CustomerOptions struct {
	// ExternalID the trust policy requires; empty means "customer-<n>".
	ExternalID string
	// KMS creates a KMS key and grants the role the KMS permissions.
	KMS bool
	// PermissionPolicy replaces LegacyPermissionPolicy(bucket) as the
	// role's policy when set; "%s" in it stands for the bucket name.
	PermissionPolicy string
	// Region is the bucket's region; empty means MotoRegion. moto records
	// it but does not check it: put a RegionProxy in front to have
	// requests signed for another region refused as S3 does.
	Region string
}

// MotoCustomer is one customer's setup, made exactly as the S3 Legacy
// guide asks: a bucket and a role that trusts only the platform identity
// under an external ID and may only put objects into the bucket.
type MotoCustomer struct {
	Bucket     string
	RoleARN    string
	ExternalID string
	// KMSKeyARN is set when the customer was created with KMS.
	KMSKeyARN string
}

// NewCustomer creates a customer with a fresh bucket and role.
func (m *Moto) NewCustomer(tb testing.TB, opts CustomerOptions) MotoCustomer {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := m.CreateCustomer(ctx, opts)
	if err != nil {
		tb.Fatalf("create moto customer: %v", err)
	}
	return c
}

// CreateCustomer is NewCustomer for callers without a testing.TB.
func (m *Moto) CreateCustomer(ctx context.Context, opts CustomerOptions) (MotoCustomer, error) {
	n := m.seq.Add(1)
	c := MotoCustomer{
		Bucket:     fmt.Sprintf("exportd-customer-%d", n),
		ExternalID: opts.ExternalID,
	}
	if c.ExternalID == "" {
		c.ExternalID = fmt.Sprintf("customer-%d", n)
	}
	cfg := m.Config(m.Admin)
	in := &s3.CreateBucketInput{Bucket: aws.String(c.Bucket)}
	if opts.Region != "" && opts.Region != MotoRegion {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraint(opts.Region)}
	}
	if _, err := m.AdminS3().CreateBucket(ctx, in); err != nil {
		return c, fmt.Errorf("create bucket %s: %w", c.Bucket, err)
	}
	roles := iam.NewFromConfig(cfg)
	role := fmt.Sprintf("platform-export-%d", n)
	r, err := roles.CreateRole(ctx, &iam.CreateRoleInput{
		RoleName:                 aws.String(role),
		AssumeRolePolicyDocument: aws.String(LegacyTrustPolicy(m.PlatformARN, c.ExternalID)),
	})
	if err != nil {
		return c, fmt.Errorf("create role %s: %w", role, err)
	}
	c.RoleARN = aws.ToString(r.Role.Arn)
	policy := LegacyPermissionPolicy(c.Bucket)
	if opts.PermissionPolicy != "" {
		policy = strings.ReplaceAll(opts.PermissionPolicy, "%s", c.Bucket)
	}
	if err := putRolePolicy(ctx, roles, role, "s3-legacy", policy); err != nil {
		return c, err
	}
	if opts.KMS {
		k, err := kms.NewFromConfig(cfg).CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("exportd test key for " + c.Bucket)})
		if err != nil {
			return c, fmt.Errorf("create KMS key: %w", err)
		}
		c.KMSKeyARN = aws.ToString(k.KeyMetadata.Arn)
		if err := putRolePolicy(ctx, roles, role, "kms", LegacyKMSPolicy(c.KMSKeyARN)); err != nil {
			return c, err
		}
	}
	return c, nil
}

func putRolePolicy(ctx context.Context, client *iam.Client, role, name, policy string) error {
	_, err := client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{
		RoleName: aws.String(role), PolicyName: aws.String(name), PolicyDocument: aws.String(policy),
	})
	if err != nil {
		return fmt.Errorf("policy %s of role %s: %w", name, role, err)
	}
	return nil
}

// Keys lists every key in bucket, sorted, as the admin.
func (m *Moto) Keys(ctx context.Context, bucket string) ([]string, error) {
	return listKeys(ctx, m.AdminS3(), bucket)
}

// Object reads one object back as the admin. A missing object is an error
// wrapping os.ErrNotExist.
func (m *Moto) Object(ctx context.Context, bucket, key string) ([]byte, error) {
	return getObject(ctx, m.AdminS3(), bucket, key)
}
