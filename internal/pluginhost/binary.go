package pluginhost

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// ErrChecksumMismatch is returned when a pinned plugin binary does not
// hash to its pinned SHA-256.
var ErrChecksumMismatch = errors.New("plugin binary does not match its pinned sha256")

// ErrUnsafePermissions is returned when a plugin binary, or a directory
// above it, may be written by users other than its owner: any of them
// could replace the plugin, which runs with the daemon's privileges and
// sees customers' data.
var ErrUnsafePermissions = errors.New("plugin binary could be replaced by other users")

// openBinary opens the plugin executable at path once and checks it: the
// file and every directory above it (the link's and the target's, when
// path is a symbolic link) must not be writable by group or others, and
// the file must hash to pin unless pin is empty. The caller starts the
// plugin from the returned file, so that what runs is what was checked.
func openBinary(path, pin string) (*os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNotInstalled, err)
	}
	if err := checkBinary(f, path, pin); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

func checkBinary(f *os.File, path, pin string) error {
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("%w: %s is not an executable file", ErrNotInstalled, path)
	}
	if err := notWritableByOthers(path, st); err != nil {
		return err
	}
	dirs := []string{filepath.Dir(path)}
	if real, err := filepath.EvalSymlinks(path); err == nil && real != path {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, dir := range dirs {
		if err := checkDirs(dir); err != nil {
			return err
		}
	}
	if pin != "" {
		return verify(f, path, pin)
	}
	return nil
}

// checkDirs checks dir and each directory above it. A directory writable
// by others but sticky (/tmp) is accepted: there, no one may rename or
// remove another user's entries.
func checkDirs(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	for {
		st, err := os.Stat(dir)
		if err != nil {
			return fmt.Errorf("stat %s: %w", dir, err)
		}
		if st.Mode()&fs.ModeSticky == 0 {
			if err := notWritableByOthers(dir, st); err != nil {
				return err
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}

func notWritableByOthers(path string, st fs.FileInfo) error {
	if st.Mode().Perm()&0o022 == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s is writable by group or others (mode %v); run chmod go-w %s",
		ErrUnsafePermissions, path, st.Mode(), path)
}

// verify hashes the open file f and compares it with the pinned digest.
func verify(f *os.File, path, want string) error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return fmt.Errorf("hash %s: %w", path, err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want {
		return fmt.Errorf("%w: %s has sha256 %s, the configuration pins %s", ErrChecksumMismatch, path, got, want)
	}
	return nil
}
