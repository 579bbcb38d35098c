// Package parquetw encodes a table's rows into parquet files: the shared
// writers that serve every destination of an export ("encode once, deliver
// to many").
//
// It owns the mapping from [schema.Kind] to parquet physical and logical
// types ([Schema]), the [TableWriter] that receives rows through the
// source.RowWriter calls, batches them, bounds row groups, rotates files at a
// target size and hands each finished file to a delivery callback, and the
// [Options] that tune compression, file, row-group and page sizes, and how
// many lanes (goroutines, each writing files of its own) encode one table.
//
// It knows nothing of where rows come from (sources), where files go
// (destinations, plugins, S3 key layouts), NATS, HCL or jobs: a finished
// file is a path, a size, a row count and a SHA-256 handed to a callback.
// Memory use is bounded by [Options] (roughly a row group per lane), never
// by the number of rows.
package parquetw
