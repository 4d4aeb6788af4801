//go:build !linux

package mapfile

// adviseHugePages does nothing where transparent huge pages cannot be asked for.
func adviseHugePages([]byte) {}
