package profile

import (
	"os"
	"path/filepath"
)

// WriteFileAtomic writes data to path so that path holds either its old
// content or all of data, never a part: a temporary file in the same
// directory (rename is atomic only within one file system), synced, then
// renamed over path. An existing file's permission bits are kept, so an
// in-place merge does not change them; a new file gets 0644.
//
// A character device or a FIFO (-o /dev/stdout, -o /dev/full, a named
// pipe) is written in place with one write of the finished data: renaming
// over it would replace the device node with a regular file (as root, in
// /dev), and its reader would never see the data.
func WriteFileAtomic(path string, data []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	perm := os.FileMode(0o644)
	if fi, err := os.Stat(path); err == nil {
		if fi.Mode()&(os.ModeCharDevice|os.ModeNamedPipe) != 0 {
			return writeInPlace(path, data)
		}
		if !fi.Mode().IsRegular() {
			return &os.PathError{Op: "write", Path: path, Err: errNotRegular}
		}
		perm = fi.Mode().Perm()
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// writeInPlace writes data to an existing device or FIFO; O_CREATE is
// left out so a path that stopped being one is not created as a file.
func writeInPlace(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type notRegular struct{}

func (notRegular) Error() string { return "not a regular file" }

var errNotRegular error = notRegular{}
