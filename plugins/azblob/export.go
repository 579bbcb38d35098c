package azblob

import (
	"bytes"
	"context"
	"crypto/md5"
	"fmt"
	"log/slog"
	"time"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

// export is one dump on its way into the container. The SDK guards the
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
// computing the MD5 the service verifies, then uploads it. The daemon
// keeps files under the size the plugin declares.
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
	sum := md5.New()
	file, err := sdk.OpenVerified(ctx, f, sum)
	if err != nil {
		return err
	}
	defer file.Close()
	name := e.d.layout.FileKey(e.info.Time, f.Table, f.Index)
	if err := e.d.upload(ctx, name, file, f.Size, sum.Sum(nil), legacylayout.ParquetContentType); err != nil {
		return err
	}
	e.log.Debug("file delivered", "table", f.Table, "index", f.Index, "blob", name, "bytes", f.Size,
		"duration", time.Since(start).Round(time.Millisecond))
	return nil
}

// Commit writes receipt.json, replacing the previous dump's, unless this
// process already wrote the receipt of a later dump.
func (e *export) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	body := e.d.layout.NewReceipt(e.info.Time, m).Marshal()
	name := e.d.layout.ReceiptKey()
	sum := md5.Sum(body)
	if err := e.d.receipts.Write(ctx, e.info.Time, func(ctx context.Context) error {
		if err := e.putManifest(ctx, m); err != nil {
			return err
		}
		return e.d.upload(ctx, name, bytes.NewReader(body), int64(len(body)), sum[:], legacylayout.JSONContentType)
	}); err != nil {
		return sdk.Receipt{}, err
	}
	location := e.d.s.Endpoint + "/" + e.d.s.Container + "/" + name
	e.log.Info("dump committed", "receipt", location, "tables", len(m.Tables))
	return sdk.Receipt{Location: location, Body: body}, nil
}

// putManifest stores the dump's _manifest.json, when the destination asks
// for one: one more Put Blob, after every data file, before the receipt.
func (e *export) putManifest(ctx context.Context, m sdk.Manifest) error {
	if !e.d.s.Manifest {
		return nil
	}
	body, err := e.d.layout.ManifestBody(e.info, m)
	if err != nil || body == nil {
		return err
	}
	sum := md5.Sum(body)
	if err := e.d.upload(ctx, e.d.layout.ManifestKey(e.info.Time), bytes.NewReader(body), int64(len(body)), sum[:], legacylayout.JSONContentType); err != nil {
		return fmt.Errorf("store manifest: %w", err)
	}
	return nil
}

// Abort gives the export up. Every file went up in one Put Blob, so no
// uncommitted blocks are left; the files stay for the customer's lifecycle
// rule, unreferenced by any receipt.
func (e *export) Abort(context.Context) error {
	e.log.Info("export aborted")
	return nil
}
