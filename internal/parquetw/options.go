package parquetw

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/compress/gzip"
	"github.com/parquet-go/parquet-go/compress/snappy"
	"github.com/parquet-go/parquet-go/compress/zstd"
)

// Compression names the codec applied to every column chunk.
type Compression string

// The supported codecs. GZIP is the default: the layout the destinations
// deliver (files named .parquet.gz) promises GZIP column chunks.
const (
	Gzip         Compression = "gzip"
	Snappy       Compression = "snappy"
	Zstd         Compression = "zstd"
	Uncompressed Compression = "none"
)

// Defaults applied to zero-valued [Options] fields.
const (
	DefaultCompression    = Gzip
	DefaultTargetFileSize = 128 << 20
	DefaultRowGroupRows   = 1 << 20
	DefaultRowGroupBytes  = 32 << 20
	DefaultPageBufferSize = 512 << 10
	// DefaultMaxLanes caps the lanes chosen when Options.Lanes is 0.
	DefaultMaxLanes = 2
)

// maxLanes bounds Options.Lanes: past a few lanes the one goroutine that
// builds the rows is the bottleneck, and each lane costs a row group of
// memory.
const maxLanes = 32

// dictionaryMaxBytes bounds a column's dictionary in a row group. A
// LowCardinality column whose dictionary outgrows it falls back to PLAIN
// pages for the rest of the row group: the hint was wrong, and memory stays
// bounded.
const dictionaryMaxBytes = 1 << 20

// Limits that Validate enforces. Anything outside them is a configuration
// mistake rather than a tuning choice.
const (
	minPageBufferSize = 4 << 10
	maxPageBufferSize = 64 << 20
)

// defaultBatchRows is how many rows a TableWriter gathers before handing
// them to the column writers. Larger batches amortise the per-call costs of
// the column writers; smaller ones keep pages close to their target size.
const defaultBatchRows = 1024

// defaultSoloBatches is how many batches a table fills before lanes other
// than the first start: until then the caller's goroutine encodes, as with
// one lane. A table of fewer rows (some 32k at 1024 rows a batch) is not
// worth the lanes' extra files: one file, rows in order, as with one lane.
const defaultSoloBatches = 32

// batchArenaBytes caps the bytes of string and binary values gathered in one
// batch, so wide rows flush earlier than defaultBatchRows.
const batchArenaBytes = 4 << 20

// Options tune how a [TableWriter] encodes. The zero value is valid and
// means every default.
type Options struct {
	// Compression is the codec of every column chunk; "" means gzip.
	Compression Compression
	// CompressionLevel is the codec's level: 1 (fastest) to 9 for gzip,
	// 1 to 22 for zstd (mapped onto the encoder's four speeds). 0 means
	// the codec's default. Snappy and none take no level.
	CompressionLevel int

	// TargetFileSize is the size, in bytes actually written, at which a
	// file is finished and the next one started. A file ends with the row
	// group that brings its data to the target (the estimate errs high, so
	// data stays at or under it); the footer, a few KiB, comes on top.
	// 0 means 128 MiB.
	TargetFileSize int64

	// MaxFileSize, when set, is a size no file may exceed: where the files
	// go cannot take more (a destination's max object size). The target
	// is lowered to leave room under it (see TargetUnder); a file that
	// exceeds it all the same, when a row group of huge values crosses
	// the target, fails the table with ErrFileTooLarge rather than reach
	// a destination that would refuse it. 0 means no limit.
	MaxFileSize int64

	// RowGroupRows and RowGroupBytes bound a row group: it is flushed to
	// the file when it holds that many rows or when its buffered pages
	// (compressed, plus the pages being filled) reach that many bytes.
	// Together with PageBufferSize they bound the writer's memory.
	// 0 means 1Mi rows and 32 MiB.
	RowGroupRows  int64
	RowGroupBytes int64

	// PageBufferSize is the uncompressed size at which a column's page is
	// compressed and closed; every column may hold one such page. Larger
	// pages compress a little better (on an events table under gzip, 1 MiB
	// pages are 0.3% smaller than 512 KiB and 1.2% smaller than 256 KiB)
	// at the cost of memory. 0 means 512 KiB.
	PageBufferSize int

	// Lanes is how many goroutines encode and compress one table, each
	// into files of its own, while the caller's goroutine builds the rows.
	// 1 encodes on the caller's goroutine, rows in order across files.
	// With more, the lanes start once the table has filled 32 batches
	// (some 32k rows), so small tables are encoded as with one lane; past
	// that, batches of rows interleave across files (see [TableWriter]),
	// each lane ends with a file of its own, and memory grows with the
	// lanes: each holds a row group and a batch. 0 means
	// min(GOMAXPROCS, DefaultMaxLanes): one table can use two cores, the
	// gain measured on an events table, while an export that encodes
	// several big tables at once does not multiply its memory further.
	Lanes int

	// batchRows overrides defaultBatchRows; tests use it to get several
	// row groups or files out of few rows.
	batchRows int
	// soloBatches overrides defaultSoloBatches; negative means none, so
	// that tests start the lanes with the first batch.
	soloBatches int
}

// withDefaults returns o with every zero field set to its default.
func (o Options) withDefaults() Options {
	if o.Compression == "" {
		o.Compression = DefaultCompression
	}
	if o.TargetFileSize == 0 {
		o.TargetFileSize = DefaultTargetFileSize
	}
	if o.MaxFileSize > 0 {
		o.TargetFileSize = min(o.TargetFileSize, TargetUnder(o.MaxFileSize))
	}
	if o.RowGroupRows == 0 {
		o.RowGroupRows = DefaultRowGroupRows
	}
	if o.RowGroupBytes == 0 {
		o.RowGroupBytes = DefaultRowGroupBytes
	}
	if o.PageBufferSize == 0 {
		o.PageBufferSize = DefaultPageBufferSize
	}
	if o.batchRows == 0 {
		o.batchRows = defaultBatchRows
	}
	if o.soloBatches == 0 {
		o.soloBatches = defaultSoloBatches
	}
	if o.Lanes == 0 {
		o.Lanes = min(runtime.GOMAXPROCS(0), DefaultMaxLanes)
	}
	return o
}

// Validate reports every option that is out of range, each in its own
// line of the joined error. Zero fields are valid: they select defaults.
func (o Options) Validate() error {
	var errs []error
	switch o.Compression {
	case "", Gzip:
		if o.CompressionLevel != 0 && (o.CompressionLevel < gzip.BestSpeed || o.CompressionLevel > gzip.BestCompression) {
			errs = append(errs, fmt.Errorf("gzip compression level %d outside 1..9", o.CompressionLevel))
		}
	case Zstd:
		if o.CompressionLevel < 0 || o.CompressionLevel > 22 {
			errs = append(errs, fmt.Errorf("zstd compression level %d outside 1..22", o.CompressionLevel))
		}
	case Snappy, Uncompressed:
		if o.CompressionLevel != 0 {
			errs = append(errs, fmt.Errorf("compression %s takes no level (got %d)", o.Compression, o.CompressionLevel))
		}
	default:
		errs = append(errs, fmt.Errorf("unknown compression %q (want gzip, snappy, zstd or none)", string(o.Compression)))
	}
	if o.TargetFileSize < 0 {
		errs = append(errs, fmt.Errorf("target file size %d is negative", o.TargetFileSize))
	}
	if o.MaxFileSize < 0 {
		errs = append(errs, fmt.Errorf("max file size %d is negative", o.MaxFileSize))
	}
	if o.RowGroupRows < 0 {
		errs = append(errs, fmt.Errorf("row group rows %d is negative", o.RowGroupRows))
	}
	if o.RowGroupBytes < 0 {
		errs = append(errs, fmt.Errorf("row group bytes %d is negative", o.RowGroupBytes))
	}
	if o.PageBufferSize != 0 && (o.PageBufferSize < minPageBufferSize || o.PageBufferSize > maxPageBufferSize) {
		errs = append(errs, fmt.Errorf("page buffer size %d outside %d..%d bytes", o.PageBufferSize, minPageBufferSize, maxPageBufferSize))
	}
	if o.Lanes < 0 || o.Lanes > maxLanes {
		errs = append(errs, fmt.Errorf("lanes %d outside 1..%d (0 means automatic)", o.Lanes, maxLanes))
	}
	if o.batchRows < 0 {
		errs = append(errs, fmt.Errorf("batch rows %d is negative", o.batchRows))
	}
	return errors.Join(errs...)
}

// TargetUnder is the largest target file size whose files stay under
// limit bytes. A file ends with the batch that brings its estimated size
// to the target, so the file can pass the target by one batch (at most
// 1024 rows and 4 MiB of string and binary values, unless a single value
// is larger) and then takes its footer; the room left for both is a
// quarter of the limit, or 64 MiB plus a thirty-second of it when that is
// less (224 MiB under a 5 GiB limit).
func TargetUnder(limit int64) int64 {
	room := min(limit/4, 64<<20+limit/32)
	return max(limit-room, 1)
}

// codecKey identifies a configured codec. Codecs keep pools of compressors,
// so writers with the same settings share one codec value and its pool.
type codecKey struct {
	name  Compression
	level int
}

var (
	codecsMu sync.Mutex
	codecs   = map[codecKey]compress.Codec{}
)

// codec returns the shared codec for validated, defaulted options.
func (o Options) codec() compress.Codec {
	key := codecKey{o.Compression, o.CompressionLevel}
	codecsMu.Lock()
	defer codecsMu.Unlock()
	if c, ok := codecs[key]; ok {
		return c
	}
	var c compress.Codec
	switch o.Compression {
	case Gzip:
		level := o.CompressionLevel
		if level == 0 {
			level = gzip.DefaultCompression
		}
		c = &gzip.Codec{Level: level}
	case Zstd:
		c = &zstd.Codec{Level: zstdLevel(o.CompressionLevel)}
	case Snappy:
		c = &snappy.Codec{}
	default:
		c = &parquet.Uncompressed
	}
	codecs[key] = c
	return c
}

// zstdLevel maps a zstd command-line level onto the encoder's four speeds,
// the way the encoder's own documentation groups them.
func zstdLevel(level int) zstd.Level {
	switch {
	case level == 0:
		return zstd.DefaultLevel
	case level < 3:
		return zstd.SpeedFastest
	case level < 6:
		return zstd.SpeedDefault
	case level < 10:
		return zstd.SpeedBetterCompression
	default:
		return zstd.SpeedBestCompression
	}
}
