package testsupport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// MotoAccountID is the AWS account moto keeps every resource in.
const MotoAccountID = "123456789012"

// MotoRegion is the region the moto helpers use.
const MotoRegion = "us-east-1"

// StaticCredentials is an AWS access key pair.
type StaticCredentials struct {
	AccessKeyID     string
	SecretAccessKey string
}

// Provider returns a credentials provider for c.
func (c StaticCredentials) Provider() aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, "")
}

// Env returns environment variables under which the default AWS credential
// chain of a child process finds c and nothing else: no session token, no
// shared profile, no instance metadata, no endpoint overrides.
func (c StaticCredentials) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + c.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
		"AWS_SESSION_TOKEN=",
		"AWS_PROFILE=",
		"AWS_DEFAULT_PROFILE=",
		"AWS_CONFIG_FILE=" + os.DevNull,
		"AWS_SHARED_CREDENTIALS_FILE=" + os.DevNull,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL=",
		"AWS_ENDPOINT_URL_S3=",
		"AWS_ENDPOINT_URL_STS=",
	}
}

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
	if _, err := m.AdminS3().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(c.Bucket)}); err != nil {
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

func listKeys(ctx context.Context, client *s3.Client, bucket string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list bucket %s: %w", bucket, err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// Object reads one object back as the admin. A missing object is an error
// wrapping os.ErrNotExist.
func (m *Moto) Object(ctx context.Context, bucket, key string) ([]byte, error) {
	return getObject(ctx, m.AdminS3(), bucket, key)
}

func getObject(ctx context.Context, client *s3.Client, bucket, key string) ([]byte, error) {
	out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		var nsk *s3types.NoSuchKey
		var api smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &api) && api.ErrorCode() == "NotFound") {
			return nil, fmt.Errorf("s3://%s/%s: %w", bucket, key, os.ErrNotExist)
		}
		return nil, fmt.Errorf("get s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, out.Body); err != nil {
		return nil, fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return buf.Bytes(), nil
}

// serverProcess is a server started by a helper in this package: its own
// process group on 127.0.0.1, its log in a file, stopped by Stop.
type serverProcess struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}

	stopOnce sync.Once
}

// loopbackPort asks the kernel for a free TCP port on 127.0.0.1. Another
// process may take it before the server binds it; callers retry.
func loopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServerProcess runs cmd in its own process group with its output in
// logPath. The process is killed if this test process dies.
func startServerProcess(name string, cmd *exec.Cmd, logPath string) (*serverProcess, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &serverProcess{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended.
func (p *serverProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process group the helper started: SIGTERM, then SIGKILL
// after a grace period. It is safe to call more than once.
func (p *serverProcess) Stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
	})
}

// logTail returns the end of the process's log, for error messages.
func (p *serverProcess) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// rssBytes returns the resident memory of the process, or 0 if unknown.
func (p *serverProcess) rssBytes() int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(b, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			f := bytes.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(string(f[0]), 10, 64)
				return kb << 10
			}
		}
	}
	return 0
}

// waitHTTP polls url until it answers at all (any status proves that the
// server listens), the process exits, or ctx ends.
func (p *serverProcess) waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: time.Second}
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if p.exited() {
			return fmt.Errorf("%s exited during startup:\n%s", p.name, p.logTail())
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%s did not answer on %s: %w", p.name, url, ctx.Err()), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}
