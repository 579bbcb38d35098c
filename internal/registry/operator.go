package registry

import "github.com/exportd/exportd/sdk"

// isOperatorOnly reports whether only the operator's HCL may set a: the
// registry refuses it, so that nothing reaching the API can set what the
// plugin keeps for the operator (s3legacy's external_id, whose default is
// the destination's account: no registration for account A can name the
// external ID a role set up for account B expects).
func isOperatorOnly(a *sdk.Attribute) bool { return a.OperatorOnly }
