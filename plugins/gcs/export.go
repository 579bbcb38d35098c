package gcs

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"hash/crc32"
	"log/slog"
	"net/http"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// export is one dump on its way into the bucket. The SDK guards the
// protocol around it (files belong to the export's tables, Commit names
// exactly the files that were Put, nothing follows Commit or Abort).
type export struct {
	d    *destination
	info sdk.ExportInfo
	log  *slog.Logger
}

var _ sdk.Export = (*export)(nil)

func newExport(d *destination, info sdk.ExportInfo) *export {
	return &export{
		d:    d,
		info: info,
		log: d.log.With("account", info.Account, "run_id", info.RunID, "export_id", info.ID,
			"dump", d.layout.DumpPrefix(info.Time)),
	}
}

// Put verifies the spool file against the digest the daemon sent while
// computing the checksums Cloud Storage verifies, then uploads it. The
// daemon keeps files under the size the plugin declares.
func (e *export) Put(ctx context.Context, f sdk.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	release, err := e.d.acquire(ctx)
	if err != nil {
		return err
	}
	defer release()

	start := time.Now()
	crc, sum := crc32.New(castagnoli), md5.New()
	file, err := sdk.OpenVerified(ctx, f, crc, sum)
	if err != nil {
		return err
	}
	defer file.Close()
	name := e.d.layout.FileKey(e.info.Time, f.Table, f.Index)
	o := object{name: name, body: file, size: f.Size, crc32c: crc.Sum32(), md5: sum.Sum(nil),
		contentType: legacylayout.ParquetContentType, createOnly: true}
	if err := e.d.upload(ctx, o); err != nil {
		return err
	}
	e.log.Debug("file delivered", "table", f.Table, "index", f.Index, "object", name, "bytes", f.Size,
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// Commit writes receipt.json, replacing the previous dump's, unless this
// process already wrote the receipt of a later dump.
func (e *export) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	body := e.d.layout.NewReceipt(e.info.Time, m).Marshal()
	name := e.d.layout.ReceiptKey()
	sum := md5.Sum(body)
	o := object{name: name, body: bytes.NewReader(body), size: int64(len(body)),
		crc32c: crc32.Checksum(body, castagnoli), md5: sum[:], contentType: legacylayout.JSONContentType}
	if err := e.d.receipts.Write(ctx, e.info.Time, func(ctx context.Context) error {
		if err := e.putManifest(ctx, m); err != nil {
			return err
		}
		return e.d.upload(ctx, o)
	}); err != nil {
		return sdk.Receipt{}, err
	}
	location := "gs://" + e.d.s.Bucket + "/" + name
	e.log.Info("dump committed", "receipt", location, "tables", len(m.Tables))
	return sdk.Receipt{Location: location, Body: body}, nil
}

// putManifest stores the dump's _manifest.json, when the destination asks
// for one: after every data file, before the receipt. It is created, never
// replaced (no delete permission is needed); on a recommit the crashed
// attempt may have stored it already, which is as good.
func (e *export) putManifest(ctx context.Context, m sdk.Manifest) error {
	if !e.d.s.Manifest {
		return nil
	}
	body, err := e.d.layout.ManifestBody(e.info, m)
	if err != nil || body == nil {
		return err
	}
	sum := md5.Sum(body)
	o := object{name: e.d.layout.ManifestKey(e.info.Time), body: bytes.NewReader(body), size: int64(len(body)),
		crc32c: crc32.Checksum(body, castagnoli), md5: sum[:], contentType: legacylayout.JSONContentType, createOnly: true}
	err = e.d.upload(ctx, o)
	if err != nil && e.info.Recommit && httpCode(err) == http.StatusPreconditionFailed {
		e.log.Info("manifest already stored by the attempt being recommitted", "object", o.name)
		return nil
	}
	if err != nil {
		return fmt.Errorf("store manifest: %w", err)
	}
	return nil
}

// Abort gives the export up. Every file went up in one request, so there
// is no upload session to cancel; the files stay for the customer's
// lifecycle rule, unreferenced by any receipt.
func (e *export) Abort(context.Context) error {
	e.log.Info("export aborted")
	return nil
}
