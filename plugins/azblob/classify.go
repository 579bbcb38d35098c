package azblob

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/exportd/exportd/sdk"
)

// classify turns a failed request into an error whose kind tells the
// daemon what to do and whose message tells the customer or operator what
// to fix.
func (d *destination) classify(ctx context.Context, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s: %w", what, ctx.Err())
	}
	s := d.s
	var authErr *azidentity.AuthenticationFailedError
	if errors.As(err, &authErr) {
		return sdk.PlatformError(d.identityAttr(), fmt.Errorf("Microsoft Entra refused the platform's identity: %w", err))
	}
	var re *azcore.ResponseError
	isResponse := errors.As(err, &re)
	// azidentity marks "no credential available" errors as not worth
	// retrying, and exports no type for them.
	var final interface{ NonRetriable() }
	if !isResponse && errors.As(err, &final) {
		return sdk.PlatformError(d.identityAttr(), fmt.Errorf(
			"no Microsoft Entra identity is available to the platform (set AZURE_TENANT_ID, AZURE_CLIENT_ID and a secret or certificate, run with a managed identity, or use sas_token): %w", err))
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && dnsErr.IsNotFound {
		return sdk.ConfigError("storage_account", fmt.Errorf("storage account %s does not exist (%s has no address): %w", s.Account, dnsErr.Name, err))
	}
	if !isResponse {
		// Lost connections and timeouts, after the SDK's retries.
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
	}
	// The SDK's own message spans a dozen lines with the whole response;
	// the status and Azure's error code say it all.
	err = &responseError{re: re}
	code := re.ErrorCode
	switch {
	case strings.Contains(strings.ToLower(code+" "+err.Error()), "encryptionscope"):
		return sdk.ConfigError("encryption_scope", fmt.Errorf(
			"the storage account cannot write with encryption scope %s: it must exist in account %s and be enabled (and its Key Vault key usable): %w", s.EncryptionScope, s.Account, err))
	case re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized:
		return d.refused(code, err)
	case code == "ContainerNotFound":
		return sdk.ConfigError("container", fmt.Errorf("container %s does not exist in storage account %s: check its name: %w", s.Container, s.Account, err))
	case code == "AccountIsDisabled" || code == "ResourceNotFound" && re.StatusCode == http.StatusNotFound:
		return sdk.ConfigError("storage_account", fmt.Errorf("storage account %s cannot be written to: %w", s.Account, err))
	case code == "Md5Mismatch" || code == "Crc64Mismatch":
		// The bytes were verified before sending: they changed on the way.
		return sdk.Retryable(fmt.Errorf("%s: checksum mismatch in transit: %w", what, err))
	case re.StatusCode == http.StatusTooManyRequests || re.StatusCode == http.StatusRequestTimeout || re.StatusCode >= 500:
		return sdk.Retryable(fmt.Errorf("%s: %w", what, err))
	}
	return sdk.Permanent(fmt.Errorf("%s: %w", what, err))
}

// refused explains a 401 or 403. Azure words the same refusal in several
// ways (and Azurite answers AuthorizationFailure to every refused SAS), so
// for a SAS token the token's own permissions decide: one that holds
// create and write was refused as a credential.
func (d *destination) refused(code string, err error) error {
	s := d.s
	if s.SAS != nil {
		sp := s.SAS.Get("sp")
		lacks := !strings.Contains(sp, "c") || !strings.Contains(sp, "w")
		// A token bound to a stored access policy carries no permissions
		// of its own: the service's word decides.
		if sp == "" {
			lacks = code == "AuthorizationPermissionMismatch"
		}
		if lacks {
			return sdk.ConfigError("sas_token", d.permissionError(err))
		}
		return sdk.ConfigError("sas_token", fmt.Errorf("storage account %s did not accept the SAS token%s: %w", s.Account, d.sasHint(code), err))
	}
	switch code {
	case "AuthenticationFailed", "InvalidAuthenticationInfo", "NoAuthenticationInformation":
		return sdk.ConfigError(d.identityAttr(), fmt.Errorf("storage account %s did not accept the platform's Microsoft Entra token (wrong tenant?): %w", s.Account, err))
	}
	return sdk.ConfigError("container", d.permissionError(err))
}

// identityAttr names the attribute that selects the platform's identity.
func (d *destination) identityAttr() string {
	switch {
	case d.s.ClientID != "":
		return "client_id"
	case d.s.TenantID != "":
		return "tenant_id"
	}
	return ""
}

// sasHint explains a refused SAS token by its own fields, which the
// service does not echo: its expiry and its permissions.
func (d *destination) sasHint(code string) string {
	q := d.s.SAS
	var hints []string
	if se, err := time.Parse(time.RFC3339, q.Get("se")); err == nil && se.Before(time.Now()) {
		hints = append(hints, "it expired at "+se.UTC().Format(time.RFC3339))
	}
	if st, err := time.Parse(time.RFC3339, q.Get("st")); err == nil && st.After(time.Now()) {
		hints = append(hints, "it is valid only from "+st.UTC().Format(time.RFC3339))
	}
	if len(hints) == 0 {
		hint := "it is not signed by a current key of this account, or was issued for another container or account"
		if code == "AuthorizationFailure" {
			hint += ", or the account's network rules do not admit the platform"
		}
		hints = append(hints, hint)
	}
	return " (" + strings.Join(hints, "; ") + ")"
}

func (d *destination) permissionError(err error) error {
	s := d.s
	if s.SAS != nil {
		perms := fmt.Sprintf("its permissions are %q", s.SAS.Get("sp"))
		if s.SAS.Get("sp") == "" {
			perms = fmt.Sprintf("check the permissions of its stored access policy %q", s.SAS.Get("si"))
		}
		return fmt.Errorf("the SAS token may not create and write blobs in container %s (%s; issue a container SAS with sp=cw): %w",
			s.Container, perms, err)
	}
	return fmt.Errorf("the platform's identity may not write blobs in container %s of storage account %s: the customer must assign it a role with the data action Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write on the container (a custom role, or Storage Blob Data Contributor): %w",
		s.Container, s.Account, err)
}

// responseError is a compact rendering of an Azure Storage error answer.
type responseError struct{ re *azcore.ResponseError }

func (e *responseError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.re.StatusCode, e.re.ErrorCode)
}

func (e *responseError) Unwrap() error { return e.re }
