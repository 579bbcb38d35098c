package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"sync"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

type export struct {
	d    *destination
	info sdk.ExportInfo

	mu      sync.Mutex
	written []string // keys of files placed, for Abort
	// dump is the export's minute folder, opened (and made) by the first
	// Put and closed by Commit or Abort: each file is then placed from it,
	// without walking down from the root again.
	dump    *os.File
	users   int  // Puts using dump
	closing bool // dump is closed by its last user
}

var _ sdk.Export = (*export)(nil)

// Put copies a spool file into its final place, verifying its digest.
func (e *export) Put(ctx context.Context, f sdk.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	key := e.d.layout.FileKey(e.info.Time, f.Table, f.Index)
	prefix := e.d.layout.DumpPrefix(e.info.Time)
	dump, err := e.dumpDir(prefix)
	if err != nil {
		return fmt.Errorf("deliver %s file %d: %w", f.Table, f.Index, err)
	}
	defer e.doneWithDump()
	placed, err := e.d.tree.writeIn(ctx, dump, prefix, strings.TrimPrefix(key, prefix+"/"), func(w io.Writer) error {
		return copyVerified(ctx, w, f)
	})
	if placed {
		// Even if its directory could not be synced: Abort must find it.
		e.mu.Lock()
		e.written = append(e.written, key)
		e.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("deliver %s file %d: %w", f.Table, f.Index, err)
	}
	return nil
}

// dumpDir opens the export's minute folder, making it if need be, once,
// for a Put that calls doneWithDump when it is done with it. A failure is
// retried by the next Put.
func (e *export) dumpDir(prefix string) (*os.File, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closing {
		return nil, sdk.Permanent(errors.New("the export is over"))
	}
	if e.dump == nil {
		var err error
		if e.dump, err = e.d.tree.openDir(prefix, true); err != nil {
			e.dump = nil
			return nil, err
		}
	}
	e.users++
	return e.dump, nil
}

func (e *export) doneWithDump() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.users--; e.users == 0 && e.closing && e.dump != nil {
		e.dump.Close()
		e.dump = nil
	}
}

// closeDump closes the minute folder once no Put uses it any more; a Put
// that comes later fails.
func (e *export) closeDump() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closing = true
	if e.users == 0 && e.dump != nil {
		e.dump.Close()
		e.dump = nil
	}
}

// copyVerified copies the spool file into w and fails, before anything is
// renamed into place, unless the bytes match what the daemon sent.
func copyVerified(ctx context.Context, w io.Writer, f sdk.File) error {
	src, err := os.Open(f.Path)
	if err != nil {
		return sdk.Retryable(fmt.Errorf("open spool file: %w", err))
	}
	defer src.Close()
	return sdk.CopyVerified(ctx, w, src, f)
}

// Commit writes receipt.json, refusing to replace a newer dump's receipt.
// Once the receipt is renamed into place the dump is committed: consumers
// may already have read it, so Commit succeeds even if the directory
// cannot be synced afterwards (the rename may then not survive a power
// loss, which leaves the previous receipt, naming a complete dump).
func (e *export) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	e.closeDump()
	key := e.d.layout.ReceiptKey()
	path := e.d.tree.full(key)
	e.d.commitMu.Lock()
	defer e.d.commitMu.Unlock()
	if prev, err := e.d.tree.read(key); err == nil {
		if _, t, err := legacylayout.ParseReceipt(prev); err == nil && t.After(e.info.Time) {
			return sdk.Receipt{}, sdk.Permanent(fmt.Errorf("%s names a newer dump (%s) than this one (%s); receipts never go back in time",
				path, t.Format(legacylayout.TimestampFormat), e.info.Time.Format(legacylayout.TimestampFormat)))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return sdk.Receipt{}, fmt.Errorf("read previous receipt: %w", err)
	}
	if err := e.writeManifest(ctx, m); err != nil {
		return sdk.Receipt{}, err
	}
	body := e.d.layout.NewReceipt(e.info.Time, m).Marshal()
	placed, err := e.d.tree.write(ctx, key, func(w io.Writer) error {
		_, err := w.Write(body)
		return err
	})
	if err != nil && !placed {
		return sdk.Receipt{}, fmt.Errorf("write receipt: %w", err)
	}
	if err != nil {
		e.d.log.Warn("receipt is in place but may not survive a power loss", "receipt", path, "error", err)
	}
	return sdk.Receipt{Location: path, Body: body}, nil
}

// writeManifest writes the dump's _manifest.json, when the destination
// asks for one: after every data file, before the receipt.
func (e *export) writeManifest(ctx context.Context, m sdk.Manifest) error {
	if !e.d.manifest {
		return nil
	}
	body, err := e.d.layout.ManifestBody(e.info, m)
	if err != nil || body == nil {
		return err
	}
	key := e.d.layout.ManifestKey(e.info.Time)
	placed, err := e.d.tree.write(ctx, key, func(w io.Writer) error {
		_, err := w.Write(body)
		return err
	})
	if placed && !e.info.Recommit {
		// A recommit's manifest is the crashed attempt's too: Abort leaves it.
		e.mu.Lock()
		e.written = append(e.written, key)
		e.mu.Unlock()
	}
	if err != nil {
		return fmt.Errorf("write manifest: %w", err)
	}
	return nil
}

// Abort removes the files this export delivered and the folders it left
// empty: unlike a bucket, a local folder is ours to tidy.
func (e *export) Abort(context.Context) error {
	e.closeDump()
	e.mu.Lock()
	written := e.written
	e.written = nil
	e.mu.Unlock()
	var errs []error
	dirs := map[string]bool{}
	for _, key := range written {
		if err := e.d.tree.remove(key); err != nil {
			errs = append(errs, err)
		}
		dir, _ := splitKey(key)
		dirs[dir] = true
	}
	for dir := range dirs {
		e.d.tree.removeEmptyDir(dir)
	}
	if len(written) > 0 {
		e.d.tree.removeEmptyDir(e.d.layout.DumpPrefix(e.info.Time))
	}
	return errors.Join(errs...)
}
