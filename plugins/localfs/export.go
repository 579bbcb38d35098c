package localfs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"github.com/exportd/exportd/sdk"
	"github.com/exportd/exportd/sdk/legacylayout"
)

type export struct {
	d    *destination
	info sdk.ExportInfo

	mu      sync.Mutex
	written []string // final paths of delivered files, for Abort
}

var _ sdk.Export = (*export)(nil)

// Put copies a spool file into its final place, verifying its digest.
func (e *export) Put(ctx context.Context, f sdk.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dst := e.d.path(e.d.layout.FileKey(e.info.Time, f.Table, f.Index))
	if err := e.d.writeAtomic(ctx, dst, func(w io.Writer) error {
		return copyVerified(ctx, w, f)
	}); err != nil {
		return fmt.Errorf("deliver %s file %d: %w", f.Table, f.Index, err)
	}
	e.mu.Lock()
	e.written = append(e.written, dst)
	e.mu.Unlock()
	return nil
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
func (e *export) Commit(ctx context.Context, m sdk.Manifest) (sdk.Receipt, error) {
	key := e.d.layout.ReceiptKey()
	path := e.d.path(key)
	if prev, err := os.ReadFile(path); err == nil {
		if _, t, err := legacylayout.ParseReceipt(prev); err == nil && t.After(e.info.Time) {
			return sdk.Receipt{}, sdk.Permanent(fmt.Errorf("%s names a newer dump (%s) than this one (%s); receipts never go back in time",
				path, t.Format(legacylayout.TimestampFormat), e.info.Time.Format(legacylayout.TimestampFormat)))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return sdk.Receipt{}, fmt.Errorf("read previous receipt: %w", err)
	}
	body := e.d.layout.NewReceipt(e.info.Time, m).Marshal()
	if err := e.d.writeAtomic(ctx, path, func(w io.Writer) error {
		_, err := w.Write(body)
		return err
	}); err != nil {
		return sdk.Receipt{}, fmt.Errorf("write receipt: %w", err)
	}
	return sdk.Receipt{Location: path, Body: body}, nil
}

// Abort removes the files this export delivered and the folders it left
// empty: unlike a bucket, a local folder is ours to tidy.
func (e *export) Abort(context.Context) error {
	e.mu.Lock()
	written := e.written
	e.written = nil
	e.mu.Unlock()
	var errs []error
	dirs := map[string]bool{}
	for _, p := range written {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
		dirs[filepath.Dir(p)] = true
	}
	for dir := range dirs {
		os.Remove(dir) // fails harmlessly unless empty
	}
	if len(written) > 0 {
		os.Remove(e.d.path(e.d.layout.DumpPrefix(e.info.Time)))
	}
	return errors.Join(errs...)
}

// writeAtomic writes a file through fill under a hidden temporary name in
// the final directory, syncs it, and renames it to path.
func (d *destination) writeAtomic(ctx context.Context, path string, fill func(io.Writer) error) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return sdk.Retryable(err)
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return sdk.Retryable(err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if err := fill(tmp); err != nil {
		return err
	}
	if d.fsync {
		if err := tmp.Sync(); err != nil {
			return sdk.Retryable(err)
		}
	}
	if err := tmp.Chmod(0o644); err != nil {
		return sdk.Retryable(err)
	}
	if err := tmp.Close(); err != nil {
		return sdk.Retryable(err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return sdk.Retryable(err)
	}
	done = true
	if d.fsync {
		return syncDir(dir)
	}
	return nil
}

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return sdk.Retryable(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return sdk.Retryable(err)
	}
	return nil
}
