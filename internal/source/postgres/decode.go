package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"

	"github.com/exportd/exportd/internal/source"
)

// PostgreSQL's binary formats count from 2000-01-01; parquet's from
// 1970-01-01.
const (
	epochShiftDays   = 10957
	epochShiftMicros = epochShiftDays * 86400 * 1_000_000
)

// rowDecoder turns rows of raw binary values into RowWriter calls. It owns
// the scratch space of the conversions, so a row costs no allocation.
type rowDecoder struct {
	plans []plan
	w     source.RowWriter
	big   big.Int
	words []big.Word
	text  []byte
}

var (
	errMultiDim  = errors.New("is a multi-dimensional array; this column is a one-dimensional LIST (select array_to_json(col) in a table query to export it as JSON)")
	errNaN       = errors.New("is NaN, which DECIMAL cannot hold (select NULLIF(col, 'NaN') in a table query, or use unconstrained_numeric = \"string\" on an unconstrained column)")
	errInfinite  = errors.New("is ±Infinity, which DECIMAL cannot hold")
	errMalformed = errors.New("has a malformed binary value")
)

// row writes one row. Its error names the column at fault (by index; the
// caller knows the names).
func (d *rowDecoder) row(vals [][]byte) (int, error) {
	for i := range d.plans {
		if err := d.value(&d.plans[i], vals[i]); err != nil {
			return i, err
		}
	}
	return -1, d.w.EndRow()
}

func (d *rowDecoder) value(p *plan, b []byte) error {
	w := d.w
	if b == nil {
		w.Null()
		return nil
	}
	switch p.dec {
	case decText:
		w.Bytes(b)
	case decJSONB:
		if len(b) < 1 || b[0] != 1 {
			return fmt.Errorf("%w (jsonb version %v)", errMalformed, b[:min(len(b), 1)])
		}
		w.Bytes(b[1:])
	case decBytes:
		w.Bytes(b)
	case decBool:
		if len(b) != 1 {
			return errMalformed
		}
		w.Bool(b[0] != 0)
	case decInt2:
		if len(b) != 2 {
			return errMalformed
		}
		w.Int32(int32(int16(binary.BigEndian.Uint16(b))))
	case decInt4:
		if len(b) != 4 {
			return errMalformed
		}
		w.Int32(int32(binary.BigEndian.Uint32(b)))
	case decInt8:
		if len(b) != 8 {
			return errMalformed
		}
		w.Int64(int64(binary.BigEndian.Uint64(b)))
	case decOID:
		if len(b) != 4 {
			return errMalformed
		}
		w.Int64(int64(binary.BigEndian.Uint32(b)))
	case decFloat4:
		if len(b) != 4 {
			return errMalformed
		}
		w.Float32(math.Float32frombits(binary.BigEndian.Uint32(b)))
	case decFloat8:
		if len(b) != 8 {
			return errMalformed
		}
		w.Float64(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case decDate:
		if len(b) != 4 {
			return errMalformed
		}
		v := int32(binary.BigEndian.Uint32(b))
		if v != math.MaxInt32 && v != math.MinInt32 {
			// PostgreSQL's last date is 5874897-12-31, day 2145031948
			// after 2000: the shift cannot overflow.
			v += epochShiftDays
		}
		w.Int32(v) // ±infinity keep their sentinels
	case decTime:
		if len(b) != 8 {
			return errMalformed
		}
		w.Int64(int64(binary.BigEndian.Uint64(b)))
	case decTimestamp:
		if len(b) != 8 {
			return errMalformed
		}
		v := int64(binary.BigEndian.Uint64(b))
		if v != math.MaxInt64 && v != math.MinInt64 {
			if v > math.MaxInt64-epochShiftMicros {
				return errors.New("is after 294247-01-10, the last instant parquet's TIMESTAMP(MICROS) can hold")
			}
			v += epochShiftMicros
		}
		w.Int64(v) // ±infinity keep their sentinels
	case decUUID:
		if len(b) != 16 {
			return errMalformed
		}
		w.Fixed(b)
	case decDecimal:
		return d.decimal(p, b)
	case decNumericText:
		n, err := parseNumeric(b)
		if err != nil {
			return err
		}
		d.text = n.appendText(d.text[:0])
		w.Bytes(d.text)
	case decList:
		return d.list(p, b)
	default:
		return fmt.Errorf("no decoder %d", p.dec)
	}
	return nil
}

// list decodes a one-dimensional array: a header of ndim, has-nulls flag,
// element type and (length, lower bound) per dimension, then each element
// as a length (-1 for NULL) and its bytes. The lower bound is dropped: a
// LIST has none.
func (d *rowDecoder) list(p *plan, b []byte) error {
	if len(b) < 12 {
		return errMalformed
	}
	ndim := int32(binary.BigEndian.Uint32(b))
	elemOID := binary.BigEndian.Uint32(b[8:])
	switch {
	case ndim == 0: // PostgreSQL's empty array has no dimensions
		d.w.BeginList(0)
		d.w.EndList()
		return nil
	case ndim > 1:
		return errMultiDim
	case ndim < 0 || len(b) < 20:
		return errMalformed
	case elemOID != p.elemOID:
		return fmt.Errorf("%w (array of type %d, want %d)", errMalformed, elemOID, p.elemOID)
	}
	n := int(int32(binary.BigEndian.Uint32(b[12:])))
	if n < 0 || n > len(b) {
		return errMalformed
	}
	b = b[20:]
	d.w.BeginList(n)
	for range n {
		if len(b) < 4 {
			return errMalformed
		}
		l := int(int32(binary.BigEndian.Uint32(b)))
		b = b[4:]
		var v []byte
		if l >= 0 {
			if l > len(b) {
				return errMalformed
			}
			v, b = b[:l:l], b[l:]
		}
		if err := d.value(p.elem, v); err != nil {
			return err
		}
	}
	d.w.EndList()
	return nil
}
