package postgres

import (
	"context"
	"fmt"

	"github.com/exportd/exportd/internal/schema"
	"github.com/jackc/pgx/v5"
)

// Built-in type OIDs (pg_type.dat); they are fixed across versions.
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidXML         = 142
	oidFloat4      = 700
	oidFloat8      = 701
	oidMoney       = 790
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidTimetz      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// pgType is the part of a pg_type row the mapping needs.
type pgType struct {
	oid      uint32
	name     string // format_type(oid, NULL), for messages
	typtype  byte   // b base, d domain, e enum, c composite, r range, m multirange, p pseudo
	category byte   // A array, S string, …
	base     uint32 // of a domain
	typmod   int32  // of a domain
	elem     uint32 // of an array
}

// loadTypes reads the pg_type rows of oids and of everything they are
// built from (domains' base types, arrays' element types), in one query.
func loadTypes(ctx context.Context, conn *pgx.Conn, oids []uint32) (map[uint32]pgType, error) {
	const q = `
WITH RECURSIVE t(oid) AS (
    SELECT unnest($1::oid[])
  UNION
    SELECT x FROM t
    JOIN pg_type p ON p.oid = t.oid
    CROSS JOIN LATERAL (VALUES (p.typbasetype), (CASE WHEN p.typcategory = 'A' THEN p.typelem ELSE 0 END)) v(x)
    WHERE x <> 0
)
SELECT p.oid, format_type(p.oid, NULL), p.typtype::text, p.typcategory::text,
       p.typbasetype, p.typtypmod, CASE WHEN p.typcategory = 'A' THEN p.typelem ELSE 0 END
FROM pg_type p JOIN t ON p.oid = t.oid`
	rows, err := conn.Query(ctx, q, oids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	types := make(map[uint32]pgType, len(oids))
	for rows.Next() {
		var t pgType
		var typtype, category string
		if err := rows.Scan(&t.oid, &t.name, &typtype, &category, &t.base, &t.typmod, &t.elem); err != nil {
			return nil, err
		}
		t.typtype, t.category = typtype[0], category[0]
		types[t.oid] = t
	}
	return types, rows.Err()
}

// decoder selects how a binary (or, for dec textual, text) value is turned
// into RowWriter calls.
type decoder uint8

const (
	decText        decoder = iota + 1 // bytes as they are: text, varchar, bpchar, name, enums, json
	decJSONB                          // version byte, then JSON text
	decBytes                          // bytea
	decBool                           // 1 byte
	decInt2                           // big-endian integers
	decInt4                           //
	decInt8                           //
	decOID                            // unsigned 32-bit
	decFloat4                         // IEEE 754, big-endian
	decFloat8                         //
	decDate                           // int32 days since 2000-01-01
	decTime                           // int64 µs since midnight
	decTimestamp                      // int64 µs since 2000-01-01
	decUUID                           // 16 bytes
	decDecimal                        // numeric → unscaled integer at plan.scale
	decNumericText                    // numeric → its exact text
	decList                           // one-dimensional array
)

// plan is how one column (or a list's element) is read.
type plan struct {
	dec       decoder
	precision int    // decDecimal
	scale     int    // decDecimal
	elemOID   uint32 // decList: the element type the array header must name
	elem      *plan  // decList
}

// mapper maps PostgreSQL types onto schema columns.
type mapper struct {
	types   map[uint32]pgType
	numeric numericChoice
}

// unsupportedError names a type that cannot be exported; the caller adds
// the table and column.
type unsupportedError struct {
	typ  string
	hint string
}

func (e *unsupportedError) Error() string {
	return fmt.Sprintf("type %s cannot be exported: %s", e.typ, e.hint)
}

const castHint = "select it cast to a supported type in a table query, e.g. col::text"

// column maps a result column of type oid and modifier typmod; textual
// tells whether the value must be requested in text format.
func (m *mapper) column(name string, oid uint32, typmod int32, nullable bool) (schema.Column, plan, bool, error) {
	c, p, textual, err := m.resolve(oid, typmod, true)
	c.Name, c.Nullable = name, nullable
	return c, p, textual, err
}

func (m *mapper) resolve(oid uint32, typmod int32, top bool) (schema.Column, plan, bool, error) {
	t, ok := m.types[oid]
	if !ok {
		return schema.Column{}, plan{}, false, &unsupportedError{typ: fmt.Sprintf("oid %d", oid), hint: "it is not in pg_type"}
	}
	switch t.typtype {
	case 'd':
		// A domain is exported as its base type; its own modifier
		// (numeric(10,2) say) applies unless the column has one.
		if typmod < 0 {
			typmod = t.typmod
		}
		return m.resolve(t.base, typmod, top)
	case 'e':
		// Enums travel as their labels.
		return schema.Column{Kind: schema.String, LowCardinality: true}, plan{dec: decText}, false, nil
	case 'b':
	default:
		return schema.Column{}, plan{}, false, &unsupportedError{typ: t.name, hint: "composite, range and pseudo types are not mapped; " + castHint}
	}
	if t.category == 'A' && t.elem != 0 {
		if !top {
			return schema.Column{}, plan{}, false, &unsupportedError{typ: t.name, hint: "arrays of arrays are not mapped"}
		}
		ec, ep, textual, err := m.resolve(t.elem, typmod, false)
		if err != nil {
			return schema.Column{}, plan{}, false, err
		}
		if textual {
			return schema.Column{}, plan{}, false, &unsupportedError{typ: t.name, hint: "its elements have no binary form this source reads; " + castHint}
		}
		ec.Nullable = true // any array element may be NULL
		return schema.Column{Kind: schema.List, Elem: &ec}, plan{dec: decList, elemOID: t.elem, elem: &ep}, false, nil
	}
	switch oid {
	case oidText, oidVarchar, oidBpchar, oidName, oidChar:
		return schema.Column{Kind: schema.String}, plan{dec: decText}, false, nil
	case oidJSON:
		return schema.Column{Kind: schema.JSON}, plan{dec: decText}, false, nil
	case oidJSONB:
		return schema.Column{Kind: schema.JSON}, plan{dec: decJSONB}, false, nil
	case oidBytea:
		return schema.Column{Kind: schema.Bytes}, plan{dec: decBytes}, false, nil
	case oidBool:
		return schema.Column{Kind: schema.Bool}, plan{dec: decBool}, false, nil
	case oidInt2:
		return schema.Column{Kind: schema.Int16}, plan{dec: decInt2}, false, nil
	case oidInt4:
		return schema.Column{Kind: schema.Int32}, plan{dec: decInt4}, false, nil
	case oidInt8:
		return schema.Column{Kind: schema.Int64}, plan{dec: decInt8}, false, nil
	case oidOID:
		return schema.Column{Kind: schema.Int64}, plan{dec: decOID}, false, nil
	case oidFloat4:
		return schema.Column{Kind: schema.Float32}, plan{dec: decFloat4}, false, nil
	case oidFloat8:
		return schema.Column{Kind: schema.Float64}, plan{dec: decFloat8}, false, nil
	case oidDate:
		return schema.Column{Kind: schema.Date}, plan{dec: decDate}, false, nil
	case oidTime:
		return schema.Column{Kind: schema.Time}, plan{dec: decTime}, false, nil
	case oidTimestamp:
		return schema.Column{Kind: schema.Timestamp}, plan{dec: decTimestamp}, false, nil
	case oidTimestamptz:
		return schema.Column{Kind: schema.Timestamp, UTC: true}, plan{dec: decTimestamp}, false, nil
	case oidUUID:
		return schema.Column{Kind: schema.UUID}, plan{dec: decUUID}, false, nil
	case oidNumeric:
		return m.numericColumn(typmod)
	case oidTimetz:
		return schema.Column{}, plan{}, false, &unsupportedError{typ: t.name, hint: "parquet has no time of day with an offset; " +
			"select (col AT TIME ZONE 'UTC')::time or col::text in a table query"}
	case oidInterval, oidMoney, oidXML:
		return schema.Column{}, plan{}, false, &unsupportedError{typ: t.name, hint: castHint}
	}
	if t.category == 'S' && top {
		// Other string types (citext, say) are read in text form.
		return schema.Column{Kind: schema.String}, plan{dec: decText}, true, nil
	}
	return schema.Column{}, plan{}, false, &unsupportedError{typ: t.name, hint: castHint}
}

// numericColumn maps numeric(p,s). PostgreSQL 15 allows a negative scale
// (numeric(5,-2) holds 1234500) and a scale above the precision
// (numeric(2,5) holds 0.00012); both become the DECIMAL that holds every
// value the column can: DECIMAL(p-s, 0) and DECIMAL(s, s).
func (m *mapper) numericColumn(typmod int32) (schema.Column, plan, bool, error) {
	if typmod >= 4 {
		p := int((typmod - 4) >> 16 & 0xffff)
		s := int(((typmod-4)&0x7ff)^1024) - 1024
		switch {
		case s < 0:
			p, s = p-s, 0
		case s > p:
			p = s
		}
		if p <= schema.MaxDecimalPrecision {
			return schema.Column{Kind: schema.Decimal, Precision: p, Scale: s}, plan{dec: decDecimal, precision: p, scale: s}, false, nil
		}
	}
	// Unconstrained, or wider than DECIMAL allows.
	if m.numeric.asDecimal {
		n := m.numeric
		return schema.Column{Kind: schema.Decimal, Precision: n.precision, Scale: n.scale},
			plan{dec: decDecimal, precision: n.precision, scale: n.scale}, false, nil
	}
	return schema.Column{Kind: schema.String}, plan{dec: decNumericText}, false, nil
}
