package legacylayout

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/exportd/exportd/sdk"
)

// ManifestName is the verifiable manifest's object name inside a dump's
// minute folder: <folder>/<T>/_manifest.json. It starts with an
// underscore so that loaders globbing a table's *.parquet.gz files, or
// tools that skip "hidden" objects, never take it for data.
const ManifestName = "_manifest.json"

// ManifestFormatVersion is the format of the manifests this package
// writes. A change that could break a reader of the keys below gets a new
// version; adding keys does not.
const ManifestFormatVersion = 1

// ManifestKey is the key of the manifest of the dump exported at t.
func (l Layout) ManifestKey(t time.Time) string { return l.DumpPrefix(t) + "/" + ManifestName }

// Manifest is the content of _manifest.json: everything a loader needs to
// verify a dump before loading it. It is written after every data file of
// the dump and before the receipt, so a loader triggered by the receipt
// always finds it.
type Manifest struct {
	FormatVersion int `json:"format_version"`
	// ExporterVersion is the version of the exportd daemon that exported
	// the dump.
	ExporterVersion string `json:"exporter_version"`
	Account         string `json:"account"`
	RunID           string `json:"run_id"`
	// Timestamp is T, exactly as the receipt writes it.
	Timestamp string                   `json:"timestamp"`
	Tables    map[string]ManifestTable `json:"tables"`
}

// ManifestTable is one table of a [Manifest]. Folder and TotalFileCount
// are the receipt's. For a table this dump delivered, Columns is its
// parquet schema and Files lists every file. A table carried over from an
// earlier dump (a re-export of other tables) lists no files: CarriedFrom
// is the key of that dump's manifest, which lists them (if that dump was
// written with a manifest).
type ManifestTable struct {
	Folder         string           `json:"folder"`
	TotalFileCount int              `json:"total_file_count"`
	Rows           int64            `json:"rows"`
	Bytes          int64            `json:"bytes"`
	Columns        []ManifestColumn `json:"columns,omitempty"`
	Files          []ManifestFile   `json:"files,omitempty"`
	CarriedFrom    string           `json:"carried_from,omitempty"`
}

// ManifestColumn is one top-level column of a table's parquet schema,
// with its type as a parquet reader prints it (see [sdk.Column]).
type ManifestColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// ManifestFile is one data file: its full key, size in bytes, rows, and
// the SHA-256 of its bytes in lower-case hex (what sha256sum prints).
type ManifestFile struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// ErrNoFileList is returned by NewManifest when a table the dump delivered
// comes without its file list: a daemon too old to send it.
var ErrNoFileList = errors.New("the daemon sent no file list for the table (an exportd older than the manifest); upgrade exportd or set manifest = false")

// NewManifest describes the dump exported at t with the tables of m, for
// the export info. It needs every delivered table's FileList, which the
// daemon sends on every Commit, a recommit's too; a carried table points
// at the manifest of the dump that holds its files.
func (l Layout) NewManifest(info sdk.ExportInfo, m sdk.Manifest) (Manifest, error) {
	out := Manifest{
		FormatVersion:   ManifestFormatVersion,
		ExporterVersion: info.ExporterVersion,
		Account:         info.Account,
		RunID:           info.RunID,
		Timestamp:       info.Time.UTC().Format(TimestampFormat),
		Tables:          make(map[string]ManifestTable, len(m.Tables)),
	}
	for _, tm := range m.Tables {
		mt := ManifestTable{TotalFileCount: tm.Files, Rows: tm.Rows, Bytes: tm.Bytes}
		if !tm.Carried.IsZero() {
			mt.Folder = l.TableFolder(tm.Carried, tm.Name)
			mt.CarriedFrom = l.ManifestKey(tm.Carried)
			out.Tables[tm.Name] = mt
			continue
		}
		if len(tm.FileList) != tm.Files {
			return Manifest{}, fmt.Errorf("table %s: %w", tm.Name, ErrNoFileList)
		}
		mt.Folder = l.TableFolder(info.Time, tm.Name)
		for _, c := range tm.Columns {
			mt.Columns = append(mt.Columns, ManifestColumn{Name: c.Name, Type: c.Type})
		}
		for _, f := range tm.FileList {
			mt.Files = append(mt.Files, ManifestFile{
				Key: l.FileKey(info.Time, tm.Name, f.Index), Size: f.Size, Rows: f.Rows, SHA256: hex.EncodeToString(f.SHA256),
			})
		}
		out.Tables[tm.Name] = mt
	}
	return out, nil
}

// ManifestBody is the manifest of the dump of info and m, marshalled, for
// a destination that writes one: what it writes at ManifestKey after the
// data files and before the receipt. A daemon that sends no file lists
// cannot have a manifest written (a configuration error naming the
// manifest attribute), except on a recommit, whose intent may have been
// too big to keep them (thousands of files): then the body is nil, and
// the manifest that the crashed attempt wrote before its receipt stays.
func (l Layout) ManifestBody(info sdk.ExportInfo, m sdk.Manifest) ([]byte, error) {
	man, err := l.NewManifest(info, m)
	switch {
	case err == nil:
		return man.Marshal(), nil
	case info.Recommit && errors.Is(err, ErrNoFileList):
		sdk.Logger().Warn("recommitting a dump whose file list the daemon did not keep; its manifest is left as the first attempt wrote it",
			"export_time", info.Time.UTC().Format(TimestampFormat))
		return nil, nil
	}
	return nil, sdk.ConfigError("manifest", err)
}

// Marshal encodes the manifest as indented JSON with tables in name
// order, ending in a newline: the same manifest always gives the same
// bytes.
func (m Manifest) Marshal() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		panic(err) // strings, numbers and slices of them: cannot fail
	}
	return buf.Bytes()
}

// ParseManifest decodes a manifest and checks its format version.
func ParseManifest(data []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return Manifest{}, fmt.Errorf("parse manifest: %w", err)
	}
	if m.FormatVersion != ManifestFormatVersion {
		return Manifest{}, fmt.Errorf("manifest format version %d; this reader knows %d", m.FormatVersion, ManifestFormatVersion)
	}
	return m, nil
}
