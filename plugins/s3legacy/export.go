package s3legacy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// export is one dump on its way into the bucket. The SDK guards the
// protocol around it (files belong to the export's tables, Commit names
// exactly the files that were Put, nothing follows Commit or Abort).
type export struct {
	d     *destination
	info  sdk.ExportInfo
	creds aws.CredentialsProvider
	log   *slog.Logger

	mu sync.Mutex
	// broken is the first configuration error a Put met. Every later Put
	// returns it at once: a denied role is reported once, not per file.
	broken error
}

var _ sdk.Export = (*export)(nil)

func newExport(d *destination, info sdk.ExportInfo, session string) *export {
	return &export{
		d:     d,
		info:  info,
		creds: d.sessions.provider(session),
		log: d.log.With("account", info.Account, "run_id", info.RunID, "export_id", info.ID,
			"dump", d.layout.DumpPrefix(info.Time)),
	}
}

func (e *export) brokenErr() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.broken
}

// Put verifies the spool file against the digest the daemon sent and
// stores it with one PutObject. The daemon keeps files under S3's limit
// for one PutObject, which the plugin declares.
func (e *export) Put(ctx context.Context, f sdk.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := e.brokenErr(); err != nil {
		return err
	}
	release, err := e.d.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()

	start := time.Now()
	// Bytes that do not match the digest are never uploaded; the digest
	// then doubles as the upload's checksum.
	file, err := sdk.OpenVerified(ctx, f)
	if err != nil {
		return err
	}
	defer file.Close()
	key := e.d.layout.FileKey(e.info.Time, f.Table, f.Index)
	// A section reader is seekable, so every retry resends the same bytes.
	body := io.NewSectionReader(file, 0, f.Size)
	if err := e.d.put(ctx, e.creds, object{key: key, body: body, size: f.Size, sha256: f.SHA256, contentType: legacylayout.ParquetContentType}); err != nil {
		if sdk.KindOf(err) == sdk.KindConfiguration {
			e.mu.Lock()
			if e.broken == nil {
				e.broken = err
			}
			e.mu.Unlock()
		}
		return err
	}
	e.log.Debug("file delivered", "table", f.Table, "index", f.Index, "key", key, "bytes", f.Size,
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// Commit writes receipt.json, with one PutObject and the same headers as
// the data files. It never replaces a receipt this process wrote for a
// later dump.
func (e *export) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	body := e.d.layout.NewReceipt(e.info.Time, m).Marshal()
	key := e.d.layout.ReceiptKey()
	sum := sha256.Sum256(body)
	obj := object{key: key, body: bytes.NewReader(body), size: int64(len(body)), sha256: sum[:], contentType: legacylayout.JSONContentType}
	if err := e.d.receipts.Write(ctx, e.info.Time, func(ctx context.Context) error {
		if err := e.putManifest(ctx, m); err != nil {
			return err
		}
		return e.d.put(ctx, e.creds, obj)
	}); err != nil {
		return sdk.Receipt{}, err
	}
	files := 0
	for _, t := range m.Tables {
		files += t.Files
	}
	location := "s3://" + e.d.s.Bucket + "/" + key
	e.log.Info("dump committed", "receipt", location, "tables", len(m.Tables), "files", files)
	return sdk.Receipt{Location: location, Body: body}, nil
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
	if err := e.d.put(ctx, e.creds, object{key: key, body: bytes.NewReader(body), size: int64(len(body)), sha256: sum[:], contentType: legacylayout.JSONContentType}); err != nil {
		return fmt.Errorf("put manifest: %w", err)
	}
	return nil
}

// Abort gives the export up. Every file went up in one PutObject, so no
// multipart upload is left to release; the files stay for the customer's
// lifecycle rule, unreferenced by any receipt.
func (e *export) Abort(context.Context) error {
	e.log.Info("export aborted")
	return nil
}
