// Package atomicfile writes files so that readers see the old file or the complete new one, never a part:
// the content goes to a uniquely named temporary file beside the target, which is renamed over it.
package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
)

// Write writes path through a uniquely named "<path>.<random>.tmp": fill writes the content, the
// file is flushed, fsynced (unless noSync), closed and renamed over path. On any error the temp file is
// removed and path is left untouched. Concurrent writers of the same path never share a temp file.
func Write(path string, noSync bool, fill func(w io.Writer) error) (err error) {
	f, err := CreateTemp(filepath.Dir(path), filepath.Base(path))
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
	bw := bufio.NewWriterSize(f, 1<<16)
	if err = fill(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if !noSync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if !noSync {
		SyncDir(filepath.Dir(path))
	}
	return nil
}

// CreateTemp creates "<dir>/<base>.<random>.tmp", new, with mode 0644 (less the umask, as os.Create)
// in one system call (os.CreateTemp makes 0600 files, which would need a chmod).
func CreateTemp(dir, base string) (*os.File, error) {
	for try := 0; ; try++ {
		p := filepath.Join(dir, base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) && try < 100 {
			continue
		}
		return f, err
	}
}

// SyncDir makes a rename durable where the platform allows it; failures are ignored (best effort:
// some file systems refuse fsync on directories).
func SyncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	d.Close()
}
