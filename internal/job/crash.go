package job

import (
	"os"
	"syscall"
)

// Crash points for fault-injection tests. When the environment variable
// EXPORTD_TEST_CRASH names one, the process kills itself with SIGKILL the
// first time an export reaches it, exactly as kill -9 would. Tests use it
// to prove that a crash at any of these moments loses nothing and that no
// receipt ever names a partial dump. Unset, it costs a string comparison.
const (
	CrashWhileEncoding   = "encoding"   // a file is encoded, nothing delivered
	CrashWhileDelivering = "delivering" // a file is delivered, others are not
	CrashBeforeCommit    = "commit"     // every file is delivered, no receipt yet
	CrashAfterCommit     = "committed"  // the receipt is written, the daemon has not recorded it
)

var crashPoint = os.Getenv("EXPORTD_TEST_CRASH")

func crashAt(point string) {
	if crashPoint == point {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {} // never return into the export
	}
}
