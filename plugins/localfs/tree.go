package localfs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/exportd/exportd/sdk"
)

// tree is a destination's directory tree. The root is the operator's
// choice and may itself be reached through symbolic links; below it,
// every directory and file is opened relative to its parent's descriptor
// with O_NOFOLLOW, so a symbolic link planted inside the tree is an error
// and never leads a write, a read or a removal elsewhere.
type tree struct {
	root     string
	fileMode os.FileMode
	dirMode  os.FileMode
	fsync    bool
	// syncDir makes a directory's entries durable; replaced in tests to
	// make it fail, which real file systems do only on I/O errors.
	syncDir func(*os.File) error
}

func syncFile(f *os.File) error { return f.Sync() }

// full is the path of rel (slash-separated, relative to the root), for
// messages.
func (t *tree) full(rel string) string {
	return filepath.Join(t.root, filepath.FromSlash(rel))
}

// openRoot opens the root directory, creating it (and its parents) when
// create is set.
func (t *tree) openRoot(create bool) (*os.File, error) {
	fd, err := unix.Open(t.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) && create {
		if err := os.MkdirAll(t.root, t.dirMode); err != nil {
			return nil, sdk.Retryable(fmt.Errorf("create %s: %w", t.root, err))
		}
		if err := os.Chmod(t.root, t.dirMode); err != nil {
			return nil, sdk.Retryable(fmt.Errorf("set the mode of %s: %w", t.root, err))
		}
		fd, err = unix.Open(t.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	}
	if err != nil {
		return nil, pathError("open", t.root, err)
	}
	return os.NewFile(uintptr(fd), t.root), nil
}

// openDir opens the directory rel below the root, one segment at a time
// without following symbolic links, creating missing directories with the
// tree's directory mode when create is set.
func (t *tree) openDir(rel string, create bool) (*os.File, error) {
	return t.openDirIn(nil, "", rel, create)
}

// openDirIn opens the directory rel below base, an open directory whose
// key below the root is baseKey (nil: the root), as openDir does. base
// stays open; the directory returned is the caller's to close, and is
// base itself only when rel is empty and base nil (the root).
func (t *tree) openDirIn(base *os.File, baseKey, rel string, create bool) (*os.File, error) {
	dir := base
	if dir == nil {
		var err error
		if dir, err = t.openRoot(create); err != nil {
			return nil, err
		}
	}
	walked := baseKey
	for _, name := range strings.Split(rel, "/") {
		if name == "" {
			continue
		}
		if err := checkSegment(name); err != nil {
			if dir != base {
				dir.Close()
			}
			return nil, err
		}
		walked = path.Join(walked, name)
		next, err := t.openChild(dir, name, walked, create)
		if dir != base {
			dir.Close()
		}
		if err != nil {
			return nil, err
		}
		dir = next
	}
	if dir == base {
		// rel named base itself: a descriptor of its own for the caller.
		fd, err := unix.Dup(int(base.Fd()))
		if err != nil {
			return nil, pathError("open", t.full(baseKey), err)
		}
		return os.NewFile(uintptr(fd), base.Name()), nil
	}
	return dir, nil
}

// openChild opens the directory name in parent, creating it if asked.
// walked is its path below the root, for messages.
func (t *tree) openChild(parent *os.File, name, walked string, create bool) (*os.File, error) {
	const flags = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	pfd := int(parent.Fd())
	fd, err := unix.Openat(pfd, name, flags, 0)
	if errors.Is(err, unix.ENOENT) && create {
		err = unix.Mkdirat(pfd, name, uint32(t.dirMode))
		switch {
		case err == nil:
			fd, err = unix.Openat(pfd, name, flags, 0)
			if err == nil {
				// Mkdirat is subject to the umask; the mode is the operator's.
				if cerr := unix.Fchmod(fd, uint32(t.dirMode)); cerr != nil {
					unix.Close(fd)
					return nil, pathError("set the mode of", t.full(walked), cerr)
				}
			}
		case errors.Is(err, unix.EEXIST): // another Put created it meanwhile
			fd, err = unix.Openat(pfd, name, flags, 0)
		}
	}
	if err != nil {
		return nil, t.explain(pfd, name, walked, err)
	}
	return os.NewFile(uintptr(fd), t.full(walked)), nil
}

// explain turns the failure to open name in the directory pfd into an
// error that says what is in the way.
func (t *tree) explain(pfd int, name, walked string, err error) error {
	if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.EMLINK) {
		var st unix.Stat_t
		if unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil {
			switch st.Mode & unix.S_IFMT {
			case unix.S_IFLNK:
				return sdk.ConfigError("path", fmt.Errorf("%s is a symbolic link: localfs follows none below its path; remove it", t.full(walked)))
			case unix.S_IFDIR:
			default:
				return sdk.ConfigError("path", fmt.Errorf("%s is in the way: it is not a directory", t.full(walked)))
			}
		}
	}
	return pathError("open", t.full(walked), err)
}

// pathError wraps a system call's failure; a missing file stays
// recognisable as fs.ErrNotExist.
func pathError(op, p string, err error) error {
	err = &fs.PathError{Op: op, Path: p, Err: err}
	if errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return sdk.Retryable(err)
}

// checkSegment refuses a path segment that would not name an entry of
// its directory: "..", above all, would lead out of the tree.
func checkSegment(name string) error {
	if name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
		return sdk.Permanent(fmt.Errorf("%q cannot be a file or folder name", name))
	}
	return nil
}

// splitKey splits a key of the layout into its directory and file name.
func splitKey(key string) (dir, name string) {
	i := strings.LastIndexByte(key, '/')
	if i < 0 {
		return "", key
	}
	return key[:i], key[i+1:]
}

// write writes the file key through fill under a hidden temporary name in
// its final directory, syncs it, gives it the tree's file mode and renames
// it into place, then syncs the directory. placed reports whether the
// file is in place, which it may be even when err says that the
// directory could not be synced.
func (t *tree) write(ctx context.Context, key string, fill func(io.Writer) error) (placed bool, err error) {
	return t.writeIn(ctx, nil, "", key, fill)
}

// writeIn is write of the file rel below base, an open directory whose
// key is baseKey (nil: the root).
func (t *tree) writeIn(ctx context.Context, base *os.File, baseKey, rel string, fill func(io.Writer) error) (placed bool, err error) {
	dirRel, name := splitKey(rel)
	if err := checkSegment(name); err != nil {
		return false, err
	}
	dir, err := t.openDirIn(base, baseKey, dirRel, true)
	if err != nil {
		return false, err
	}
	defer dir.Close()
	dirKey := path.Join(baseKey, dirRel)
	key := path.Join(dirKey, name)
	dfd := int(dir.Fd())
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	tmpName := "." + name + ".tmp-" + hex.EncodeToString(rnd[:])
	fd, err := unix.Openat(dfd, tmpName, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return false, pathError("create", t.full(path.Join(dirKey, tmpName)), err)
	}
	tmp := os.NewFile(uintptr(fd), t.full(path.Join(dirKey, tmpName)))
	defer func() {
		if !placed {
			tmp.Close()
			_ = unix.Unlinkat(dfd, tmpName, 0)
		}
	}()
	if err := fill(tmp); err != nil {
		return false, err
	}
	if t.fsync {
		if err := tmp.Sync(); err != nil {
			return false, sdk.Retryable(err)
		}
	}
	if err := tmp.Chmod(t.fileMode); err != nil {
		return false, sdk.Retryable(err)
	}
	if err := tmp.Close(); err != nil {
		return false, sdk.Retryable(err)
	}
	if err := ctx.Err(); err != nil {
		return false, err
	}
	// Renaming onto a symbolic link replaces the link; it never writes
	// through it.
	if err := unix.Renameat(dfd, tmpName, dfd, name); err != nil {
		return false, t.explain(dfd, name, key, err)
	}
	placed = true
	if t.fsync {
		if err := t.syncDir(dir); err != nil {
			return true, sdk.Retryable(fmt.Errorf("sync directory %s: %w", dir.Name(), err))
		}
	}
	return true, nil
}

// read returns the contents of the file key, or an error wrapping
// fs.ErrNotExist when there is none.
func (t *tree) read(key string) ([]byte, error) {
	dirKey, name := splitKey(key)
	dir, err := t.openDir(dirKey, false)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EMLINK) {
			return nil, t.explain(int(dir.Fd()), name, key, err)
		}
		return nil, pathError("open", t.full(key), err)
	}
	f := os.NewFile(uintptr(fd), t.full(key))
	defer f.Close()
	return io.ReadAll(f)
}

// remove removes the file key; a missing file is not an error.
func (t *tree) remove(key string) error {
	dirKey, name := splitKey(key)
	dir, err := t.openDir(dirKey, false)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer dir.Close()
	if err := unix.Unlinkat(int(dir.Fd()), name, 0); err != nil && !errors.Is(err, unix.ENOENT) {
		return pathError("remove", t.full(key), err)
	}
	return nil
}

// removeEmptyDir removes the directory key if it is empty, and does
// nothing otherwise.
func (t *tree) removeEmptyDir(key string) {
	dirKey, name := splitKey(key)
	dir, err := t.openDir(dirKey, false)
	if err != nil {
		return
	}
	defer dir.Close()
	_ = unix.Unlinkat(int(dir.Fd()), name, unix.AT_REMOVEDIR)
}
