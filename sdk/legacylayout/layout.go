// Package legacylayout is the object layout and receipt of the AWS S3
// Legacy destination, shared by every destination that reproduces it (s3legacy
// into a bucket, localfs into a folder):
//
//	<folder>/receipt.json
//	<folder>/<T as 2006-01-02T15:04>/<table>/<table>_<12-digit index>.parquet.gz
//
// where T is the export time in UTC and folder is an optional prefix. The
// receipt is written last and names, for every table, the full key prefix of
// its files and how many there are.
package legacylayout

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/exportd/exportd/sdk"
)

// ReceiptName is the receipt's object name under the folder.
const ReceiptName = "receipt.json"

// FileSuffix ends every data file's name.
const FileSuffix = ".parquet.gz"

// Content types of the layout's objects, for stores that keep one. A
// .parquet.gz file is a plain parquet file with GZIP column chunks, not a
// gzip stream, so it takes no Content-Encoding. The receipt and the
// manifest are JSON.
const (
	ParquetContentType = "application/vnd.apache.parquet"
	JSONContentType    = "application/json"
)

// MinuteFormat names a dump's folder: the export time to the minute.
const MinuteFormat = "2006-01-02T15:04"

// TimestampFormat is the receipt's timestamp: RFC 3339 in UTC with exactly
// six fractional digits.
const TimestampFormat = "2006-01-02T15:04:05.000000Z"

// ObjectNameLimit is the longest object name, in bytes, that S3, Cloud
// Storage and Azure Blob Storage take (Azure counts characters, which are
// never more than bytes): the MaxKeyLen of a layout in any of them.
const ObjectNameLimit = 1024

// maxFolderLen leaves room under ObjectNameLimit for the longest file key
// below the folder.
const maxFolderLen = 700

// NormalizeFolder checks a configured folder prefix and returns it without
// leading or trailing slashes. The empty string means the bucket's root.
func NormalizeFolder(folder string) (string, error) {
	f := strings.Trim(folder, "/")
	if f == "" {
		return "", nil
	}
	if !utf8.ValidString(f) {
		return "", errors.New("folder is not valid UTF-8")
	}
	if len(f) > maxFolderLen {
		return "", fmt.Errorf("folder is longer than %d bytes", maxFolderLen)
	}
	for _, seg := range strings.Split(f, "/") {
		switch seg {
		case "":
			return "", fmt.Errorf("folder %q has an empty path segment", folder)
		case ".", "..":
			return "", fmt.Errorf("folder %q has a %q path segment", folder, seg)
		}
		for _, r := range seg {
			if r < 0x20 || r == 0x7f || r == '\\' {
				return "", fmt.Errorf("folder %q has a control character or backslash", folder)
			}
		}
	}
	return f, nil
}

// Layout computes the keys of one destination's dumps. Folder must be
// normalised with [NormalizeFolder].
type Layout struct {
	Folder string
	// MaxKeyLen is the store's longest key in bytes, which
	// [Layout.CheckTables] enforces; 0 means no limit.
	MaxKeyLen int
}

func (l Layout) join(rest string) string {
	if l.Folder == "" {
		return rest
	}
	return l.Folder + "/" + rest
}

// ReceiptKey is the key of the receipt.
func (l Layout) ReceiptKey() string { return l.join(ReceiptName) }

// DumpPrefix is the key prefix of the dump exported at t, without a
// trailing slash.
func (l Layout) DumpPrefix(t time.Time) string { return l.join(t.UTC().Format(MinuteFormat)) }

// TableFolder is the key prefix of one table's files in the dump exported
// at t, without a trailing slash: the receipt's "folder" value.
func (l Layout) TableFolder(t time.Time, table string) string {
	return l.DumpPrefix(t) + "/" + table
}

// FileKey is the key of one data file.
func (l Layout) FileKey(t time.Time, table string, index int) string {
	return fmt.Sprintf("%s/%s_%012d%s", l.TableFolder(t, table), table, index, FileSuffix)
}

// Receipt is the content of receipt.json.
type Receipt struct {
	Timestamp string                  `json:"timestamp"`
	Tables    map[string]ReceiptTable `json:"tables"`
}

// ReceiptTable is one table's entry in a [Receipt].
type ReceiptTable struct {
	Folder         string `json:"folder"`
	TotalFileCount int    `json:"total_file_count"`
}

// NewReceipt describes the dump exported at t with the files in m. A
// table the manifest carries over from an earlier dump (a re-export of
// other tables) keeps that dump's folder, so that the receipt always names
// a complete set of tables.
func (l Layout) NewReceipt(t time.Time, m sdk.Manifest) Receipt {
	r := Receipt{
		Timestamp: t.UTC().Format(TimestampFormat),
		Tables:    make(map[string]ReceiptTable, len(m.Tables)),
	}
	for _, tm := range m.Tables {
		at := t
		if !tm.Carried.IsZero() {
			at = tm.Carried
		}
		r.Tables[tm.Name] = ReceiptTable{Folder: l.TableFolder(at, tm.Name), TotalFileCount: tm.Files}
	}
	return r
}

// Marshal encodes the receipt as indented JSON with tables in name order,
// ending in a newline.
func (r Receipt) Marshal() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		panic(err) // only strings and ints: cannot fail
	}
	return buf.Bytes()
}

// ParseReceipt decodes a receipt and checks its timestamp.
func ParseReceipt(data []byte) (Receipt, time.Time, error) {
	var r Receipt
	if err := json.Unmarshal(data, &r); err != nil {
		return Receipt{}, time.Time{}, fmt.Errorf("parse receipt: %w", err)
	}
	t, err := time.Parse(time.RFC3339Nano, r.Timestamp)
	if err != nil {
		return Receipt{}, time.Time{}, fmt.Errorf("parse receipt timestamp: %w", err)
	}
	return r, t, nil
}
