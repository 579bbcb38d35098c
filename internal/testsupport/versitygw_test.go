package testsupport

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestVersityGWChecksWhatTravels checks the properties the plugin's strict
// wire test relies on: a user with only PutObject and PutObjectAcl can put
// with the ACL header and nothing else, and a wrong checksum is refused.
func TestVersityGWChecksWhatTravels(t *testing.T) {
	v := StartVersityGW(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bucket := v.CreateBucket(t, "wire")
	user := v.CreateUser(t)
	v.GrantPut(t, bucket, user)
	client := v.S3(user)

	body := "parquet bytes"
	sum := sha256.Sum256([]byte(body))
	_, err := client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         aws.String(bucket),
		Key:            aws.String("a/b.parquet.gz"),
		Body:           strings.NewReader(body),
		ACL:            s3types.ObjectCannedACLBucketOwnerFullControl,
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(sum[:])),
	})
	if err != nil {
		t.Fatalf("PutObject with ACL and checksum: %v", err)
	}
	wrong := sha256.Sum256([]byte("other bytes"))
	_, err = client.PutObject(ctx, &s3.PutObjectInput{
		Bucket:         aws.String(bucket),
		Key:            aws.String("a/c.parquet.gz"),
		Body:           strings.NewReader(body),
		ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(wrong[:])),
	})
	if err == nil {
		t.Fatal("PutObject with a wrong SHA-256 checksum succeeded")
	}
	if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("a/b.parquet.gz")}); apiCode(err) != "AccessDenied" {
		t.Fatalf("user GetObject: %v, want AccessDenied", err)
	}
	got, err := v.Object(ctx, bucket, "a/b.parquet.gz")
	if err != nil || string(got) != body {
		t.Fatalf("root read back: %q, %v", got, err)
	}
	if _, err := v.Object(ctx, bucket, "a/c.parquet.gz"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("refused object: %v, want os.ErrNotExist", err)
	}
	keys, err := v.Keys(ctx, bucket)
	if err != nil || strings.Join(keys, ",") != "a/b.parquet.gz" {
		t.Fatalf("keys: %v, %v", keys, err)
	}
}
