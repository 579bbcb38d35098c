package sdk

import (
	"context"
	"fmt"
	"io"
	"os"
)

// OpenVerified opens the spool file of f, reads it once through
// [CopyVerified], feeding every byte to each of sums (the checksums the
// store wants with the upload: CRC32C, MD5...), and returns the file
// rewound to its start, ready to upload. It fails unless the bytes are
// exactly f.Size bytes with SHA-256 f.SHA256; errors are retryable (see
// CopyVerified). The caller closes the file.
func OpenVerified(ctx context.Context, f File, sums ...io.Writer) (*os.File, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, Retryable(fmt.Errorf("open spool file of %s file %d: %w", f.Table, f.Index, err))
	}
	var dst io.Writer = io.Discard
	if len(sums) > 0 {
		dst = io.MultiWriter(sums...)
	}
	if err := CopyVerified(ctx, dst, file, f); err != nil {
		file.Close()
		return nil, err
	}
	if _, err := file.Seek(0, io.SeekStart); err != nil {
		file.Close()
		return nil, Retryable(fmt.Errorf("rewind spool file of %s file %d: %w", f.Table, f.Index, err))
	}
	return file, nil
}
