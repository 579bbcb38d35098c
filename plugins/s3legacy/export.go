package s3legacy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/exportd/exportd/sdk"
)

// Content types of what the plugin writes. A .parquet.gz file is a plain
// parquet file with GZIP column chunks, not a gzip stream, so it gets no
// Content-Encoding.
const (
	parquetContentType = "application/vnd.apache.parquet"
	receiptContentType = "application/json"
)

type exportState int

const (
	stateOpen exportState = iota
	stateCommitted
	stateAborted
)

// export is one dump on its way into the bucket.
type export struct {
	d      *destination
	info   sdk.ExportInfo
	creds  aws.CredentialsProvider
	log    *slog.Logger
	tables map[string]bool

	mu        sync.Mutex
	state     exportState
	delivered map[string]map[int]bool
	// broken is the first configuration error a Put met. Every later Put
	// returns it at once: a denied role is reported once, not per file.
	broken error
}

var _ sdk.Export = (*export)(nil)

func newExport(d *destination, info sdk.ExportInfo, session string) *export {
	e := &export{
		d:         d,
		info:      info,
		creds:     d.sessions.provider(session),
		tables:    map[string]bool{},
		delivered: map[string]map[int]bool{},
		log: d.log.With("account", info.Account, "run_id", info.RunID, "export_id", info.ID,
			"dump", d.layout.DumpPrefix(info.Time)),
	}
	for _, t := range info.Tables {
		e.tables[t] = true
		e.delivered[t] = map[int]bool{}
	}
	return e
}

func (e *export) usable() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case e.state != stateOpen:
		return sdk.Permanent(errors.New("export is already committed or aborted"))
	case e.broken != nil:
		return e.broken
	}
	return nil
}

// Put verifies the spool file against the digest the daemon sent and
// stores it with one PutObject.
func (e *export) Put(ctx context.Context, f sdk.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.usable(); err != nil {
		return err
	}
	switch {
	case !e.tables[f.Table]:
		return sdk.Permanent(fmt.Errorf("file for table %q, which is not part of this export", f.Table))
	case f.Index < 0:
		return sdk.Permanent(fmt.Errorf("table %s: negative file index %d", f.Table, f.Index))
	case len(f.SHA256) != sha256.Size:
		return sdk.Permanent(fmt.Errorf("table %s file %d: SHA-256 digest has %d bytes", f.Table, f.Index, len(f.SHA256)))
	case f.Size > maxObjectSize:
		return sdk.Permanent(fmt.Errorf("table %s file %d has %d bytes, more than one PutObject takes (5 GiB): lower the parquet target file size",
			f.Table, f.Index, f.Size))
	}
	release, err := e.d.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()

	start := time.Now()
	file, err := os.Open(f.Path)
	if err != nil {
		return sdk.Retryable(fmt.Errorf("open spool file of %s file %d: %w", f.Table, f.Index, err))
	}
	defer file.Close()
	if err := verifySpool(ctx, file, f); err != nil {
		return err
	}
	key := e.d.layout.FileKey(e.info.Time, f.Table, f.Index)
	// A section reader is seekable, so every retry resends the same bytes.
	body := io.NewSectionReader(file, 0, f.Size)
	if err := e.d.put(ctx, e.creds, object{key: key, body: body, size: f.Size, sha256: f.SHA256, contentType: parquetContentType}); err != nil {
		if sdk.KindOf(err) == sdk.KindConfiguration {
			e.mu.Lock()
			if e.broken == nil {
				e.broken = err
			}
			e.mu.Unlock()
		}
		return err
	}
	e.mu.Lock()
	e.delivered[f.Table][f.Index] = true
	e.mu.Unlock()
	e.log.Debug("file delivered", "table", f.Table, "index", f.Index, "key", key, "bytes", f.Size,
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// verifySpool reads the whole file once and fails unless its size and
// SHA-256 are what the daemon sent: bytes that do not match are never
// uploaded. The digest then doubles as the upload's checksum.
func verifySpool(ctx context.Context, file *os.File, f sdk.File) error {
	fi, err := file.Stat()
	if err != nil {
		return sdk.Retryable(fmt.Errorf("stat spool file of %s file %d: %w", f.Table, f.Index, err))
	}
	if fi.Size() != f.Size {
		return sdk.Retryable(fmt.Errorf("spool file of %s file %d has %d bytes, expected %d", f.Table, f.Index, fi.Size(), f.Size))
	}
	return sdk.CopyVerified(ctx, io.Discard, io.NewSectionReader(file, 0, f.Size), f)
}

// Commit writes receipt.json, with one PutObject and the same headers as
// the data files, once the manifest matches what was delivered. It never
// replaces a receipt this process wrote for a later dump.
func (e *export) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	if err := ctx.Err(); err != nil {
		return sdk.Receipt{}, err
	}
	e.mu.Lock()
	err := e.checkManifest(m)
	e.mu.Unlock()
	if err != nil {
		return sdk.Receipt{}, err
	}

	body := e.d.layout.NewReceipt(e.info.Time, m).Marshal()
	key := e.d.layout.ReceiptKey()
	sum := sha256.Sum256(body)

	e.d.commitMu.Lock()
	defer e.d.commitMu.Unlock()
	if e.d.lastReceipt.After(e.info.Time) {
		return sdk.Receipt{}, sdk.Permanent(fmt.Errorf("a later dump (%s) is already committed; its receipt stays",
			e.d.lastReceipt.UTC().Format(time.RFC3339Nano)))
	}
	if err := e.putManifest(ctx, m); err != nil {
		return sdk.Receipt{}, err
	}
	obj := object{key: key, body: bytes.NewReader(body), size: int64(len(body)), sha256: sum[:], contentType: receiptContentType}
	if err := e.d.put(ctx, e.creds, obj); err != nil {
		return sdk.Receipt{}, err
	}
	e.d.lastReceipt = e.info.Time
	e.mu.Lock()
	e.state = stateCommitted
	e.mu.Unlock()

	files := 0
	for _, t := range m.Tables {
		files += t.Files
	}
	e.log.Info("dump committed", "receipt", "s3://"+e.d.s.Bucket+"/"+key, "tables", len(m.Tables), "files", files)
	return sdk.Receipt{Location: "s3://" + e.d.s.Bucket + "/" + key, Body: body}, nil
}

// putManifest stores the dump's _manifest.json, when the destination
// asks for one: one more PutObject, after every data file and before the
// receipt, with the same headers.
func (e *export) putManifest(ctx context.Context, m sdk.Manifest) error {
	if !e.d.s.Manifest {
		return nil
	}
	body, err := e.d.layout.ManifestBody(e.info, m)
	if err != nil || body == nil {
		return err
	}
	sum := sha256.Sum256(body)
	key := e.d.layout.ManifestKey(e.info.Time)
	if err := e.d.put(ctx, e.creds, object{key: key, body: bytes.NewReader(body), size: int64(len(body)), sha256: sum[:], contentType: receiptContentType}); err != nil {
		return fmt.Errorf("put manifest: %w", err)
	}
	return nil
}

// checkManifest refuses a commit unless the export is open and every file
// the manifest names, and no other, was delivered. e.mu is held.
func (e *export) checkManifest(m sdk.Manifest) error {
	if e.state != stateOpen {
		return sdk.Permanent(errors.New("export is already committed or aborted"))
	}
	named := map[string]bool{}
	for _, t := range m.Tables {
		if !t.Carried.IsZero() && !named[t.Name] {
			named[t.Name] = true // the SDK guard checked it: files of an earlier dump
			continue
		}
		switch {
		case !e.tables[t.Name]:
			return sdk.Permanent(fmt.Errorf("commit refused: manifest names table %q, which is not part of this export", t.Name))
		case named[t.Name]:
			return sdk.Permanent(fmt.Errorf("commit refused: manifest names table %q twice", t.Name))
		case t.Files < 1:
			return sdk.Permanent(fmt.Errorf("commit refused: table %s has no files (an empty table still has one)", t.Name))
		}
		named[t.Name] = true
		if e.info.Recommit {
			continue // an earlier attempt delivered the files
		}
		got := e.delivered[t.Name]
		for i := 0; i < t.Files; i++ {
			if !got[i] {
				return sdk.Permanent(fmt.Errorf("commit refused: table %s file %d of %d was never delivered", t.Name, i, t.Files))
			}
		}
		if len(got) != t.Files {
			return sdk.Permanent(fmt.Errorf("commit refused: table %s has %d files delivered but the manifest names %d", t.Name, len(got), t.Files))
		}
	}
	for _, t := range e.info.Tables {
		if !named[t] {
			return sdk.Permanent(fmt.Errorf("commit refused: manifest omits table %s", t))
		}
	}
	return nil
}

// Abort gives the export up. Every file went up in one PutObject, so no
// multipart upload is left to release; the files stay for the customer's
// lifecycle rule, unreferenced by any receipt. Abort is safe to call more
// than once and after Commit, which it leaves in place.
func (e *export) Abort(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.state == stateOpen {
		e.state = stateAborted
		e.log.Info("export aborted")
	}
	return nil
}
