package parquetw

import (
	"errors"
	"fmt"
)

// ErrMisuse is wrapped by every error that reports RowWriter calls not
// fitting the table: a call of the wrong kind for its column, too few or too
// many values in a row, a value out of its column's range, list calls out of
// order. Such an error means a bug in the source, not a passing condition.
var ErrMisuse = errors.New("row does not fit the table")

// ErrFileTooLarge is wrapped by the error of a table whose file came out
// larger than Options.MaxFileSize: its destinations could not take it.
var ErrFileTooLarge = errors.New("file larger than its destinations take")

// ErrClosed is returned by calls on a TableWriter after Close or Abort.
var ErrClosed = errors.New("table writer closed")

// MisuseError locates a misuse: the table, the 0-based row and the column.
type MisuseError struct {
	Table  string
	Row    int64
	Column string // empty when the problem is the row as a whole
	Reason string
}

func (e *MisuseError) Error() string {
	if e.Column == "" {
		return fmt.Sprintf("table %s: row %d: %s", e.Table, e.Row, e.Reason)
	}
	return fmt.Sprintf("table %s: row %d: column %s: %s", e.Table, e.Row, e.Column, e.Reason)
}

// Unwrap makes errors.Is(err, ErrMisuse) true.
func (e *MisuseError) Unwrap() error { return ErrMisuse }
