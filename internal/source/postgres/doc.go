// Package postgres is the production source: source "postgres" reads one
// consistent snapshot of an account's tables from PostgreSQL and streams
// every row, decoded from the binary wire format, into the parquet writers.
//
// It owns the connection to the database, the snapshot protocol, the
// mapping from PostgreSQL types to [schema] kinds, and the classification
// of database failures into retryable, permanent and configuration errors.
// It knows nothing of parquet files, destinations, NATS or jobs.
//
// # Configuration
//
//	source "postgres" {
//	  dsn               = env("EXPORTD_PG_DSN")     # or dsn_file = "/etc/exportd/pg.dsn"
//	  schema            = "acct_${event.account_id}" # per event
//	  parallelism       = 4                          # concurrent table readers
//	  statement_timeout = "2h"                       # optional; bounds each table's read
//	  lock_timeout      = "30s"                      # optional; bounds waiting for table locks
//	  tables            = ["companies", "contacts", "events", "revenue", "revenue_attribution", "paid_ads"]
//	  unconstrained_numeric = "string"               # or "decimal(38,9)"
//	  max_value_size    = "64MiB"                    # the largest value read
//	  table "events" {
//	    # per event; runs with search_path = schema
//	    query = "SELECT * FROM events WHERE run = ${quote_literal(event.run_id)}"
//	  }
//	}
//
// dsn and dsn_file are read once, at startup, and may not refer to the
// event; the DSN is a keyword/value string or URL with every setting pgx
// accepts, TLS included (sslmode, sslrootcert, sslcert, sslkey, …). Its
// password never appears in an error or a log line. schema and the table
// queries are evaluated for each event. The event's snapshot field means
// nothing to this source by itself; expressions may use it (for a schema
// per modelling run, say).
//
// Event values reach SQL only in ways that cannot cross accounts, checked
// at startup (eventrefs.go): in schema as plain ${event.NAME}
// interpolations separated by a character no id holds, the result at most
// PostgreSQL's 63 bytes; in a table query only through quote_literal() and
// quote_ident(), HCL functions that quote as PostgreSQL's own do
// (quote.go).
//
// # Snapshot
//
// Open connects a coordinator, begins a REPEATABLE READ, READ ONLY
// transaction, takes ACCESS SHARE locks on the tables read with the
// default query (as pg_dump does, so no DDL can change them during the
// export), exports its snapshot with pg_export_snapshot(), and discovers
// every table's columns from the catalog (pg_attribute, pg_type, and the
// row description of the prepared query). Each ReadTable takes a reader
// connection from a pool of parallelism connections, begins its own
// REPEATABLE READ, READ ONLY transaction, imports the snapshot with SET
// TRANSACTION SNAPSHOT, and streams the query's rows. Every table of an
// export therefore reflects one instant. The coordinator stays in its
// transaction until the snapshot is closed, with
// idle_in_transaction_session_timeout disabled for its session.
//
// Rows are decoded as they arrive, straight into the RowWriter: memory is
// bounded by the largest row, never by the table. A value larger than
// max_value_size is refused before it is read (guard.go), failing the
// export with a permanent error that names the table, the row and the
// column.
//
// # Types
//
//	PostgreSQL                          exported as
//	text, varchar, char(n), name        String (char(n) keeps its padding)
//	other string types (citext, …)      String, read in text form
//	int2, int4, int8                    Int16, Int32, Int64
//	oid                                 Int64
//	float4, float8                      Float32, Float64 (NaN and ±Infinity kept)
//	bool                                Bool
//	numeric(p,s), p ≤ 38                Decimal(p,s); numeric(p,-s) → Decimal(p+s,0),
//	                                    numeric(p,s) with s > p → Decimal(s,s)
//	numeric, or numeric(p,s) with p>38  String holding the exact value as
//	                                    PostgreSQL prints it ("NaN", "Infinity" too),
//	                                    or, with unconstrained_numeric = "decimal(P,S)",
//	                                    Decimal(P,S), a value that does not fit failing
//	                                    the export
//	timestamptz                         Timestamp(MICROS, UTC-adjusted)
//	timestamp                           Timestamp(MICROS, not adjusted)
//	date                                Date
//	time                                Time(MICROS)
//	uuid                                UUID
//	json                                JSON, the text as stored
//	jsonb                               JSON, PostgreSQL's normalised text
//	bytea                               Bytes
//	enum                                String, dictionary-encoded
//	domain                              its base type (and the domain's modifier)
//	T[]                                 List of T: a 3-level LIST with nullable
//	                                    elements; an empty array is an empty list
//	T[][] (declared with ≥ 2 dims)      JSON text (array_to_json), which keeps nesting
//
// NOT NULL columns are required; every other column, and every column of a
// table query, is nullable. String columns that the planner's statistics
// (pg_stats.n_distinct, after ANALYZE) say hold at most 10000 distinct
// values are marked low-cardinality, so the writer dictionary-encodes them. NULLs are preserved everywhere, list elements
// included.
//
// Values that a faithful export cannot hold fail the table's read with a
// permanent error naming the table, the row and the column, rather than
// being changed: NaN (or ±Infinity) in a Decimal column, a value with more
// digits than an unconstrained_numeric decimal allows, a multi-dimensional
// value in a column declared one-dimensional, and a timestamp after
// 294247-01-10 (the last microsecond an INT64 counts from 1970). A table
// query can always cast such a column (NULLIF(x, 'NaN'), array_to_json(x),
// x::text).
//
// Timestamps and dates at ±infinity keep PostgreSQL's own sentinels:
// Timestamp ±infinity is the largest and smallest INT64
// (9223372036854775807 and -9223372036854775808 microseconds), Date
// ±infinity the largest and smallest INT32 days. DuckDB reads the largest as
// infinity; other readers see a date far beyond any real one. An array's
// lower bound ('[0:1]={7,8}') is dropped: a LIST has none.
//
// Other types (time with time zone, interval, money, xml, inet, cidr,
// macaddr, bit strings, geometric, range, composite and text-search types)
// are not mapped: Open fails with a configuration error naming the table,
// the column and its type, and suggesting a cast in a table query.
//
// # Errors
//
// Errors carry an [sdk.ErrorKind]. Retryable: lost connections, server
// shutdowns and restarts, statement and lock timeouts, serialization
// failures, resource exhaustion, a coordinator lost before a reader
// imported the snapshot. Configuration (attribute dsn): failed
// authentication, unknown database, unparseable DSN, a server certificate
// that does not verify; (attribute tables or
// the table's query): an unmappable column, a syntax or reference error in
// a table query. Permanent: a missing schema or table, missing privileges,
// values that cannot be exported faithfully.
package postgres
