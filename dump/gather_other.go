//go:build !linux

package dump

import "os"

// writeVec writes the pieces of vec in order, one write each.
func writeVec(f *os.File, vec [][]byte) error {
	for _, p := range vec {
		if _, err := f.Write(p); err != nil {
			return err
		}
	}
	return nil
}
