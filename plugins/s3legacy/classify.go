package s3legacy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/exportd/exportd/sdk"
)

// classifyPut turns the failure of a PutObject of key, signed for region,
// into an error whose kind tells the daemon what to do and whose message
// tells the customer or operator what to fix.
func (d *destination) classifyPut(ctx context.Context, key, region string, err error) error {
	what := fmt.Sprintf("put s3://%s/%s", d.s.Bucket, key)
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	if stsErr := stsFailure(err); stsErr != nil {
		return d.sessions.classify(ctx, stsErr)
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		// Lost connections, timeouts: the SDK retried them already.
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
	}
	s := d.s
	code, msg := api.ErrorCode(), api.ErrorMessage()
	switch {
	case code == "AccessDenied" && s.KMSKeyARN != "" && strings.Contains(strings.ToLower(msg), "kms"):
		return sdk.ConfigError("kms_key_arn", fmt.Errorf(
			"role %s may not use KMS key %s: grant it kms:GenerateDataKey and kms:Decrypt on the key (and let the key policy allow it): %w",
			s.RoleARN, s.KMSKeyARN, err))
	case code == "AccessDenied":
		need := fmt.Sprintf("s3:PutObject and s3:PutObjectAcl on %s and %s", s.objectResource(), s.bucketResource())
		if s.KMSKeyARN != "" {
			need += fmt.Sprintf(", and kms:GenerateDataKey and kms:Decrypt on %s", s.KMSKeyARN)
		}
		return sdk.ConfigError("role_arn", fmt.Errorf(
			"role %s may not write to bucket %s: its permission policy must allow %s, and no bucket policy may deny them: %w",
			s.RoleARN, s.Bucket, need, err))
	case code == "NoSuchBucket":
		return sdk.ConfigError("bucket", fmt.Errorf("bucket %s does not exist: check its name, or create it: %w", s.Bucket, err))
	case code == "AllAccessDisabled" || code == "AccountProblem":
		return sdk.ConfigError("bucket", fmt.Errorf("bucket %s cannot be written to (%s): the bucket owner's account must resolve it with AWS: %w", s.Bucket, code, err))
	case code == "AccessControlListNotSupported":
		return sdk.ConfigError("acl", fmt.Errorf(
			"bucket %s has ACLs disabled and refuses the %s ACL: set acl = \"bucket-owner-full-control\" or \"none\": %w", s.Bucket, s.ACL, err))
	case isRegionError(code, err):
		if r := bucketRegion(err); r != "" {
			return sdk.ConfigError("region", fmt.Errorf("bucket %s is in region %s, not %s: set region = %q: %w", s.Bucket, r, region, r, err))
		}
		return sdk.ConfigError("region", fmt.Errorf("bucket %s is not in region %s: set region to the bucket's region: %w", s.Bucket, region, err))
	case strings.HasPrefix(code, "KMS.") || (s.KMSKeyARN != "" && code == "InvalidArgument" && strings.Contains(strings.ToLower(msg), "kms")):
		return sdk.ConfigError("kms_key_arn", fmt.Errorf(
			"S3 cannot encrypt with KMS key %s: check that it exists, is enabled, lives in the bucket's region and that its key policy lets the role use it: %w",
			s.KMSKeyARN, err))
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "InvalidToken":
		return sdk.Permanent(fmt.Errorf("%s: S3 refused the role session's credentials (%s); check endpoint and region: %w", what, code, err))
	case code == "ExpiredToken" || code == "TokenRefreshRequired" || code == "RequestTimeTooSkewed":
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
	case isThrottle(code) || httpStatus(err) >= 500 || retryableCodes[code]:
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
	case httpStatus(err) >= 400:
		return sdk.Permanent(fmt.Errorf("%s: %w", what, err))
	}
	return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
}

// retryableCodes are S3 error codes that a later attempt can cure. The SDK
// retries them within a Put, too (see newRetryer).
var retryableCodes = map[string]bool{
	"RequestTimeout":            true,
	"ServiceUnavailable":        true,
	"InternalError":             true,
	"OperationAborted":          true,
	"IncompleteBody":            true,
	"BadDigest":                 true, // bytes changed in transit: a resend cures it
	"XAmzContentSHA256Mismatch": true,
}

func isThrottle(code string) bool {
	switch code {
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
		"TooManyRequestsException", "RequestLimitExceeded", "BandwidthLimitExceeded",
		"RequestThrottled", "SlowDown", "PriorRequestNotComplete":
		return true
	}
	return false
}

// httpStatus is the status of the response that caused err, or 0.
func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// stsFailure finds, inside the error of an S3 call, a failure to assume
// the role while signing it.
func stsFailure(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if op, ok := e.(*smithy.OperationError); ok && op.ServiceID == "STS" {
			return op
		}
	}
	return nil
}

func isRegionError(code string, err error) bool {
	switch code {
	case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "AuthorizationQueryParametersError":
		return true
	}
	return httpStatus(err) == 301
}

var expectingRegion = regexp.MustCompile(`expecting '([a-z0-9-]+)'`)

// bucketRegion is the bucket's region as S3 revealed it when refusing a
// request sent to the wrong one, or "".
func bucketRegion(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		if r := re.Response.Header.Get("X-Amz-Bucket-Region"); regionPattern.MatchString(r) {
			return r
		}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if m := expectingRegion.FindStringSubmatch(api.ErrorMessage()); m != nil {
			return m[1]
		}
	}
	return ""
}
