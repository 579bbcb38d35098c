package testsupport

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
)

// TestMotoEnforcesTheLegacyPermissions checks that a customer made by the
// helper behaves as the S3 Legacy contract needs: the platform assumes the
// role only with the external ID, and the role may put objects (with the
// ACL header and SSE-KMS) but do nothing else.
func TestMotoEnforcesTheLegacyPermissions(t *testing.T) {
	m := StartMoto(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := m.NewCustomer(t, CustomerOptions{KMS: true})

	stsClient := sts.NewFromConfig(m.Config(m.Platform))
	assume := func(externalID string) aws.Config {
		cfg := m.Config(m.Platform)
		cfg.Credentials = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient, c.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.ExternalID = aws.String(externalID)
		}))
		return cfg
	}
	if _, err := assume("wrong").Credentials.Retrieve(ctx); apiCode(err) != "AccessDenied" {
		t.Fatalf("assume role with a wrong external ID: %v, want AccessDenied", err)
	}
	role := s3.NewFromConfig(assume(c.ExternalID), func(o *s3.Options) { o.UsePathStyle = true })

	_, err := role.PutObject(ctx, &s3.PutObjectInput{
		Bucket:               aws.String(c.Bucket),
		Key:                  aws.String("dir/file.bin"),
		Body:                 strings.NewReader("payload"),
		ACL:                  s3types.ObjectCannedACLBucketOwnerFullControl,
		ServerSideEncryption: s3types.ServerSideEncryptionAwsKms,
		SSEKMSKeyId:          aws.String(c.KMSKeyARN),
	})
	if err != nil {
		t.Fatalf("role PutObject: %v", err)
	}
	// Keys of the S3 Legacy layout have a colon in their minute folder.
	const legacyKey = "exports/2023-01-02T15:04/companies/companies_000000000000.parquet.gz"
	if _, err := role.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(c.Bucket), Key: aws.String(legacyKey), Body: strings.NewReader("parquet"),
		ACL: s3types.ObjectCannedACLBucketOwnerFullControl,
	}); err != nil {
		t.Fatalf("role PutObject of a key with a colon: %v", err)
	}
	denied := map[string]error{}
	_, denied["GetObject"] = role.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String("dir/file.bin")})
	_, denied["ListObjectsV2"] = role.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.Bucket)})
	_, denied["DeleteObject"] = role.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String("dir/file.bin")})
	other := m.NewCustomer(t, CustomerOptions{})
	_, denied["PutObject elsewhere"] = role.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(other.Bucket), Key: aws.String("x"), Body: strings.NewReader("x")})
	for op, err := range denied {
		if apiCode(err) != "AccessDenied" {
			t.Errorf("role %s: %v, want AccessDenied", op, err)
		}
	}

	// A wrong secret still fails the signature check.
	forged := m.S3(StaticCredentials{AccessKeyID: m.Admin.AccessKeyID, SecretAccessKey: "wrong"})
	if _, err := forged.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(c.Bucket), Key: aws.String(legacyKey), Body: strings.NewReader("x")}); apiCode(err) != "SignatureDoesNotMatch" {
		t.Fatalf("PutObject with a wrong secret: %v, want SignatureDoesNotMatch", err)
	}
	listed, err := m.AdminS3().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.Bucket), Prefix: aws.String("exports/2023-01-02T15:04/")})
	if err != nil || len(listed.Contents) != 1 || aws.ToString(listed.Contents[0].Key) != legacyKey {
		t.Fatalf("admin list with a prefix: %+v, %v", listed, err)
	}
	got, err := m.Object(ctx, c.Bucket, "dir/file.bin")
	if err != nil || string(got) != "payload" {
		t.Fatalf("admin read back: %q, %v", got, err)
	}
	if _, err := m.Object(ctx, c.Bucket, "absent"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing object: %v, want os.ErrNotExist", err)
	}
	keys, err := m.Keys(ctx, c.Bucket)
	if err != nil || strings.Join(keys, ",") != "dir/file.bin,"+legacyKey {
		t.Fatalf("keys: %v, %v", keys, err)
	}
	if m.MemoryBytes() <= 0 {
		t.Error("moto memory is unknown")
	}
}

func TestMotoCleansUp(t *testing.T) {
	var m *Moto
	t.Run("inner", func(t *testing.T) { m = StartMoto(t) })
	if !m.proc.exited() {
		t.Fatal("moto still runs after its test ended")
	}
	if _, err := os.Stat(m.dir); !os.IsNotExist(err) {
		t.Fatalf("moto's directory survived: %v", err)
	}
}

func apiCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}
