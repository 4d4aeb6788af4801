//go:build !linux

package safetensors

// adviseHugePages does nothing where transparent huge pages cannot be asked for.
func adviseHugePages([]byte) {}
