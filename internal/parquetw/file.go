package parquetw

import (
	"bufio"
	"crypto/sha256"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// File is one finished parquet file of a table.
type File struct {
	Table string
	// Index numbers the files of one table from 0, without gaps, in the
	// order they are delivered. It is given when the file is finished, so
	// with several lanes it says nothing of which rows the file holds.
	Index int
	// Path is the absolute path of the file in the writer's directory.
	Path string
	// Size is the file's length in bytes.
	Size int64
	// Rows is the number of rows in the file.
	Rows int64
	// SHA256 is the digest of the file's bytes, computed while writing.
	SHA256 []byte
}

// fileName is the name of a table's file with the given index. It only
// needs to be unique within the writer's directory: destinations name their
// objects themselves.
func fileName(table string, index int) string {
	return fmt.Sprintf("%s_%012d.parquet", table, index)
}

// partialSuffix marks a file still being written, so that a crash leaves
// files that cannot be mistaken for finished ones.
const partialSuffix = ".partial"

// output is the file being written: the parquet writer writes into it, and
// every byte goes to both the file and the digest, through one buffer.
type output struct {
	f       *os.File
	path    string // where the file is: its partial name until committed
	hash    hash.Hash
	buf     *bufio.Writer
	written int64 // bytes accepted, equal to the file's size once flushed
	// recycled: the file held an earlier file's bytes, which may run past
	// the new ones until close cuts them off.
	recycled bool
}

const outputBufferSize = 256 << 10

// teeFile writes to the file and feeds the digest.
type teeFile struct{ o *output }

func (t teeFile) Write(p []byte) (int, error) {
	n, err := t.o.f.Write(p)
	t.o.hash.Write(p[:n])
	return n, err
}

// createOutput creates the partial file of a table's file number seq.
// Partial files are numbered in the order they are opened, finished ones
// in the order they are delivered (see [output.commit]); with one lane the
// two orders are the same.
func createOutput(dir, table string, seq int64, reuse *bufio.Writer) (*output, error) {
	path := filepath.Join(dir, fileName(table, int(seq))) + partialSuffix
	if seq == 0 {
		// A file an earlier writer recycled, if there is one (see
		// Recycle), takes the partial name, so that the recycled name is
		// free again for the file this writer delivers first, and is
		// written over, then cut to its new length when closed: truncating
		// it to nothing first would make ext4 flush it to disk on close,
		// as it does for files replaced by truncation.
		if syscall.Rename(filepath.Join(dir, fileName(table, 0))+recycledSuffix, path) == nil {
			if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
				return newOutput(f, path, true, reuse), nil
			}
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o640)
	if err != nil {
		return nil, fmt.Errorf("create parquet file: %w", err)
	}
	return newOutput(f, path, false, reuse), nil
}

func newOutput(f *os.File, path string, recycled bool, reuse *bufio.Writer) *output {
	o := &output{f: f, path: path, hash: sha256.New(), recycled: recycled}
	if reuse != nil {
		reuse.Reset(teeFile{o})
		o.buf = reuse
	} else {
		o.buf = bufio.NewWriterSize(teeFile{o}, outputBufferSize)
	}
	return o
}

func (o *output) Write(p []byte) (int, error) {
	n, err := o.buf.Write(p)
	o.written += int64(n)
	return n, err
}

// close flushes and closes the file. It does not sync it: a spool file
// only has to outlive the process that writes it, and its readers (the
// plugins) see it through the page cache. A crash, of the process or of
// the machine, makes the export start again from a new spool, so syncing
// would buy nothing and costs a disk flush per file, which dominates the
// wall time of a small export.
func (o *output) close() error {
	if err := o.buf.Flush(); err != nil {
		return fmt.Errorf("write %s: %w", o.path, err)
	}
	if o.recycled {
		if err := o.f.Truncate(o.written); err != nil {
			return fmt.Errorf("truncate %s: %w", o.path, err)
		}
	}
	if err := o.f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", o.path, err)
	}
	o.f = nil
	return nil
}

// commit gives the closed file its final path (not durably: see close).
func (o *output) commit(path string) error {
	if err := os.Rename(o.path, path); err != nil {
		return fmt.Errorf("rename %s: %w", o.path, err)
	}
	o.path = path
	return nil
}

// Recycle takes back a delivered file whose bytes nobody needs any more.
// A table's first file, when small, keeps its inode under a name of its
// own, which the next writer of the same table in the same directory
// writes its first file into instead of creating one: on ext4, creating a file means searching the inode
// bitmap past every inode freed in the last seconds, which a burst of
// small exports made the largest part of their file system cost. No lane
// ever writes under that name, so a file recycled while the table's other
// lanes still write cannot be one of theirs. Other files are removed. It
// reports whether the file was kept.
func Recycle(f File) (kept bool, err error) {
	if f.Index == 0 && f.Size <= recycleMaxSize {
		// syscall.Rename: os.Rename would look the new name up first.
		if err := syscall.Rename(f.Path, f.Path+recycledSuffix); err == nil {
			return true, nil
		}
	}
	return false, os.Remove(f.Path)
}

// recycledSuffix marks a file kept by Recycle.
const recycledSuffix = ".recycled"

// recycleMaxSize bounds the disk space a recycled file holds until it is
// written again.
const recycleMaxSize = 256 << 10

// IsRecycled reports whether a spool directory's entry is a file kept by
// Recycle.
func IsRecycled(name string) bool { return strings.HasSuffix(name, recycledSuffix) }

// discard closes and removes the file, finished or not.
func (o *output) discard() {
	if o.f != nil {
		o.f.Close()
		o.f = nil
	}
	os.Remove(o.path)
}
