package s3legacy

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/exportd/exportd/sdk"
)

// roleSessions holds the customer role's sessions, one credentials cache
// per session name, all assumed from the platform's own identity through
// one STS client. A cache refreshes its session before it expires, so an
// export may run longer than a session lives.
type roleSessions struct {
	s      *settings
	sts    *sts.Client
	tuning tuning

	mu     sync.Mutex
	caches map[string]aws.CredentialsProvider

	principalMu sync.Mutex
	principal   string
}

func newRoleSessions(s *settings, client *sts.Client, t tuning) *roleSessions {
	return &roleSessions{s: s, sts: client, tuning: t, caches: map[string]aws.CredentialsProvider{}}
}

// provider returns the cached credentials of session.
func (r *roleSessions) provider(session string) aws.CredentialsProvider {
	if r.tuning.credentials != nil {
		return r.tuning.credentials
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.caches[session]
	if !ok {
		assume := stscreds.NewAssumeRoleProvider(r.sts, r.s.RoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.ExternalID = aws.String(r.s.ExternalID)
			o.RoleSessionName = session
			o.Duration = r.tuning.sessionDuration
		})
		p = aws.NewCredentialsCache(assume, func(o *aws.CredentialsCacheOptions) {
			o.ExpiryWindow = r.tuning.refreshWindow
			o.ExpiryWindowJitterFrac = r.tuning.refreshJitter
		})
		r.caches[session] = p
	}
	return p
}

// retrieve returns the session's credentials, assuming the role if the
// cache holds none fresh enough, with the error classified.
func (r *roleSessions) retrieve(ctx context.Context, session string) (aws.Credentials, error) {
	c, err := r.provider(session).Retrieve(ctx)
	if err != nil {
		return c, r.classify(ctx, err)
	}
	return c, nil
}

// assume assumes the role once, bypassing the caches, so that Check tests
// the trust policy as it is now.
func (r *roleSessions) assume(ctx context.Context, session string) (*sts.AssumeRoleOutput, error) {
	out, err := r.sts.AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn:         aws.String(r.s.RoleARN),
		RoleSessionName: aws.String(session),
		ExternalId:      aws.String(r.s.ExternalID),
		DurationSeconds: aws.Int32(int32(r.tuning.sessionDuration / time.Second)),
	})
	if err != nil {
		return nil, r.classify(ctx, err)
	}
	return out, nil
}

// platformPrincipal names the platform's own identity as a trust policy's
// Principal would, or says it is unknown. STS answers GetCallerIdentity
// whatever the identity's policies; the answer is cached.
func (r *roleSessions) platformPrincipal(ctx context.Context) string {
	r.principalMu.Lock()
	defer r.principalMu.Unlock()
	if r.principal == "" {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		out, err := r.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			return "the platform's AWS identity"
		}
		r.principal = principalARN(aws.ToString(out.Arn))
	}
	return r.principal
}

var assumedRole = regexp.MustCompile(`^arn:([a-z-]+):sts::(\d{12}):assumed-role/([^/]+)/.+$`)

// principalARN turns the ARN of a role session into the role's ARN, which
// is what a trust policy names. (A role's path, if any, is not part of the
// session ARN; the message says so by writing it without one.)
func principalARN(arn string) string {
	if m := assumedRole.FindStringSubmatch(arn); m != nil {
		return fmt.Sprintf("arn:%s:iam::%s:role/%s", m[1], m[2], m[3])
	}
	return arn
}

// platformCredentials is the platform's own identity, as the default
// chain finds it. Its failures are told apart from STS's: an instance
// metadata service that cannot be reached is not STS that cannot be.
type platformCredentials struct{ aws.CredentialsProvider }

func (p platformCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	c, err := p.CredentialsProvider.Retrieve(ctx)
	if err != nil {
		return c, &noPlatformIdentityError{err: err}
	}
	return c, nil
}

// noPlatformIdentityError says that the platform's own credentials could
// not be found. It does not unwrap: the chain already tried its sources
// (and retried the metadata service), so the network errors inside must
// not make STS's retryer send the request again.
type noPlatformIdentityError struct{ err error }

func (e *noPlatformIdentityError) Error() string { return e.err.Error() }

// classify turns an STS failure into an error saying what to fix.
func (r *roleSessions) classify(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("assume role %s: %w", r.s.RoleARN, ctx.Err())
	}
	var noID *noPlatformIdentityError
	if errors.As(err, &noID) {
		return sdk.Retryable(fmt.Errorf(
			"assume role %s: cannot obtain the platform's own AWS credentials from the environment, shared config or instance role (exportd passes environment variables to a plugin only when its plugin block names them, e.g. env = [\"AWS_*\"]): %w",
			r.s.RoleARN, err))
	}
	var api smithy.APIError
	if !errors.As(err, &api) {
		var send *smithyhttp.RequestSendError
		if errors.As(err, &send) {
			return sdk.Retryable(fmt.Errorf("assume role %s: cannot reach STS: %w", r.s.RoleARN, err))
		}
		return sdk.Retryable(fmt.Errorf("assume role %s: %w", r.s.RoleARN, err))
	}
	profileAttr := ""
	if r.s.Profile != "" {
		profileAttr = "profile"
	}
	switch code := api.ErrorCode(); {
	case code == "AccessDenied":
		return sdk.ConfigError("role_arn", fmt.Errorf(
			"the platform may not assume role %s: the role's trust policy must allow sts:AssumeRole to %s with the condition StringEquals sts:ExternalId = %q, and the platform's identity needs sts:AssumeRole on the role: %w",
			r.s.RoleARN, r.platformPrincipal(ctx), r.s.ExternalID, err))
	case code == "InvalidClientTokenId", code == "SignatureDoesNotMatch", code == "UnrecognizedClientException",
		code == "IncompleteSignature", code == "ExpiredToken", code == "InvalidAccessKeyId":
		return sdk.PlatformError(profileAttr, fmt.Errorf(
			"STS refused the platform's own AWS credentials (%s): fix the identity the daemon runs with (environment, shared profile, instance role): %w", code, err))
	case code == "RegionDisabledException":
		return sdk.ConfigError("region", fmt.Errorf(
			"STS is not activated in this region for the platform's AWS account: activate it, or point sts_endpoint at another region: %w", err))
	case isThrottle(code) || httpStatus(err) >= 500:
		return sdk.Retryable(fmt.Errorf("assume role %s: %w", r.s.RoleARN, err))
	}
	return sdk.ConfigError("", fmt.Errorf("assume role %s: %w", r.s.RoleARN, err))
}
