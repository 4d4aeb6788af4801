package dump

import (
	"fmt"
	"io"

	"github.com/qnext/qnext/internal/atomicfile"
)

// errorf prefixes an error with the file it concerns.
func errorf(path string, format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{path}, args...)...)
}

// WriteFileAtomic writes data to path through a temp file with fsync and rename, so readers see either
// the old file or the complete new one.
func WriteFileAtomic(path string, data []byte) error {
	if err := atomicfile.Write(path, false, func(w io.Writer) error { _, err := w.Write(data); return err }); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
