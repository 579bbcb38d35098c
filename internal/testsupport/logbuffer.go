package testsupport

import (
	"bytes"
	"sync"
)

// LogBuffer collects output written from several goroutines, such as a
// process's stdout and stderr or a logger's, and reads it back whole.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *LogBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
