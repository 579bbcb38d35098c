package sdk

import (
	"context"
	"time"
)

// Plugin is what a destination plugin's main package implements and passes
// to [Serve]. One plugin process serves many configured destinations.
type Plugin interface {
	// Schema describes the plugin and the attributes its destinations take.
	// It is called once, before any Configure, and must not fail for lack
	// of configuration.
	Schema() Schema

	// Configure validates one destination's configuration and returns it
	// ready for use. It does no network I/O that can be avoided: Check is
	// the place for that. A bad attribute is reported with [ConfigError].
	Configure(ctx context.Context, d DestinationInfo, cfg Config) (Destination, error)
}

// DestinationInfo names a destination at Configure.
type DestinationInfo struct {
	// Name is the operator's name for the destination, unique in the
	// daemon's configuration.
	Name string
	// Account is the account whose dumps the destination receives.
	Account string
}

// Destination is one configured destination, such as one customer's bucket.
// Its methods may be called concurrently.
type Destination interface {
	// Check verifies cheaply that the destination is reachable with its
	// credentials and returns a one-line verdict.
	Check(ctx context.Context) (string, error)

	// Begin starts an export. The returned Export receives the export's
	// files and is then committed or aborted.
	Begin(ctx context.Context, info ExportInfo) (Export, error)
}

// Export is one export of a dump to one destination.
type Export interface {
	// Put delivers one finished file and returns once it is durably
	// stored. Put is called concurrently for different files; it must not
	// modify or delete the file at f.Path.
	Put(ctx context.Context, f File) error

	// Commit is called once after every file of every table was Put
	// successfully. It makes the dump visible to consumers and returns the
	// receipt it wrote. The receipt must be a function of the export time,
	// the manifest and the destination's configuration only, so that a
	// recommit (see [ExportInfo].Recommit) writes the same bytes again.
	Commit(ctx context.Context, m Manifest) (Receipt, error)

	// Abort gives the export up. It never makes the dump visible. It may be
	// called after a failed Commit and must be safe to call more than once.
	Abort(ctx context.Context) error
}

// ExportInfo describes an export at Begin.
type ExportInfo struct {
	// ID identifies this export attempt uniquely, for logs.
	ID      string
	Account string
	RunID   string

	// Time is the export time T that names the dump, in UTC with
	// microsecond precision.
	Time time.Time

	// Tables lists the tables of the dump in order.
	Tables []string

	// PreviousTime is the export time of this destination's previous
	// committed dump, zero when there is none. The daemon guarantees that
	// Time is in a later minute, so that two dumps never share a folder
	// and a receipt never goes back in time.
	PreviousTime time.Time

	// Recommit is set when every file of the dump at Time was delivered by
	// an earlier attempt that died around its Commit, so that the receipt
	// may or may not have been written. Nothing is Put: Commit receives
	// the earlier attempt's manifest and must write the same receipt, byte
	// for byte, unless a receipt of a later dump is already visible, which
	// it must never replace.
	Recommit bool

	// ExporterVersion is the version of the exportd daemon running the
	// export, for receipts or manifests that say what wrote them. Empty
	// when the daemon does not send it.
	ExporterVersion string
}

// File is one finished parquet file in the daemon's spool.
type File struct {
	Table string
	// Index is 0-based and contiguous within a table.
	Index int
	// Path is the file's absolute path in the spool.
	Path string
	Size int64
	Rows int64
	// SHA256 is the SHA-256 digest of the file's bytes.
	SHA256 []byte
}

// Manifest summarises a finished dump at Commit.
type Manifest struct {
	Tables []TableManifest
}

// TableManifest is one table of a [Manifest].
type TableManifest struct {
	Name  string
	Files int
	Rows  int64
	Bytes int64

	// Carried is zero for a table whose files this export delivered. It is
	// set for a table that was not exported again (a re-export of some
	// tables only): the table's files are those of the earlier committed
	// dump exported at Carried, always in an earlier minute than this
	// export's time, and the receipt must name them. A carried table is not
	// among [ExportInfo].Tables and receives no Put.
	Carried time.Time

	// Columns is the table's parquet schema: its top-level columns in
	// file order. FileList is every file of the table by index, as the
	// daemon encoded it; on a recommit too, so that a plugin can describe
	// the dump (a manifest of sizes and digests, say) without reading
	// anything back. When FileList is set the SDK has checked it against
	// Files and, unless the export is a recommit, against the files Put.
	// Both are empty for a carried table and from daemons that do not
	// send them.
	Columns  []Column
	FileList []ManifestFile
}

// Column is one top-level column of a table's parquet schema.
type Column struct {
	Name string
	// Type is the column's type as a parquet reader prints it: the
	// physical type and, in parentheses, the logical type ("INT64",
	// "BYTE_ARRAY (STRING)", "INT64 (TIMESTAMP(MICROS,true))",
	// "FIXED_LEN_BYTE_ARRAY (DECIMAL(38,9))"); a list is
	// "LIST<element type>".
	Type string
}

// ManifestFile is one file of a table in a [TableManifest].
type ManifestFile struct {
	Index int
	Size  int64
	Rows  int64
	// SHA256 is the SHA-256 digest of the file's bytes.
	SHA256 []byte
}

// Receipt is what Commit wrote to make a dump visible.
type Receipt struct {
	// Location names where the receipt lives, e.g. s3://bucket/receipt.json.
	Location string
	// Body is the receipt's bytes exactly as written.
	Body []byte
}
