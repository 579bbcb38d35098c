package sdk

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
)

// CopyVerified copies a spool file's bytes from src to dst (io.Discard to
// only check them) and fails unless they are exactly f.Size bytes whose
// SHA-256 is f.SHA256: a destination must never deliver bytes other than
// the ones the daemon encoded. It stops when ctx is done. A mismatch is a
// retryable error: encoding again produces a sound file.
func CopyVerified(ctx context.Context, dst io.Writer, src io.Reader, f File) error {
	h := sha256.New()
	// A small file is copied through a buffer of its size (one read takes
	// it, the next sees its end); a large one through a pooled buffer.
	// Allocating and zeroing a megabyte per file was most of a small
	// export's cost in a plugin.
	var buf []byte
	if f.Size < pooledCopyBuffer {
		buf = make([]byte, max(f.Size+1, 512))
	} else {
		p := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(p)
		buf = *p
	}
	n, err := io.CopyBuffer(io.MultiWriter(dst, h), ctxReader{ctx, src}, buf)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return Retryable(fmt.Errorf("copy %s file %d: %w", f.Table, f.Index, err))
	}
	if n != f.Size {
		return Retryable(fmt.Errorf("spool file of %s file %d has %d bytes, expected %d", f.Table, f.Index, n, f.Size))
	}
	if sum := h.Sum(nil); !bytes.Equal(sum, f.SHA256) {
		return Retryable(fmt.Errorf("spool file of %s file %d has SHA-256 %x, expected %x", f.Table, f.Index, sum, f.SHA256))
	}
	return nil
}

// Files of pooledCopyBuffer bytes or more are copied through a buffer of
// copyBufferSize from copyBuffers.
const (
	pooledCopyBuffer = 64 << 10
	copyBufferSize   = 1 << 20
)

var copyBuffers = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

// ctxReader stops a copy once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
