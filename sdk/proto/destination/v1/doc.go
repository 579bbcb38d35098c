// Package destinationv1 is the generated Go code of the exportd
// destination protocol, version 1 (destination.proto in this directory).
// Plugin authors use package sdk rather than this; it is here for
// implementations in other languages to compare against, and is
// regenerated with `make proto`.
package destinationv1
