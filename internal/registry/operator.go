package registry

import "github.com/exportd/exportd/sdk"

// isOperatorOnly reports whether only the operator's HCL may set a.
// TEMPORARY until sdk.Attribute.OperatorOnly lands on main.
func isOperatorOnly(a *sdk.Attribute) bool { return false }
