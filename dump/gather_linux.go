package dump

import (
	"errors"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// writeVec writes the pieces of vec in order with writev(2), resuming after a short write.
func writeVec(f *os.File, vec [][]byte) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var werr error
	cerr := rc.Write(func(fd uintptr) bool {
		for len(vec) > 0 {
			n, err := unix.Writev(int(fd), vec)
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			if err != nil {
				werr = err
				return true
			}
			if n == 0 {
				werr = io.ErrShortWrite
				return true
			}
			for n > 0 { // drop what was written (n ≤ the bytes left)
				if n >= len(vec[0]) {
					n -= len(vec[0])
					vec = vec[1:]
				} else {
					vec[0] = vec[0][n:]
					n = 0
				}
			}
		}
		return true
	})
	if werr != nil {
		return &os.PathError{Op: "writev", Path: f.Name(), Err: werr}
	}
	return cerr
}
